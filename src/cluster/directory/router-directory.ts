/**
 * The directory as the router asks it (the `Directory` seam of src/messaging/directory.ts on the
 * router's branch: nodeFor, capabilityNodes, topicNodes), over a ClusterDirectory. Structural: this
 * file does not import the router's types, so either side can change without the other's branch.
 */
import type { NodeName } from '../peers.js';
import type { ClusterDirectory } from './directory.js';
import { SETTLING } from '../../messaging/directory.js';

export interface RouterDirectory {
  /** The node hosting `name`, never this one; undefined when the name exists nowhere (or not yet: see whereIs). */
  nodeFor(name: string, from?: NodeName): NodeName | typeof SETTLING | undefined;
  capabilityNodes(capability: string): readonly NodeName[];
  topicNodes(topic: string): readonly NodeName[];
}

export function routerDirectory(d: ClusterDirectory): RouterDirectory {
  return {
    nodeFor(name, from) {
      // An API caller of another node (`api@node-1`, `bob@node-1`): replies go straight to that node.
      const at = name.lastIndexOf('@');
      if (at > 0) {
        const node = name.slice(at + 1);
        if (node !== d.self && d.isAlive(node)) return node;
      }
      // `from` (the node that handed the message over) learns where the name lives when this node forwards it.
      const n = d.locate(name, from);
      if (n !== d.self) return n;
      // This node is the name's owner or hosts it: only a held exception entry names another node.
      const w = d.whereIs(name, from);
      return w.kind === 'forward' ? w.node : w.kind === 'pending' ? SETTLING : undefined;
    },
    capabilityNodes: (c) => d.otherNodes('cap', c),
    topicNodes: (t) => d.otherNodes('topic', t),
  };
}
