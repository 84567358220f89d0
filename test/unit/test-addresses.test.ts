/**
 * `npm test` runs two test files at once, so no two files may bind the same loopback address or make
 * the same network namespaces. test/helpers/addresses.ts gives each file its own; this reads every
 * file under test/ and checks that each stays inside its entry, and that no two entries overlap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOOPBACK_BLOCKS, LOOPBACK_DATA, NETNS_SUBNETS, loopbackNumber, loopbackRange } from '../helpers/addresses.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SHARED = loopbackNumber('127.0.0.1');
/** Builds its addresses from the base its caller passes, which the caller's own entry covers. */
const FROM_CALLER = new Set(['test/helpers/server-cluster.ts']);

function sources(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.set(relative(root, p).split(sep).join('/'), readFileSync(p, 'utf8'));
    }
  };
  walk(join(root, 'test'));
  return out;
}

const lineOf = (text: string, index: number): number => text.slice(0, index).split('\n').length;

interface Claim {
  readonly what: string;
  readonly first: number;
  readonly last: number;
  readonly line: number;
}

/** What a file binds: literal addresses other than 127.0.0.1 (as text or as packet bytes), and the addresses of each startServerCluster({ size, base }). */
function claimsOf(text: string): { loopback: Claim[]; templated: number[]; subnets: { subnet: string; line: number }[] } {
  const loopback: Claim[] = [];
  for (const m of text.matchAll(/\b127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d/])/g)) {
    const n = loopbackNumber(m[0]);
    if (n !== SHARED) loopback.push({ what: m[0], first: n, last: n, line: lineOf(text, m.index) });
  }
  // The same address as the 4 bytes of a memberlist packet (Addr).
  for (const m of text.matchAll(/Uint8Array\.of\(127, (\d{1,3}), (\d{1,3}), (\d{1,3})\)/g)) {
    const n = loopbackNumber(`127.${m[1]}.${m[2]}.${m[3]}`);
    if (n !== SHARED) loopback.push({ what: m[0], first: n, last: n, line: lineOf(text, m.index) });
  }
  const constBase = /\bconst base = (\d+);/.exec(text)?.[1];
  for (const m of text.matchAll(/startServerCluster\(\{/g)) {
    const call = text.slice(m.index, m.index + 400);
    const size = /\bsize: (\d+)/.exec(call)?.[1];
    const base = /\bbase: (\d+)/.exec(call)?.[1] ?? (/\bbase[,\s}]/.test(call) ? constBase : undefined);
    assert.ok(size !== undefined && base !== undefined, `line ${lineOf(text, m.index)}: startServerCluster without a literal size and base (or a \`const base = N;\`)`);
    const first = loopbackNumber(`127.0.0.${Number(base) + 1}`);
    loopback.push({ what: `startServerCluster({ size: ${size}, base: ${base} })`, first, last: first + Number(size) - 1, line: lineOf(text, m.index) });
  }
  const templated = [...text.matchAll(/\b127\.\d{1,3}\.\d{1,3}\.\$\{/g)].map((m) => lineOf(text, m.index));
  const subnets = [...text.matchAll(/subnet: '(\d+\.\d+\.\d+)'/g)].map((m) => ({ subnet: m[1] as string, line: lineOf(text, m.index) }));
  return { loopback, templated, subnets };
}

test('test addresses - no two test files share a loopback address or a netns subnet, and every entry names a file', () => {
  const blocks = Object.entries(LOOPBACK_BLOCKS).flatMap(([file, specs]) => specs.map((spec) => ({ file, spec, ...loopbackRange(spec) })));
  const problems: string[] = [];
  for (const b of blocks) if (b.first <= SHARED && SHARED <= b.last) problems.push(`${b.file}: ${b.spec} includes 127.0.0.1, which every file shares with port 0`);
  for (let i = 0; i < blocks.length; i++) {
    for (let j = i + 1; j < blocks.length; j++) {
      const [a, b] = [blocks[i], blocks[j]] as [(typeof blocks)[number], (typeof blocks)[number]];
      if (a.first <= b.last && b.first <= a.last) problems.push(`${a.file} (${a.spec}) and ${b.file} (${b.spec}) overlap`);
    }
  }
  const owner = new Map<string, string>();
  for (const [file, subnets] of Object.entries(NETNS_SUBNETS)) {
    for (const s of subnets) {
      const other = owner.get(s);
      if (other !== undefined) problems.push(`${other} and ${file} both use subnet ${s}`);
      owner.set(s, file);
    }
  }
  for (const file of new Set([...Object.keys(LOOPBACK_BLOCKS), ...Object.keys(LOOPBACK_DATA), ...Object.keys(NETNS_SUBNETS)])) {
    if (!existsSync(join(root, file))) problems.push(`${file} is listed in test/helpers/addresses.ts but does not exist: remove or rename its entry`);
  }
  assert.deepEqual(problems, []);
});

test('test addresses - every file binds only the loopback addresses, cluster bases and netns subnets of its own entry', () => {
  const problems: string[] = [];
  const fix = 'take a free block in test/helpers/addresses.ts and list the file there (127.0.0.1 with port 0 needs no entry)';
  for (const [file, text] of sources()) {
    if (file === 'test/helpers/addresses.ts' || file === 'test/unit/test-addresses.test.ts') continue;
    const { loopback, templated, subnets } = claimsOf(text);
    const own = (LOOPBACK_BLOCKS[file] ?? []).map(loopbackRange);
    const data = (LOOPBACK_DATA[file] ?? []).map(loopbackRange);
    const inside = (c: Claim, ranges: { first: number; last: number }[]): boolean => ranges.some((r) => r.first <= c.first && c.last <= r.last);
    for (const c of loopback) {
      if (!inside(c, own) && !(c.first === c.last && inside(c, data))) problems.push(`${file}:${c.line}: ${c.what} is outside the file's entry (${(LOOPBACK_BLOCKS[file] ?? ['none']).join(', ')}): ${fix}`);
    }
    if (templated.length > 0 && own.length === 0 && !FROM_CALLER.has(file)) {
      problems.push(`${file}:${templated.join(',')}: builds 127.x.y.\${...} addresses but has no entry: ${fix}`);
    }
    for (const s of subnets) {
      if (!(NETNS_SUBNETS[file] ?? []).includes(s.subnet)) problems.push(`${file}:${s.line}: netns subnet ${s.subnet} is not in the file's entry in test/helpers/addresses.ts (NETNS_SUBNETS): take a free one there`);
    }
  }
  assert.deepEqual(problems, []);
});

test('test addresses - the scan sees literal addresses, cluster bases and subnets, and leaves 127.0.0.1 and CIDRs alone', () => {
  const { loopback, templated, subnets } = claimsOf(
    [
      "const a = '127.0.0.1'; const r = '127.0.0.0/8';",
      "listen(0, '127.0.0.44'); const addr = Uint8Array.of(127, 0, 0, 45);",
      'const base = 230;',
      'await startServerCluster({ size: 3, base: 60 });',
      'await startServerCluster({\n  size: 2,\n  base,\n});',
      'const h = (i: number) => `127.0.7.${i}`;',
      "startNetnsCluster({ size: 3, subnet: '10.250.9' });",
    ].join('\n'),
  );
  assert.deepEqual(
    loopback.map((c) => [c.what, c.first - loopbackNumber('127.0.0.0'), c.last - loopbackNumber('127.0.0.0'), c.line]),
    [
      ['127.0.0.44', 44, 44, 2],
      ['Uint8Array.of(127, 0, 0, 45)', 45, 45, 2],
      ['startServerCluster({ size: 3, base: 60 })', 61, 63, 4],
      ['startServerCluster({ size: 2, base: 230 })', 231, 232, 5],
    ],
  );
  assert.deepEqual(templated, [9]);
  assert.deepEqual(subnets, [{ subnet: '10.250.9', line: 10 }]);
});
