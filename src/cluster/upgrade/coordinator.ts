/**
 * `caxton cluster upgrade start|status|rollback` (docs/operations.md, "Upgrading Caxton"): the node
 * the CLI asks coordinates. It checks that every Caxton node runs under the supervisor with the
 * release installed, then moves one node at a time to it (a restart on that release: the node hands
 * its agents over as for `cluster leave`, stops, and its supervisor starts the new release), the
 * canary first and itself last. Each node must come back (an alive member announcing the version,
 * a new process, every agent that ran before running again, the placement settled) and then pass the
 * health gate for its watch (the canary for --canary-duration):
 *
 * - it stays an alive member, on the new version, in the same process (a crash restart or a
 *   supervisor going back to the old release fails the gate);
 * - its agents crash at most `maxCrashes` times during the watch;
 * - its agents' error rate (failed / handled messages) during the watch is at most its rate before
 *   the restart plus `maxErrorRateIncrease`, judged once `minMessages` were handled.
 *
 * A canary that fails is put back on the version it ran; a later node that fails halts the upgrade
 * (the canary proved the release, so the cause is more likely that node: the operator decides, and
 * `rollback` puts every upgraded node back). The plan is saved in the data dir of every node at each
 * change (./store.ts), so `status` answers anywhere, and the coordinator carries on after its own
 * restart, which is the last step.
 */
import { CaxtonError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { ViewMember } from '../../api/cluster-views.js';
import type { NodeRestart } from '../node-restart.js';
import type { NodeName, PeerBody, Peers } from '../peers.js';
import { currentStep, isActive, planRollback, planUpgrade, remainingMs, statusLines, stepBack, stepDone, stepFailed, stepRestarting, stopPlan, type NodeHealth, type NodeStep, type StatusLines, type UpgradePlan } from './plan.js';
import { normalizeVersion } from './releases.js';
import type { UpgradeStore } from './store.js';

/** Call and post kinds; only append (other nodes, of other releases, call them by name). */
export const UPGRADE_METHODS = {
  probe: 'upgrade.probe',
  status: 'upgrade.status',
  rollback: 'upgrade.rollback',
  /** Post: the coordinator's plan, kept by every node. */
  plan: 'upgrade.plan',
} as const;

/** What a node says about itself to the coordinator. */
export interface ProbeAnswer {
  readonly node: NodeName;
  readonly version: string;
  readonly started_at: string;
  /** The supervisor's releases directory; null: no supervisor, the node cannot change release. */
  readonly releases_dir: string | null;
  /** Complete releases installed there. */
  readonly installed: readonly string[];
  readonly health: NodeHealth;
}

export interface UpgradeTimings {
  /** Between two checks while a node comes back, ms. */
  readonly pollMs: number;
  /** The same placement this many checks in a row: settled. */
  readonly settlePolls: number;
  /** How long one node may take to come back, ms. */
  readonly restartTimeoutMs: number;
  /** Between two health checks during a watch, ms. */
  readonly watchPollMs: number;
}

export interface GateLimits {
  /** Agent crashes on the node during its watch above this fail the gate. */
  readonly maxCrashes: number;
  /** Error rate during the watch above the node's rate before its restart plus this fails the gate (0..1). */
  readonly maxErrorRateIncrease: number;
  /** Messages handled during the watch before the error rate is judged. */
  readonly minMessages: number;
  /** Health checks in a row the node does not answer before the gate fails. */
  readonly missedChecks: number;
}

export const DEFAULT_TIMINGS: UpgradeTimings = { pollMs: 500, settlePolls: 4, restartTimeoutMs: 180_000, watchPollMs: 1000 };
export const DEFAULT_GATE: GateLimits = { maxCrashes: 3, maxErrorRateIncrease: 0.05, minMessages: 20, missedChecks: 3 };
/** The canary's watch unless told: the runbook's 24 hours. */
export const DEFAULT_CANARY_MS = 24 * 3600_000;
/** Each later node's watch unless told, at most the canary's. */
export const DEFAULT_NODE_WATCH_MS = 60_000;

export interface AgentRow {
  readonly name: string;
  readonly node?: string;
  readonly state: string;
}

export interface UpgradeCoordinatorOptions {
  readonly self: NodeName;
  readonly peers: Peers | undefined;
  /** Every member, this node included, with its tags (`role`, `version`). */
  readonly members: () => readonly ViewMember[];
  readonly restart: NodeRestart;
  readonly store: UpgradeStore;
  /** This node's answer to a probe. */
  readonly probe: () => Promise<ProbeAnswer>;
  /** Every agent in the cluster, where it runs and its state; `missing`: nodes that did not answer. */
  readonly agents: () => Promise<{ readonly agents: readonly AgentRow[]; readonly missing: readonly unknown[] }>;
  readonly logger: Logger;
  readonly timings?: Partial<UpgradeTimings>;
  readonly gate?: Partial<GateLimits>;
}

export interface UpgradeRequest {
  readonly version: string;
  readonly canaryDurationMs?: number;
  readonly nodeWatchMs?: number;
  readonly by?: string;
}

/** The plan and what `status` shows of it. */
export type UpgradeView = UpgradePlan & { readonly status: StatusLines; readonly remaining_ms: number | null };

/** The watch was cut short by a rollback. */
class Stopped extends Error {}

export class UpgradeCoordinator {
  readonly #o: UpgradeCoordinatorOptions;
  readonly #t: UpgradeTimings;
  readonly #g: GateLimits;
  #running: Promise<void> | undefined;
  #abort = false;
  #closed = false;

  constructor(o: UpgradeCoordinatorOptions) {
    this.#o = o;
    this.#t = { ...DEFAULT_TIMINGS, ...o.timings };
    this.#g = { ...DEFAULT_GATE, ...o.gate };
    const peers = o.peers;
    if (peers === undefined) return;
    peers.onCall(UPGRADE_METHODS.probe, () => o.probe());
    peers.onCall(UPGRADE_METHODS.status, () => this.#load() ?? null);
    peers.onCall(UPGRADE_METHODS.rollback, (_from, body) => this.rollback(byOf(body)));
    peers.onPost(UPGRADE_METHODS.plan, (from, body) => {
      if (!looksLikePlan(body)) return;
      try {
        o.store.accept(body, this.#load());
      } catch (e) {
        o.logger.warn({ err: e, from }, 'could not keep the upgrade plan a peer sent');
      }
    });
  }

  /** After the node started: a plan this node coordinates and that is not finished carries on (its own restart was a step). */
  resume(): void {
    const p = this.#load();
    if (!isActive(p) || p.coordinator !== this.#o.self) return;
    this.#o.logger.warn({ upgrade: p.id, phase: p.phase }, 'carrying on with the cluster upgrade this node coordinates');
    this.#run(p);
  }

  /** Stops driving (the node stops); the plan stays on disk for the next start. */
  close(): void {
    this.#closed = true;
  }

  async start(r: UpgradeRequest): Promise<UpgradeView> {
    const version = normalizeVersion(r.version);
    this.#refuseIfActive();
    const canaryDurationMs = r.canaryDurationMs ?? DEFAULT_CANARY_MS;
    const nodeWatchMs = r.nodeWatchMs ?? Math.min(DEFAULT_NODE_WATCH_MS, canaryDurationMs);
    const probes = await this.#probeAll();
    const noSupervisor = probes.filter((p) => p.releases_dir === null).map((p) => p.node);
    if (noSupervisor.length > 0) {
      throw new CaxtonError('CAXTON_ERR_CLUSTER_UPGRADE_UNAVAILABLE', `not every node runs under the supervisor (\`caxton server start --releases DIR\`), so these cannot change release: ${noSupervisor.join(', ')}`, { nodes: noSupervisor });
    }
    this.#refuseMissing(probes.map((p) => ({ probe: p, version })));
    const plan = planUpgrade({
      id: planId('upgrade'),
      version,
      coordinator: this.#o.self,
      members: probes.map((p) => ({ node: p.node, version: p.version })),
      canaryDurationMs,
      nodeWatchMs,
      agents: await this.#runningAgents(),
      now: new Date(),
      ...(r.by === undefined ? {} : { by: r.by }),
    });
    this.#save(plan);
    this.#o.logger.warn({ upgrade: plan.id, version, canary: plan.canary, order: plan.steps.map((s) => s.node), canaryDurationMs, nodeWatchMs }, 'cluster upgrade started');
    this.#run(plan);
    return view(plan);
  }

  /** The last plan, as fresh as can be had: the coordinator's own when another node coordinates it. */
  async status(): Promise<UpgradeView | undefined> {
    let p = this.#load();
    if (isActive(p) && p.coordinator !== this.#o.self && this.#o.peers !== undefined && this.#alive(p.coordinator)) {
      const fresh = await this.#o.peers.call<unknown>(p.coordinator, UPGRADE_METHODS.status, {}, { timeoutMs: 2000 }).catch(() => undefined);
      if (looksLikePlan(fresh) && this.#o.store.accept(fresh, p)) p = fresh;
    }
    return p === undefined ? undefined : view(p);
  }

  /**
   * Puts every node that runs another version than before the last upgrade back on it. A running
   * upgrade stops first (after the node it is on is back); a rollback asked of another node goes to
   * the coordinator.
   */
  async rollback(by?: string): Promise<UpgradeView> {
    let last = this.#load();
    if (isActive(last) && last.coordinator === this.#o.self && this.#running === undefined) {
      throw new CaxtonError('CAXTON_ERR_CLUSTER_UPGRADE_IN_PROGRESS', `${last.kind} ${last.id}: this node is restarting as the plan's last step; ask again once it is back`, { coordinator: last.coordinator });
    }
    if (isActive(last) && last.coordinator !== this.#o.self && this.#running === undefined && this.#orphaned(last)) {
      // The coordinator is gone (not a member for longer than a node may take to restart): this node takes over.
      this.#o.logger.warn({ plan: last.id, coordinator: last.coordinator }, 'the upgrade\'s coordinator is gone; this node takes the rollback over');
      stopPlan(last, `its coordinator ${last.coordinator} is gone; ${this.#o.self} took the rollback over`, new Date());
      this.#save(last);
    }
    if (isActive(last) && last.coordinator !== this.#o.self && this.#running === undefined) {
      if (this.#o.peers === undefined || !this.#alive(last.coordinator)) {
        throw new CaxtonError('CAXTON_ERR_CLUSTER_UPGRADE_IN_PROGRESS', `${last.kind} ${last.id} is coordinated by ${last.coordinator}, which is not an alive member now (it may be restarting as the plan's last step); ask again in a moment`, { coordinator: last.coordinator });
      }
      const answer = await this.#o.peers.call<unknown>(last.coordinator, UPGRADE_METHODS.rollback, by === undefined ? {} : { by }, { timeoutMs: 60_000 });
      if (!looksLikePlan(answer)) throw new CaxtonError('CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', `${last.coordinator} answered the rollback with something else than a plan`);
      this.#o.store.accept(answer, this.#load());
      return view(answer);
    }
    if (this.#running !== undefined) {
      if (last?.kind === 'rollback') throw new CaxtonError('CAXTON_ERR_CLUSTER_UPGRADE_IN_PROGRESS', `rollback ${last.id} is running already`);
      this.#o.logger.warn({ upgrade: last?.id }, 'rollback asked: stopping the upgrade once the node it is on is back');
      this.#abort = true;
      await this.#running;
      last = this.#load();
    }
    if (last === undefined) throw new CaxtonError('CAXTON_ERR_CLUSTER_UPGRADE_NONE', 'no upgrade has run in this cluster: there is nothing to roll back');
    const probes = await this.#probeAll();
    // Where each node goes: before the last upgrade; after a rollback that stopped half-way, where it was going.
    const target = new Map(last.steps.map((s) => [s.node, last.kind === 'upgrade' ? s.from : s.to]));
    this.#refuseMissing(probes.filter((p) => target.has(p.node) && target.get(p.node) !== p.version).map((p) => ({ probe: p, version: target.get(p.node) as string })));
    const undo: UpgradePlan = last.kind === 'upgrade' ? last : { ...last, kind: 'upgrade', steps: last.steps.map((s) => ({ ...s, from: s.to })) };
    const plan = planRollback({
      id: planId('rollback'),
      coordinator: this.#o.self,
      last: undo,
      members: probes.map((p) => ({ node: p.node, version: p.version })),
      agents: await this.#runningAgents(),
      now: new Date(),
      ...(by === undefined ? {} : { by }),
    });
    this.#save(plan);
    this.#o.logger.warn({ rollback: plan.id, of: last.id, order: plan.steps.map((s) => `${s.node} ${s.from}->${s.to}`) }, 'cluster rollback started');
    this.#run(plan);
    return view(plan);
  }

  // --- Driving a plan -------------------------------------------------------------------------

  #run(p: UpgradePlan): void {
    this.#abort = false;
    const run = this.#drive(p)
      .catch((e: unknown) => this.#o.logger.error({ err: e, plan: p.id }, 'the cluster upgrade stopped on an unexpected error'))
      .finally(() => {
        if (this.#running === run) this.#running = undefined;
      });
    this.#running = run;
  }

  async #drive(p: UpgradePlan): Promise<void> {
    for (;;) {
      const s = currentStep(p);
      if (s === undefined || !isActive(p) || this.#closed) return;
      try {
        if (s.state === 'pending') {
          if (this.#abort) {
            stopPlan(p, 'stopped by a rollback', new Date());
            this.#save(p);
            return;
          }
          const before = await this.#probeNode(s.node);
          stepRestarting(p, s, before.started_at, before.health, new Date());
          this.#save(p);
          this.#o.logger.warn({ plan: p.id, node: s.node, from: s.from, to: s.to }, `${p.kind}: restarting ${s.node} on ${s.to}`);
          await this.#o.restart.request(`${p.kind} ${p.id}: ${s.from} -> ${s.to}`, s.node, s.to);
          // This node's own turn: the process goes down now; resume() carries on in the next one.
          if (s.node === this.#o.self) return;
        }
        if (s.state === 'restarting') {
          await this.#comeBack(p, s);
          stepBack(p, s, new Date());
          this.#save(p);
          this.#o.logger.info({ plan: p.id, node: s.node, version: s.to, watchUntil: s.watch_until }, `${s.node} is back on ${s.to}; watching it`);
        }
        if (s.state === 'watching') {
          await this.#watch(p, s);
          stepDone(p, s, new Date());
          this.#save(p);
          this.#o.logger.warn({ plan: p.id, node: s.node, version: s.to, phase: p.phase }, `${s.node} passed the health gate on ${s.to}`);
        }
      } catch (e) {
        if (e instanceof Stopped) {
          stopPlan(p, `stopped by a rollback while ${s.node} was watched`, new Date());
          this.#save(p);
          return;
        }
        const reason = e instanceof Error ? e.message : String(e);
        const canary = p.phase === 'canary';
        stepFailed(p, s, reason, new Date());
        this.#save(p);
        this.#o.logger.error({ plan: p.id, node: s.node, reason }, `${p.kind} stopped: ${s.node} failed the health gate`);
        if (canary) await this.#putBack(p, s);
        return;
      }
    }
  }

  /** The canary failed: it goes back to the version it ran, waited for like any step. */
  async #putBack(p: UpgradePlan, s: NodeStep): Promise<void> {
    if (s.restart_at === undefined) return; // never restarted: nothing to put back
    const back: NodeStep = { node: s.node, from: s.to, to: s.from, state: 'pending' };
    try {
      const probe = await this.#probeNode(s.node);
      if (probe.version !== s.from) {
        await this.#o.restart.request(`${p.kind} ${p.id}: canary failed, back to ${s.from}`, s.node, s.from);
        back.before_started_at = probe.started_at;
        await this.#comeBack(p, back);
      }
      p.error = `${p.error ?? ''}; ${s.node} is back on ${s.from}`;
    } catch (e) {
      p.error = `${p.error ?? ''}; putting ${s.node} back on ${s.from} failed: ${e instanceof Error ? e.message : String(e)} (run \`caxton cluster upgrade rollback\`)`;
    }
    p.seq++;
    this.#save(p);
  }

  /** Waits until the node is back on `s.to`, its agents run and their placement settled. */
  async #comeBack(p: UpgradePlan, s: NodeStep): Promise<void> {
    const deadline = Date.now() + this.#t.restartTimeoutMs;
    let waiting = `${s.node} to stop`;
    let placement = '';
    let same = 0;
    while (Date.now() < deadline) {
      if (this.#closed) throw new Error('this node is stopping');
      await sleep(this.#t.pollMs);
      const w = await this.#backCheck(p, s).catch((e: unknown) => {
        if (e instanceof GateFailure) throw e;
        return { waiting: `${s.node} to answer (${e instanceof Error ? e.message : String(e)})`, placement: '' };
      });
      same = w.waiting === '' && w.placement === placement ? same + 1 : 0;
      placement = w.placement;
      if (w.waiting === '' && same >= this.#t.settlePolls) return;
      waiting = w.waiting === '' ? 'the agents\' placement to settle' : w.waiting;
    }
    throw new Error(`did not come back on ${s.to} within ${Math.round(this.#t.restartTimeoutMs / 1000)} s: still waiting for ${waiting}`);
  }

  async #backCheck(p: UpgradePlan, s: NodeStep): Promise<{ waiting: string; placement: string }> {
    const members = this.#caxtonMembers();
    const m = members.find((x) => x.name === s.node);
    if (m === undefined || m.status !== 'alive') return { waiting: `${s.node} to be an alive member (${m?.status ?? 'not a member'})`, placement: '' };
    const probe = await this.#probeNode(s.node);
    if (probe.started_at <= (s.before_started_at ?? '')) return { waiting: `${s.node} to start again (it runs since ${probe.started_at})`, placement: '' };
    if (probe.version !== s.to) throw new GateFailure(`came back on ${probe.version}, not ${s.to}: its supervisor went back to the release that ran before, because ${s.to} did not start (see the node's log)`);
    if (m.tags['version'] !== s.to) return { waiting: `${s.node} to announce version ${s.to} (announces ${m.tags['version'] ?? 'none'})`, placement: '' };
    const down = members.filter((x) => x.status !== 'alive' && x.status !== 'left');
    if (down.length > 0) return { waiting: `every node to be alive (${down.map((x) => `${x.name} ${x.status}`).join(', ')})`, placement: '' };
    const list = await this.#o.agents();
    const running = new Set(list.agents.filter((a) => a.state === 'running').map((a) => a.name));
    const notRunning = p.agents.filter((a) => !running.has(a));
    const placement = list.agents.map((a) => `${a.name}@${a.node ?? ''}:${a.state}`).sort().join(',');
    if (notRunning.length > 0 || list.missing.length > 0) {
      return { waiting: `the agents to run again (${notRunning.length} not running${notRunning.length > 0 ? `: ${notRunning.slice(0, 5).join(', ')}` : ''}${list.missing.length > 0 ? `; ${list.missing.length} node(s) did not answer` : ''})`, placement };
    }
    return { waiting: '', placement };
  }

  /** The health gate, checked every watchPollMs until the watch ends; throws what failed. */
  async #watch(p: UpgradePlan, s: NodeStep): Promise<void> {
    const ref = await this.#probeNode(s.node);
    const until = Date.parse(s.watch_until as string);
    let missed = 0;
    for (;;) {
      if (this.#abort) throw new Stopped();
      if (this.#closed) throw new Error('this node is stopping');
      const left = until - Date.now();
      if (left <= 0) return;
      await sleep(Math.min(this.#t.watchPollMs, left));
      let probe: ProbeAnswer;
      try {
        probe = await this.#probeNode(s.node);
        missed = 0;
      } catch (e) {
        if (++missed >= this.#g.missedChecks) throw new Error(`did not answer ${missed} health checks in a row (${e instanceof Error ? e.message : String(e)})`);
        continue;
      }
      const problem = gateProblem(this.#g, s, ref, probe, this.#caxtonMembers().find((m) => m.name === s.node)?.status);
      if (problem !== undefined) throw new Error(problem);
    }
  }

  // --- Helpers ---------------------------------------------------------------------------------

  #refuseIfActive(): void {
    const last = this.#load();
    if (this.#running !== undefined || isActive(last)) {
      const gone = last !== undefined && last.coordinator !== this.#o.self && this.#orphaned(last) ? `; its coordinator is gone: \`caxton cluster upgrade rollback\` here takes it over` : '';
      throw new CaxtonError('CAXTON_ERR_CLUSTER_UPGRADE_IN_PROGRESS', `${last?.kind ?? 'upgrade'} ${last?.id ?? ''} is running (coordinated by ${last?.coordinator ?? this.#o.self}, phase ${last?.phase ?? 'starting'})${gone}`, { plan: last?.id, coordinator: last?.coordinator });
    }
  }

  #refuseMissing(wanted: readonly { probe: ProbeAnswer; version: string }[]): void {
    const missing = wanted.filter((w) => w.probe.version !== w.version && !w.probe.installed.includes(w.version)).sort((a, b) => a.probe.node.localeCompare(b.probe.node));
    if (missing.length === 0) return;
    throw new CaxtonError(
      'CAXTON_ERR_CLUSTER_UPGRADE_RELEASE_MISSING',
      `release ${[...new Set(missing.map((m) => m.version))].join(', ')} is not installed on ${missing.map((m) => `${m.probe.node} (${m.probe.releases_dir ?? 'no releases directory'}/${m.version}; installed: ${m.probe.installed.join(', ') || 'none'})`).join(', ')}`,
      { nodes: missing.map((m) => m.probe.node) },
    );
  }

  /** Every Caxton member, probed; refuses unless every one is alive and answers. */
  async #probeAll(): Promise<ProbeAnswer[]> {
    const members = this.#caxtonMembers();
    const down = members.filter((m) => m.status !== 'alive' && m.status !== 'left');
    if (down.length > 0) throw new CaxtonError('CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', `not every node is alive: ${down.map((m) => `${m.name} (${m.status})`).join(', ')}; an upgrade starts from a healthy cluster`, { nodes: down.map((m) => m.name) });
    const names = [...new Set([this.#o.self, ...members.filter((m) => m.status === 'alive').map((m) => m.name)])];
    const answers = await Promise.all(names.map(async (n) => this.#probeNode(n).catch((e: unknown) => ({ node: n, error: e instanceof Error ? e.message : String(e) }))));
    const silent = answers.filter((a): a is { node: string; error: string } => 'error' in a);
    if (silent.length > 0) throw new CaxtonError('CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', `these nodes did not answer: ${silent.map((s) => `${s.node} (${s.error})`).join(', ')}`, { nodes: silent.map((s) => s.node) });
    return answers as ProbeAnswer[];
  }

  async #probeNode(node: NodeName): Promise<ProbeAnswer> {
    if (node === this.#o.self) return this.#o.probe();
    if (this.#o.peers === undefined) throw new CaxtonError('CAXTON_ERR_CLUSTER_UNKNOWN_NODE', `no Caxton node named ${node}`, { node });
    return checkProbe(await this.#o.peers.call<unknown>(node, UPGRADE_METHODS.probe, {}, { timeoutMs: 5000 }));
  }

  async #runningAgents(): Promise<string[]> {
    return (await this.#o.agents()).agents.filter((a) => a.state === 'running').map((a) => a.name);
  }

  #caxtonMembers(): ViewMember[] {
    return this.#o.members().filter((m) => m.tags['role'] === 'caxton');
  }

  /** The plan's coordinator has not been an alive member, nor changed the plan, for longer than a restart may take. */
  #orphaned(p: UpgradePlan): boolean {
    return !this.#alive(p.coordinator) && Date.now() - Date.parse(p.updated_at) > this.#t.restartTimeoutMs;
  }

  #alive(node: NodeName): boolean {
    return this.#caxtonMembers().some((m) => m.name === node && m.status === 'alive');
  }

  #load(): UpgradePlan | undefined {
    try {
      return this.#o.store.load();
    } catch (e) {
      this.#o.logger.warn({ err: e, file: this.#o.store.path }, 'the upgrade plan on disk is not readable; treating it as none');
      return undefined;
    }
  }

  /** On disk here, and to every alive Caxton member (each keeps the latest it heard). */
  #save(p: UpgradePlan): void {
    this.#o.store.save(p);
    const peers = this.#o.peers;
    if (peers === undefined) return;
    for (const m of this.#caxtonMembers()) if (m.name !== this.#o.self && m.status === 'alive') peers.post(m.name, UPGRADE_METHODS.plan, p);
  }
}

class GateFailure extends Error {}

/** What fails the health gate now, or undefined (exported for its table test). */
export function gateProblem(g: GateLimits, s: NodeStep, ref: ProbeAnswer, now: ProbeAnswer, status: string | undefined): string | undefined {
  if (status !== 'alive') return `it is ${status ?? 'no longer a member'}`;
  if (now.version !== s.to) return `it runs ${now.version}, not ${s.to}`;
  if (now.started_at !== ref.started_at) return `its process started again during the watch (at ${now.started_at}): it crashed or was restarted`;
  const crashes = now.health.crashes - ref.health.crashes;
  if (crashes > g.maxCrashes) return `its agents crashed ${crashes} times during the watch (limit ${g.maxCrashes})`;
  const handled = now.health.messages - ref.health.messages;
  if (handled >= g.minMessages) {
    const rate = Math.max(0, now.health.errors - ref.health.errors) / handled;
    const base = s.baseline !== undefined && s.baseline.messages > 0 ? s.baseline.errors / s.baseline.messages : 0;
    if (rate > base + g.maxErrorRateIncrease) return `its agents' error rate is ${pct(rate)} during the watch, against ${pct(base)} before the upgrade (limit: ${pct(g.maxErrorRateIncrease)} more)`;
  }
  return undefined;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)} %`;
}

function view(p: UpgradePlan): UpgradeView {
  const now = new Date();
  return { ...p, status: statusLines(p, now), remaining_ms: remainingMs(p, now) };
}

/** `upgrade-20261207T081502Z`, `rollback-...`: the kind and when it started, to the second. */
function planId(kind: 'upgrade' | 'rollback'): string {
  return `${kind}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '')}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function byOf(body: PeerBody): string | undefined {
  const b = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['by'] : undefined;
  return typeof b === 'string' ? b.slice(0, 200) : undefined;
}

function looksLikePlan(v: unknown): v is UpgradePlan {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  return typeof p['id'] === 'string' && typeof p['seq'] === 'number' && typeof p['phase'] === 'string' && Array.isArray(p['steps']) && typeof p['coordinator'] === 'string';
}

function checkProbe(v: unknown): ProbeAnswer {
  const p = v as Partial<ProbeAnswer> | null;
  const h = p?.health;
  if (typeof p?.node !== 'string' || typeof p.version !== 'string' || typeof p.started_at !== 'string' || !Array.isArray(p.installed) || typeof h?.crashes !== 'number' || typeof h.messages !== 'number' || typeof h.errors !== 'number') {
    throw new CaxtonError('CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', 'the node answered the upgrade probe with something else (another Caxton release without cluster upgrades?)');
  }
  return p as ProbeAnswer;
}

