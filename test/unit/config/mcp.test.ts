import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CaxtonConfigSchema, DEFAULT_CONFIG, REDACTED, diffConfig, parseConfigText, redactConfig } from '../../../src/config/index.js';
import { MCP_SERVER_DEFAULTS } from '../../../src/config/defaults.js';
import { schemaAt } from '../../../src/config/paths.js';
import { isCaxtonError } from '../../../src/errors.js';

const load = (yaml: string, env: NodeJS.ProcessEnv = {}) => parseConfigText(yaml, 'c.yaml', env);

/** The messages of the CAXTON_ERR_CONFIG_INVALID that loading `yaml` throws. */
function problems(yaml: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    load(yaml, env);
  } catch (e) {
    assert.ok(isCaxtonError(e, 'CAXTON_ERR_CONFIG_INVALID'), String(e));
    return e.message;
  }
  assert.fail('the config loaded');
}

const STDIO = `integrations:
  mcp:
    servers:
      - name: memory
        transport: stdio
        command: mcp-server-memory
        args: ["--flag"]
        env:
          API_TOKEN: \${TOKEN}
          PORT: \${PORT}
        allow: ["assistant-*", "capability:notes"]
        timeout: 5s
        rate_limit: { calls_per_second: 2 }
      - name: weather
        transport: http
        url: https://weather.internal/mcp
        headers:
          Authorization: "Bearer \${TOKEN}"
`;

test('config mcp - servers resolve with their defaults under the keys the file gave', () => {
  const { resolved } = load(STDIO, { TOKEN: 's3cr3t-value', PORT: '8081' });
  const [memory, weather] = resolved.integrations.mcp.servers;
  assert.deepEqual(memory, {
    name: 'memory',
    transport: 'stdio',
    command: 'mcp-server-memory',
    args: ['--flag'],
    // A variable that looks like a number stays text: an environment value is a string.
    env: { API_TOKEN: 's3cr3t-value', PORT: '8081' },
    url: '',
    headers: {},
    allow: ['assistant-*', 'capability:notes'],
    timeoutMs: 5000,
    maxConcurrent: MCP_SERVER_DEFAULTS.max_concurrent,
    maxConcurrentPerAgent: MCP_SERVER_DEFAULTS.max_concurrent_per_agent,
    rateLimit: { callsPerSecond: 2, burst: 100, agentCallsPerSecond: 10, agentBurst: 20 },
    auditArguments: false,
  });
  assert.equal(weather?.url, 'https://weather.internal/mcp');
  assert.deepEqual(weather?.headers, { Authorization: 'Bearer s3cr3t-value' });
  assert.equal(weather?.timeoutMs, 30_000);
  assert.deepEqual(load('').resolved.integrations.mcp.servers, []);
});

test('config mcp - env and header values are *** in config show and config diff, their names are not', () => {
  const { config } = load(STDIO, { TOKEN: 's3cr3t-value', PORT: '8081' });
  const shown = JSON.stringify(redactConfig(config));
  assert.ok(!shown.includes('s3cr3t-value'), shown);
  const servers = (redactConfig(config) as typeof config).integrations.mcp.servers;
  assert.deepEqual(servers[0]?.env, { API_TOKEN: REDACTED, PORT: REDACTED });
  assert.deepEqual(servers[1]?.headers, { Authorization: REDACTED });
  assert.equal(servers[0]?.command, 'mcp-server-memory');
  const diff = diffConfig(config, DEFAULT_CONFIG);
  assert.equal(diff.length, 1);
  assert.equal(diff[0]?.key, 'integrations.mcp.servers');
  assert.ok(!JSON.stringify(diff).includes('s3cr3t-value'), JSON.stringify(diff));
  assert.ok(JSON.stringify(diffConfig(config, DEFAULT_CONFIG, { redact: false })).includes('s3cr3t-value'));
});

test('config mcp - an unset variable in env is an error naming it', () => {
  assert.match(problems(STDIO, { PORT: '1' }), /environment variable TOKEN is not set/);
});

test('config mcp - each transport needs its own keys and refuses the other\'s', () => {
  const m1 = problems('integrations:\n  mcp:\n    servers:\n      - { name: a, transport: stdio }\n      - { name: b, transport: http }\n      - { name: c, transport: http, url: "ftp://x/" }\n      - { name: d, transport: stdio, command: x, url: "http://x/" }\n      - { name: e, transport: http, url: "http://u:p@x/" }\n');
  assert.match(m1, /servers\[0\]\.command is required for a stdio server \("a"\)/);
  assert.match(m1, /servers\[1\]\.url must be an http:\/\/ or https:\/\/ URL/);
  assert.match(m1, /servers\[2\]\.url must be/);
  assert.match(m1, /servers\[3\]\.url applies to http servers only/);
  assert.match(m1, /servers\[4\]\.url must be an http:\/\/ or https:\/\/ URL without credentials/);
});

test('config mcp - names are unique and plain; unknown keys and bad values are refused', () => {
  assert.match(problems('integrations:\n  mcp:\n    servers:\n      - { name: a, transport: stdio, command: x }\n      - { name: a, transport: stdio, command: y }\n'), /"a" is the name of servers\[0\] already/);
  assert.match(problems('integrations:\n  mcp:\n    servers:\n      - { name: "mcp:x", transport: stdio, command: x }\n'), /name/);
  assert.match(problems('integrations:\n  mcp:\n    servers:\n      - { name: a, transport: pipe, command: x }\n'), /transport/);
  assert.match(problems('integrations:\n  mcp:\n    servers:\n      - { name: a, transport: stdio, command: x, comand: y }\n'), /comand/);
  assert.match(problems('integrations:\n  mcp:\n    servers:\n      - { name: a, transport: stdio, command: x, timeout: 0 }\n'), /timeout/);
  assert.match(problems('integrations:\n  mcp:\n    servers:\n      - { name: a, transport: stdio, command: x, env: { "1BAD": v } }\n'), /env/);
  assert.match(problems('integrations:\n  mcp:\n    servers:\n      - { name: a, transport: stdio, command: x, allow: ["bad name!"] }\n'), /allow/);
});

test('config mcp - docs/configuration.md has a row for every server key, with its default', () => {
  const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
  const rows = new Map([...doc.matchAll(/^\| `integrations\.mcp\.servers\[\]\.([a-z0-9_.]+)` \| [^|]+ \| ([^|]+) \|/gm)].map((m) => [m[1] as string, (m[2] as string).trim()]));
  const item = schemaAt(CaxtonConfigSchema, ['integrations', 'mcp', 'servers', 0]);
  const keys: string[] = [];
  for (const [k, s] of Object.entries(item?.['properties'] as Record<string, { properties?: Record<string, unknown> }>)) {
    if (k === 'rate_limit') keys.push(...Object.keys(s.properties ?? {}).map((sub) => `${k}.${sub}`));
    else keys.push(k);
  }
  for (const key of keys) {
    assert.ok(rows.has(key), `docs/configuration.md documents integrations.mcp.servers[].${key}`);
    if (key === 'name' || key === 'transport') {
      assert.equal(rows.get(key), '(required)');
      continue;
    }
    const [a, b] = key.split('.') as [keyof typeof MCP_SERVER_DEFAULTS, string | undefined];
    const v: unknown = b === undefined ? MCP_SERVER_DEFAULTS[a] : (MCP_SERVER_DEFAULTS[a] as Record<string, unknown>)[b];
    const shown = Array.isArray(v) ? `[${v.join(', ')}]` : v === '' ? '""' : typeof v === 'object' ? '{}' : String(v);
    assert.equal(rows.get(key), `\`${shown}\``, `default of ${key} in docs/configuration.md`);
  }
  assert.deepEqual([...rows.keys()].filter((k) => !keys.includes(k)), [], 'no rows for keys that do not exist');
});
