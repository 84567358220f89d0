/**
 * The SDKs side by side (issue 16, item 5): for AssemblyScript (sdk/assemblyscript), C (freestanding,
 * examples/c-echo) and Rust (sdk/rust), the module size, fuel per message and time per message of
 * the same two agents:
 *
 * - echo (echo, c-echo, rust-echo): a ~300-byte message answered with inform and the same content;
 * - json (json, c-json, rust-json): a ~1 KB request {"items": [...]} parsed and answered with
 *   {"count", "total"} (examples/json/json.ts says what it does).
 *
 * Method: as bench/sdk.bench.ts. The modules built from source (build/agents) are admitted by the
 * real validator and rewriter and run as AgentInstances on this thread with the real host
 * functions; that is the call a worker makes for a delivered message, and what the pool adds
 * around it (routing, mailboxes, postMessage) costs no fuel. Fuel per message is
 * AgentInstance.lastFuelUsed of that handle_message call (the agent's and its SDK's operators, the
 * allocator, and the host's charges for what it sends). Wall time is performance.now() around the
 * same calls: means over a bounded number of messages, after a warm-up; read it as a range on a
 * shared machine. Every answer is checked, so a broken agent fails the bench instead of looking cheap.
 *
 * In `npm run bench` (group `sdks`; alone: `npm run bench -- sdks`): the C and Rust agents need clang
 * and rustc (a missing one skips its rows with a line on stderr).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { admitModule } from '../src/sandbox/wasm/index.js';
import { AgentInstance, DEFAULT_POLICY, makePolicy } from '../src/sandbox/index.js';
import { NullServices } from '../test/helpers/null-services.js';
import type { Row } from './report.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const policy = makePolicy({});

const LANGUAGES = [
  { lang: 'AssemblyScript', echo: 'echo', json: 'json', tool: 'npm run build' },
  { lang: 'C', echo: 'c-echo', json: 'c-json', tool: 'clang + lld (apt-get install clang lld wasi-libc)' },
  { lang: 'Rust', echo: 'rust-echo', json: 'rust-json', tool: 'rustc (apt-get install rustc libstd-rust-dev-wasm32)' },
] as const;

const WARM_UP = 300;
const MESSAGES = 3000;

/** The echo message: a cfp as a bidder receives it (the host has added sender and message_id). */
function echoMessage(i: number): string {
  return JSON.stringify({
    sender: 'manager',
    message_id: `0b3d1f5e-8c2a-4f7e-9a1b-${String(i).padStart(12, '0')}`,
    performative: 'cfp',
    receiver: 'agent',
    content: { task: `task-${i}`, budget: 120.5, tags: ['paint', 'walls'] },
    conversation_id: 'cnet-0123456789abcdef',
    reply_with: `r-${i}`,
    protocol: 'fipa-contract-net',
  });
}

/** The JSON request: 16 items, about 1 KB; quantities and prices are integers (cents), as C reads them. */
function jsonRequest(i: number): { text: string; count: number; total: number } {
  const items = Array.from({ length: 16 }, (_, k) => ({ sku: `sku-${String(i % 1000).padStart(4, '0')}-${k}`, qty: (k % 5) + 1, price: 199 + k * 37, tags: ['blue', 'xl'] }));
  const total = items.reduce((a, it) => a + it.qty * it.price, 0);
  const text = JSON.stringify({
    sender: 'client',
    message_id: `7c1e4f2a-9b3d-4e8f-a1c2-${String(i).padStart(12, '0')}`,
    performative: 'request',
    receiver: 'agent',
    content: { order: `o-${i}`, items },
    conversation_id: `conv-${i}`,
    reply_with: `r-${i}`,
    protocol: 'fipa-request',
  });
  return { text, count: items.length, total };
}

interface Measured {
  readonly fuel: number;
  readonly maxFuel: number;
  readonly us: number;
  readonly bytes: number;
}

/** Runs `n` messages through one instance of `kind`; `check` sees every answer. */
function measure(kind: string, make: (i: number) => { text: string; check: (sent: string) => void }): Measured {
  const bytes = readFileSync(join(root, 'build', 'agents', `${kind}.wasm`));
  const mod = new WebAssembly.Module(admitModule(bytes, policy).bytes);
  const sent: string[] = [];
  const services = new (class extends NullServices {
    override send(json: string): number {
      sent.push(json);
      return 0;
    }
  })('agent');
  const instance = new AgentInstance(mod, services, policy.fuelPerCall);
  instance.instantiate();
  instance.init(JSON.stringify({ abi_version: 1, name: 'agent', agent_id: 'agent', config: {}, restarts: 0 }));
  let fuel = 0;
  let maxFuel = 0;
  let ms = 0;
  for (let i = 0; i < WARM_UP + MESSAGES; i++) {
    const { text, check } = make(i);
    sent.length = 0;
    const t0 = performance.now();
    const rc = instance.handle(text);
    const dt = performance.now() - t0;
    if (rc !== 0) throw new Error(`${kind} returned ${rc}`);
    if (sent.length !== 1) throw new Error(`${kind} sent ${sent.length} messages, not 1`);
    check(sent[0] as string);
    if (i < WARM_UP) continue;
    fuel += instance.lastFuelUsed;
    maxFuel = Math.max(maxFuel, instance.lastFuelUsed);
    ms += dt;
  }
  return { fuel: fuel / MESSAGES, maxFuel, us: (ms * 1000) / MESSAGES, bytes: bytes.length };
}

const fmtFuel = (f: number) => (f >= 1e6 ? `${(f / 1e6).toFixed(2)} M` : `${(f / 1e3).toFixed(1)} k`);

export async function sdksBenchmarks(): Promise<Row[]> {
  const rows: Row[] = [];
  const echoBytes = Buffer.byteLength(echoMessage(0));
  const jsonBytes = Buffer.byteLength(jsonRequest(0).text);
  for (const l of LANGUAGES) {
    const missing = [l.echo, l.json].filter((k) => !existsSync(join(root, 'build', 'agents', `${k}.wasm`)));
    if (missing.length > 0) {
      process.stderr.write(`  ${l.lang}: skipped, build/agents/${missing.join('.wasm, ')}.wasm not built (needs ${l.tool}, then npm run build)\n`);
      continue;
    }
    process.stderr.write(`  ${l.lang}...\n`);
    const echo = measure(l.echo, (i) => {
      const text = echoMessage(i);
      return {
        text,
        check: (out) => {
          const m = JSON.parse(out) as { performative: string; content: { task: string }; in_reply_to: string };
          if (m.performative !== 'inform' || m.content.task !== `task-${i}` || m.in_reply_to !== `r-${i}`) throw new Error(`${l.echo}: wrong answer ${out}`);
        },
      };
    });
    const json = measure(l.json, (i) => {
      const req = jsonRequest(i);
      return {
        text: req.text,
        check: (out) => {
          const m = JSON.parse(out) as { performative: string; content: { count: number; total: number }; in_reply_to: string };
          if (m.performative !== 'inform' || m.content.count !== req.count || m.content.total !== req.total || m.in_reply_to !== `r-${i}`) {
            throw new Error(`${l.json}: wrong answer ${out}, expected count ${req.count} and total ${req.total}`);
          }
        },
      };
    });
    for (const [what, kind, m, size] of [['echo', l.echo, echo, echoBytes], ['json', l.json, json, jsonBytes]] as const) {
      rows.push({ name: `sdks ${l.lang} ${what}: module size (${kind}.wasm)`, value: m.bytes, unit: 'B' });
      rows.push({
        name: `sdks ${l.lang} ${what}: fuel per message`,
        value: m.fuel,
        unit: 'fuel',
        note: `${size}-byte message; largest ${fmtFuel(m.maxFuel)}, ${m.maxFuel <= DEFAULT_POLICY.fuelPerCall ? 'fits' : 'DOES NOT fit'} the default ${fmtFuel(DEFAULT_POLICY.fuelPerCall)} per call; mean of ${MESSAGES}`,
      });
      rows.push({ name: `sdks ${l.lang} ${what}: time per message`, value: m.us, unit: 'µs', note: `wall, in handle_message, mean of ${MESSAGES}` });
    }
  }
  return rows;
}
