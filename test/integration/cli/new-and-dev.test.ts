/**
 * `caxton new` and `caxton dev` together, as docs/first-agent.md has an author use them: a generated
 * AssemblyScript echo project, installed, run by dev on a node it starts (built with the project's own
 * `npm run build`), answering; then an edit of its source, and the upgraded version answering.
 * Two cold asc builds: the slow part on 2 cores.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newAgentProject } from '../../../src/scaffold/index.js';
import { freePort } from '../../unit/cluster/serf/serf-harness.js';
import { request, runDev } from '../../helpers/dev-session.js';
import { npmInstall } from '../../helpers/project-commands.js';
import { tempDir } from '../../helpers/tmp.js';

test('caxton new + dev - a generated echo project is deployed by dev, answers, and an edit of its source is upgraded into the running agent', { timeout: 600_000 }, async (t) => {
  const tmp = tempDir('caxton-new-dev-');
  t.after(tmp.cleanup);
  const project = newAgentProject({ name: 'my-echo', lang: 'assemblyscript', template: 'echo', cwd: tmp.path });
  await npmInstall(project.dir);
  const apiUrl = `http://127.0.0.1:${await freePort()}`;
  const dev = runDev([project.dir, '--api-url', apiUrl]);
  t.after(() => void dev.child.kill('SIGKILL'));

  const first = (await dev.waitFor(/^\[dev\] deployed my-echo: module sha256:([0-9a-f]{64}) /m, 0, 300_000))[1];
  await dev.waitFor(/^\[dev\] watching .*; Ctrl-C stops$/m);
  const key = readFileSync(join(project.dir, '.caxton-dev', 'admin.key'), 'utf8').trim();
  const echoed = await request(apiUrl, key, 'my-echo', { text: 'hi' });
  assert.deepEqual([echoed.performative, echoed.content], ['inform', { text: 'hi' }]);

  // The author's edit: the content comes back wrapped, {"echo": <content>}.
  const src = join(project.dir, 'assembly', 'index.ts');
  const before = readFileSync(src, 'utf8');
  const edited = before
    .replace('import { Message, Performative,', 'import { jsonObject, Message, Performative,')
    .replace('reply(msg, Performative.INFORM, msg.content)', 'reply(msg, Performative.INFORM, jsonObject().set("echo", msg.content))');
  assert.equal(edited.split('jsonObject').length, 3, 'the echo template changed: update this edit');
  const mark = dev.out().length;
  writeFileSync(src, edited);
  const second = (await dev.waitFor(/^\[dev\] upgraded my-echo \(immediate, state kept\): module sha256:([0-9a-f]{64}) /m, mark, 300_000))[1];
  assert.notEqual(second, first);
  assert.match(dev.out().slice(mark), /^\[dev\] .*assembly\/index\.ts changed: building/m);
  const reply = await request(apiUrl, key, 'my-echo', { text: 'again' });
  assert.deepEqual([reply.performative, reply.content], ['inform', { echo: { text: 'again' } }]);

  dev.child.kill('SIGINT');
  assert.equal(await dev.exited, 0, dev.err());
});
