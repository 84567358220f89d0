/**
 * verifyProtocol (memberlist state.go): before a push/pull is merged, check that every node, ours and
 * theirs, would still be understood by every other.
 *
 * The common range is [max of the alive nodes' minimums, min of their maximums], computed separately
 * for the memberlist protocol (pmin/pmax) and the delegate (Serf) protocol (dmin/dmax). Then the
 * version each node *speaks* (pcur, dcur) must lie in it, for all remote nodes and all local nodes
 * (Go checks local nodes in any state, dead ones included; so do we). A remote node without Vsn
 * counts as speaking version 0.
 */
import { NodeState, parseVsn, type PushNodeState, type Versions } from '../wire/index.js';

export interface VersionedNode {
  readonly name: string;
  readonly state: number;
  readonly vsn: Versions;
}

const ZERO: Versions = { pmin: 0, pmax: 0, pcur: 0, dmin: 0, dmax: 0, dcur: 0 };

/** Undefined when compatible, else the reason (memberlist's error text). */
export function verifyProtocol(local: readonly VersionedNode[], remote: readonly PushNodeState[]): string | undefined {
  let maxpmin = 0;
  let minpmax = 255;
  let maxdmin = 0;
  let mindmax = 255;
  const widen = (v: Versions): void => {
    maxpmin = Math.max(maxpmin, v.pmin);
    minpmax = Math.min(minpmax, v.pmax);
    maxdmin = Math.max(maxdmin, v.dmin);
    mindmax = Math.min(mindmax, v.dmax);
  };

  for (const rn of remote) {
    // Only alive nodes set the range; a node without versions just speaks zero.
    if (rn.State !== NodeState.Alive) continue;
    const v = parseVsn(rn.Vsn);
    if (v !== undefined) widen(v);
  }
  for (const n of local) {
    if (n.state !== NodeState.Alive) continue;
    widen(n.vsn);
  }

  const check = (name: string, v: Versions): string | undefined => {
    if (v.pcur < maxpmin || v.pcur > minpmax) {
      return `Node '${name}' protocol version (${v.pcur}) is incompatible: [${maxpmin}, ${minpmax}]`;
    }
    if (v.dcur < maxdmin || v.dcur > mindmax) {
      return `Node '${name}' delegate protocol version (${v.dcur}) is incompatible: [${maxdmin}, ${mindmax}]`;
    }
    return undefined;
  };
  for (const rn of remote) {
    const problem = check(rn.Name, parseVsn(rn.Vsn) ?? ZERO);
    if (problem !== undefined) return problem;
  }
  for (const n of local) {
    const problem = check(n.name, n.vsn);
    if (problem !== undefined) return problem;
  }
  return undefined;
}
