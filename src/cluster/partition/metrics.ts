/**
 * Partitions' Prometheus metrics (docs/metrics.md, "Partitions"), read from the node's Partitions at
 * each scrape: nothing is counted twice on the message path.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Partitions } from './partitions.js';
import type { PartitionQueue } from '../../messaging/partition-queue.js';
import { PARTITION_STATE_CODE } from './quorum.js';

export function registerPartitionMetrics(registry: Registry, partitions: Partitions, queue: PartitionQueue): void {
  const registers = [registry];
  const gauge = (name: string, help: string, value: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(value());
      },
    });
  const counter = (name: string, help: string, value: () => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(value());
      },
    });
  gauge('caxton_cluster_partition_state', 'Which side of a partition this node is on: 0 healthy (or the cluster still forming), 1 majority, 2 minority, 3 alone', () => (partitions.view.forming ? 0 : PARTITION_STATE_CODE[partitions.view.state]));
  gauge('caxton_cluster_quorum', 'Nodes this node must reach to be the majority: expected / 2 + 1', () => partitions.view.quorum);
  gauge('caxton_cluster_nodes_reachable', 'Known Caxton members this node reaches, itself included', () => partitions.view.reachable.length);
  gauge('caxton_partition_queued_messages', 'Messages held in the partition queue for the other side (queued writes)', () => queue.size);
  gauge('caxton_partition_queued_bytes', 'Bytes held in the partition queue', () => queue.bytes);
  counter('caxton_partition_held_total', 'Messages held in the partition queue since start', () => queue.stats.held);
  counter('caxton_partition_replayed_total', 'Queued messages replayed (sent on) since start', () => queue.stats.replayed);
  counter('caxton_partition_refused_total', 'Messages refused because the partition queue was full, since start', () => partitions.refusedFull);
}
