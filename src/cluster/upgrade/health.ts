/** A node's counters for the upgrade's health gate (./coordinator.ts), read from its own metrics. */
import type { Registry } from 'prom-client';
import type { NodeHealth } from './plan.js';

/** The metric each counter comes from (docs/metrics.md); all count since the node process started. */
export const HEALTH_METRICS = {
  crashes: 'caxton_agent_crashes_total',
  messages: 'caxton_messages_received_total',
  errors: 'caxton_message_errors_total',
} as const;

export async function nodeHealth(registry: Registry): Promise<NodeHealth> {
  const read = async (name: string): Promise<number> => {
    const m = registry.getSingleMetric(name);
    if (m === undefined) return 0;
    const v = await m.get();
    return v.values.reduce((n, x) => n + x.value, 0);
  };
  const [crashes, messages, errors] = await Promise.all([read(HEALTH_METRICS.crashes), read(HEALTH_METRICS.messages), read(HEALTH_METRICS.errors)]);
  return { crashes, messages, errors };
}
