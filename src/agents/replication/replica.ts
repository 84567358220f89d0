/**
 * The replica's side of state replication: applies owners' deltas to this node's copy (ReplicaStore,
 * migration 7) in seq order, refuses any epoch lower than the highest it has seen (fencing), and
 * answers a new owner's fence with the copy, in one step.
 *
 * Rules, in the order `#applyOne` checks them:
 * 1. epoch < the copy's epoch → FENCED: a newer owner exists; the sender must stop acknowledging.
 * 2. a full snapshot → replaces the copy (unless it is an old one: same epoch, seq already held).
 * 3. an epoch higher than the copy's, or no copy → BEHIND (-1): a new owner starts with a snapshot.
 * 4. seq ≤ held → a duplicate (a retransmission): acknowledged again, not applied.
 * 5. seq > held + 1 → BEHIND (held): the owner resends from held + 1, or a snapshot.
 * 6. else applied.
 * Every post is applied in one transaction, committed before its acks are posted: an acknowledged
 * delta survives a kill -9 of the replica (synchronous=normal, WAL).
 */
import type { NodeName } from '../../cluster/peers.js';
import type { KvWrite, ReplicaStore, TimerWrite } from '../../storage/replica-store.js';
import { ACK_BEHIND, ACK_FENCED, ACK_OK, b64, unb64, type AckCode, type DeltasBody, type FenceReply, type WireDelta } from './protocol.js';

export class ReplicaSide {
  constructor(readonly store: ReplicaStore) {}

  /** Applies one `repl.deltas` post from `from`; returns the acks to post back (flat, see AcksBody). */
  apply(from: NodeName, body: DeltasBody, now = Date.now()): (string | number)[] {
    const acks: (string | number)[] = [];
    this.store.transaction(() => {
      for (const ad of body.b) {
        let code: AckCode = ACK_OK;
        let epoch = ad.e;
        let seq = -1;
        for (const d of ad.d) {
          [code, epoch, seq] = this.#applyOne(from, ad.a, ad.e, d, now);
          if (code !== ACK_OK) break; // the rest cannot apply either
        }
        acks.push(ad.a, epoch, seq, code);
      }
    });
    return acks;
  }

  #applyOne(from: NodeName, agent: string, epoch: number, d: WireDelta, now: number): [AckCode, number, number] {
    const head = this.store.head(agent);
    if (head !== undefined && epoch < head.epoch) return [ACK_FENCED, head.epoch, head.seq];
    if (d.f === 1) {
      if (head !== undefined && epoch === head.epoch && d.s <= head.seq) return [ACK_OK, epoch, head.seq];
    } else {
      if (head === undefined || epoch > head.epoch) return [ACK_BEHIND, epoch, -1];
      if (d.s <= head.seq) return [ACK_OK, epoch, head.seq];
      if (d.s > head.seq + 1) return [ACK_BEHIND, epoch, head.seq];
    }
    this.store.write(agent, decodeWrites(d.w), d.f === 1);
    if (d.m !== undefined && d.m !== '') this.store.addApplied(agent, d.m, d.s, now);
    this.store.setHead(agent, { owner: from, epoch, seq: d.s }, now);
    if (d.t !== undefined || d.f === 1) this.store.writeTimers(agent, decodeTimers(d.t ?? []), d.f === 1, d.l ?? 0);
    return [ACK_OK, epoch, d.s];
  }

  /**
   * A new owner (`from`) takes the agent over: the copy's epoch becomes max(asked, epoch + 1), so
   * every delta of the previous owner is refused from now on, and the copy as it stood is returned.
   */
  fence(from: NodeName, agent: string, atLeast: number, now = Date.now()): FenceReply {
    return this.store.transaction(() => {
      const head = this.store.head(agent);
      const epoch = Math.max(atLeast, (head?.epoch ?? 0) + 1);
      this.store.setHead(agent, { owner: from, epoch, seq: head?.seq ?? 0 }, now);
      return {
        epoch,
        priorEpoch: head?.epoch ?? 0,
        seq: head?.seq ?? 0,
        kv: this.store.kv(agent).map(([k, v]) => [b64(k), b64(v)] as [string, string]),
        timers: this.store.timers(agent),
        lastTimerId: this.store.timerLastId(agent),
        applied: this.store.applied(agent),
      };
    });
  }
}

function decodeTimers(t: readonly (number | string | null)[]): TimerWrite[] {
  const out: TimerWrite[] = [];
  for (let i = 0; i + 2 < t.length; i += 3) out.push([t[i] as number, t[i + 1] as number, t[i + 2] as string | null]);
  return out;
}

function decodeWrites(w: readonly (string | null)[]): KvWrite[] {
  const out: KvWrite[] = [];
  for (let i = 0; i + 1 < w.length; i += 2) {
    const v = w[i + 1];
    out.push([unb64(w[i] as string), v === null || v === undefined ? null : unb64(v)]);
  }
  return out;
}
