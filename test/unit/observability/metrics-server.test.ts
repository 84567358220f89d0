import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMetricsServer, METRICS_CONTENT_TYPE } from '../../../src/observability/metrics-server.js';

test('metrics server - /metrics, /health, 404 for the rest, on a free port', async () => {
  let body = '# TYPE x gauge\nx 1\n';
  const server = await startMetricsServer({ host: '127.0.0.1', port: 0, metrics: { text: async () => body } });
  try {
    assert.equal(server.address.host, '127.0.0.1');
    assert.ok(server.address.port > 0);
    const base = `http://127.0.0.1:${server.address.port}`;
    const m = await fetch(`${base}/metrics`);
    assert.equal(m.status, 200);
    assert.equal(m.headers.get('content-type'), METRICS_CONTENT_TYPE);
    assert.equal(await m.text(), body);
    body = '# TYPE x gauge\nx 2\n';
    assert.equal(await (await fetch(`${base}/metrics?x=1`)).text(), body, 'a query string is ignored; each scrape is fresh');
    const h = await fetch(`${base}/health`);
    assert.equal(h.status, 200);
    await h.text();
    for (const [method, path] of [['GET', '/'], ['GET', '/metricsx'], ['GET', '/api/v1/agents'], ['POST', '/metrics'], ['DELETE', '/health']] as const) {
      const r = await fetch(`${base}${path}`, { method });
      assert.equal(r.status, 404, `${method} ${path}`);
      await r.text();
    }
  } finally {
    await server.close();
  }
});

test('metrics server - a failing scrape is a 500 with the reason, and the server keeps going', async () => {
  let fail = true;
  const server = await startMetricsServer({
    host: '127.0.0.1',
    port: 0,
    metrics: {
      text: async () => {
        if (fail) throw new Error('workers gone');
        return '';
      },
    },
  });
  try {
    const r = await fetch(`http://127.0.0.1:${server.address.port}/metrics`);
    assert.equal(r.status, 500);
    assert.match(await r.text(), /workers gone/);
    fail = false;
    assert.equal((await fetch(`http://127.0.0.1:${server.address.port}/metrics`)).status, 200);
  } finally {
    await server.close();
  }
});

test('metrics server - a port in use is an error, not a hang', async () => {
  const a = await startMetricsServer({ host: '127.0.0.1', port: 0, metrics: { text: async () => '' } });
  try {
    await assert.rejects(startMetricsServer({ host: '127.0.0.1', port: a.address.port, metrics: { text: async () => '' } }), /EADDRINUSE/);
  } finally {
    await a.close();
  }
});
