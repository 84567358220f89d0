/**
 * AssemblyScript SDK benchmarks: fuel and wall time per message handled by the SDK's example agents.
 * Every loop is bounded in count.
 *
 * Method
 * ------
 * The agents are the examples built from source (build/agents), admitted by the real validator and
 * rewriter, and run as AgentInstances on this thread with the real host functions. The budget per
 * call is raised (MEASURE_FUEL) so that code that needs more than the default can be measured too;
 * the round rows say whether the largest call fits the default budget (DEFAULT_POLICY.fuelPerCall). That is the same call the worker makes for a delivered message; what the pool adds
 * around it (routing, mailboxes, postMessage) costs no fuel. Fuel per message is
 * AgentInstance.lastFuelUsed of that handle_message call: the agent's own operators, the SDK's and
 * the runtime's (allocator, GC steps), plus the host's charges for what the call sends.
 *
 * Values are means over many messages: the incremental GC does its work in steps inside allocations,
 * so a single call's fuel depends on where the collector happens to be. Wall time is the mean of
 * performance.now() around the same calls (on a shared machine, read it as a range).
 *
 * - echo: the SDK's parse + reply path. "parse only" is a message whose sender is the echo agent
 *   itself, which it drops after reading `sender` (so: copy in, validating parse, one field decoded);
 *   "parse + reply" comes from another sender and is answered with inform, same content.
 * - contract net: cn-manager and N cn-bidder agents, with an in-thread router that hands every sent
 *   message to its receiver in order (the timers the manager sets never fire: every bidder answers).
 *   Rows per message kind, and per round (the sum over the agents, as in the messaging bench).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { admitModule } from '../src/sandbox/wasm/index.js';
import { AgentInstance, DEFAULT_POLICY, makePolicy } from '../src/sandbox/index.js';
import type { OutgoingMessage } from '../src/sandbox/outgoing.js';
import { NullServices } from '../test/helpers/null-services.js';
import type { Row } from './report.js';

const root = fileURLToPath(new URL('../', import.meta.url));
/** Fuel per call while measuring; the rows compare with DEFAULT_POLICY.fuelPerCall. */
const MEASURE_FUEL = 1_000_000_000;
const policy = makePolicy({ fuelPerCall: MEASURE_FUEL });
const modules = new Map<string, WebAssembly.Module>();

function module(kind: string): WebAssembly.Module {
  let m = modules.get(kind);
  if (m === undefined) {
    m = new WebAssembly.Module(admitModule(readFileSync(join(root, 'build', 'agents', `${kind}.wasm`)), policy).bytes);
    modules.set(kind, m);
  }
  return m;
}

/** Counts of one kind of handled message. */
class Tally {
  n = 0;
  fuel = 0;
  maxFuel = 0;
  ms = 0;
  add(fuel: number, ms: number): void {
    this.n++;
    this.fuel += fuel;
    this.maxFuel = Math.max(this.maxFuel, fuel);
    this.ms += ms;
  }
  get meanFuel(): number {
    return this.fuel / this.n;
  }
  get meanUs(): number {
    return (this.ms * 1000) / this.n;
  }
}

/** A few agents on this thread; sent messages are queued and handed to their receivers in order. */
class Bench {
  readonly agents = new Map<string, { kind: string; instance: AgentInstance }>();
  readonly queue: { to: string; json: string }[] = [];
  readonly outside: string[] = [];
  /** Tallies by "<agent kind> <performative>", with " (sends n)" when the call sent n > 1 messages. */
  tallies = new Map<string, Tally>();

  spawn(kind: string, name: string, config: unknown = {}): void {
    const queue = this.queue;
    const services = new (class extends NullServices {
      // The host passes the checked message too; its receiver saves parsing the JSON again.
      override send(json: string, msg?: OutgoingMessage): number {
        queue.push({ to: msg?.receiver ?? '', json });
        return 0;
      }
    })(name);
    const instance = new AgentInstance(module(kind), services, policy.fuelPerCall);
    instance.instantiate();
    instance.init(JSON.stringify({ name, agent_id: name, config, restarts: 0 }));
    this.agents.set(name, { kind, instance });
  }

  /** Delivers `json` to `to`, then everything that follows from it. */
  run(to: string, json: string): void {
    this.queue.push({ to, json });
    for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
      const agent = this.agents.get(next.to);
      if (agent === undefined) {
        this.outside.push(next.json);
        continue;
      }
      const queued = this.queue.length;
      const t0 = performance.now();
      const rc = agent.instance.handle(next.json);
      const ms = performance.now() - t0;
      if (rc !== 0) throw new Error(`${next.to} returned ${rc} for ${next.json}`);
      const sent = this.queue.length - queued;
      const key = `${agent.kind} ${(JSON.parse(next.json) as { performative: string }).performative}${sent > 1 ? ` (sends ${sent})` : ''}`;
      let t = this.tallies.get(key);
      if (t === undefined) this.tallies.set(key, (t = new Tally()));
      t.add(agent.instance.lastFuelUsed, ms);
    }
  }

  tally(key: string): Tally {
    const t = this.tallies.get(key);
    if (t === undefined) throw new Error(`no ${key} was handled`);
    return t;
  }
}

const fmtFuel = (f: number) => (f >= 1e6 ? `${(f / 1e6).toFixed(2)} M` : `${(f / 1e3).toFixed(1)} k`);

function echoRows(rows: Row[]): void {
  const b = new Bench();
  b.spawn('echo', 'echo');
  // A cfp as a bidder receives it: the host has added sender and message_id.
  const message = (sender: string, i: number) =>
    JSON.stringify({
      sender,
      message_id: `0b3d1f5e-8c2a-4f7e-9a1b-${String(i).padStart(12, '0')}`,
      performative: 'cfp',
      receiver: 'echo',
      content: { task: `task-${i}`, budget: 120.5, tags: ['paint', 'walls'] },
      conversation_id: 'cnet-0123456789abcdef',
      reply_with: 'cnet-0123456789abcdef',
      protocol: 'fipa-contract-net',
    });
  const bytes = Buffer.byteLength(message('manager', 0));
  for (const [label, sender] of [['parse only (echo drops its own message)', 'echo'], ['parse + reply (echo)', 'manager']] as const) {
    for (let i = 0; i < 300; i++) b.run('echo', message(sender, i)); // warm-up
    b.tallies.clear();
    for (let i = 0; i < 3000; i++) b.run('echo', message(sender, i));
    const t = b.tally('echo cfp');
    rows.push({ name: `SDK fuel per message, ${label}`, value: t.meanFuel, unit: 'fuel', note: `${t.meanUs.toFixed(2)} µs/message wall (mean of ${t.n}); ${bytes}-byte message` });
  }
}

function contractNetRows(rows: Row[], bidders: number, rounds: number): void {
  const b = new Bench();
  b.spawn('cn-manager', 'manager');
  const names = Array.from({ length: bidders }, (_, i) => `bidder-${i}`);
  for (const n of names) b.spawn('cn-bidder', n);
  const round = (i: number) => {
    b.run('manager', JSON.stringify({ performative: 'request', sender: 'client', message_id: `m-${i}`, receiver: 'manager', conversation_id: `req-${i}`, reply_with: `r-${i}`, protocol: 'fipa-contract-net', content: { task: `task-${i}`, bidders: names, deadline_ms: 10_000 } }));
    const inform = b.outside.pop();
    if (inform === undefined || !inform.includes('"winner"')) throw new Error(`round ${i} ended without the manager's inform: ${inform}`);
  };
  const warm = Math.max(2, Math.floor(rounds / 10));
  for (let i = 0; i < warm; i++) round(i);
  b.tallies.clear();
  for (let i = 0; i < rounds; i++) round(warm + i);

  const per = (key: string, label: string) => {
    const t = b.tally(key);
    rows.push({ name: `SDK fuel per message, ${label}, ${bidders} bidders`, value: t.meanFuel, unit: 'fuel', note: `${t.meanUs.toFixed(2)} µs/message wall; largest ${fmtFuel(t.maxFuel)} (mean of ${t.n})` });
  };
  per('cn-bidder cfp', 'cn-bidder cfp → propose');
  per('cn-manager propose', 'cn-manager propose (not the last)');
  // The last propose of a round also awards: an accept and a reject per other bidder.
  per(`cn-manager propose (sends ${bidders})`, 'cn-manager last propose → award');
  per(`cn-manager request (sends ${bidders})`, 'cn-manager request → cfps');

  const sum = (kind: string) => [...b.tallies].filter(([k]) => k.startsWith(`${kind} `)).reduce((a, [, t]) => a + t.fuel, 0) / rounds;
  const msgs = [...b.tallies.values()].reduce((a, t) => a + t.n, 0) / rounds;
  const us = [...b.tallies.values()].reduce((a, t) => a + t.ms, 0) * 1000 / rounds;
  const largest = Math.max(...[...b.tallies.values()].map((t) => t.maxFuel));
  rows.push({
    name: `SDK contract-net round, ${bidders} bidders, fuel/round (manager + bidders)`,
    value: sum('cn-manager') + sum('cn-bidder'),
    unit: 'fuel',
    note:
      `manager ${fmtFuel(sum('cn-manager'))}, bidders ${fmtFuel(sum('cn-bidder'))}; ${msgs} handled msgs/round, ${(us / msgs).toFixed(2)} µs each ` +
      `(wall, in handle_message); largest call ${fmtFuel(largest)}, ${largest <= DEFAULT_POLICY.fuelPerCall ? 'fits' : 'DOES NOT fit'} the default ` +
      `${fmtFuel(DEFAULT_POLICY.fuelPerCall)} per call; ${rounds} rounds`,
  });
}

export async function sdkBenchmarks(): Promise<Row[]> {
  const rows: Row[] = [];
  const step = (name: string, fn: () => void) => {
    const t0 = performance.now();
    process.stderr.write(`  ${name}...`);
    fn();
    process.stderr.write(` ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  };
  step('echo', () => echoRows(rows));
  step('contract net, 10 bidders', () => contractNetRows(rows, 10, 100));
  step('contract net, 100 bidders', () => contractNetRows(rows, 100, 20));
  return rows;
}
