/** Admission in its worker thread gives the same verdicts as admission on the calling thread. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdmissionWorker } from '../../../src/sandbox/admission.js';
import { admitModule } from '../../../src/sandbox/wasm/index.js';
import { DEFAULT_POLICY, makePolicy } from '../../../src/sandbox/policy.js';
import { isCaxtonError } from '../../../src/errors.js';
import { agentWasm, fixtureWasm } from '../../helpers/agents.js';

const FIXTURES = ['malformed', 'truncated', 'not-wasm', 'bad-import', 'bad-import-signature', 'huge-memory', 'threads', 'reserved-export', 'wrong-abi-version'];

test('admission worker - every rejection keeps its code, message and details', async () => {
  const worker = new AdmissionWorker();
  try {
    let rejected = 0;
    for (const name of FIXTURES) {
      const bytes = fixtureWasm(name);
      let expected: unknown;
      try {
        admitModule(bytes, DEFAULT_POLICY);
      } catch (e) {
        expected = e;
      }
      if (expected === undefined) {
        await worker.admit(bytes, DEFAULT_POLICY); // admitted here too
        continue;
      }
      rejected++;
      assert.ok(isCaxtonError(expected));
      await assert.rejects(worker.admit(bytes, DEFAULT_POLICY), (e: unknown) => {
        assert.ok(isCaxtonError(e), `${name}: ${String(e)}`);
        assert.deepEqual(e.toJSON(), expected.toJSON(), name);
        return true;
      });
    }
    assert.ok(rejected >= 5, `only ${rejected} fixtures were rejected`);
    const tooLarge = makePolicy({ maxModuleBytes: 1024 });
    await assert.rejects(worker.admit(agentWasm('echo'), tooLarge), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_MODULE_TOO_LARGE') && /sandbox\.max_module_bytes/.test(e.message));
  } finally {
    await worker.close();
  }
});

test('admission worker - the compiled module comes back usable with the admission\'s facts', async () => {
  const worker = new AdmissionWorker();
  try {
    const bytes = agentWasm('echo'); // a Buffer, as the API hands them over
    const before = Buffer.from(bytes);
    const { admitted, module } = await worker.admit(bytes, DEFAULT_POLICY);
    assert.ok(before.equals(bytes), 'the caller keeps its bytes, unchanged (they are stored after admission)');
    const local = admitModule(bytes, DEFAULT_POLICY);
    assert.deepEqual({ ...admitted, bytes: [...admitted.bytes] }, { ...local, bytes: [...local.bytes] });
    assert.ok(module instanceof WebAssembly.Module);
    assert.ok(WebAssembly.Module.exports(module).some((e) => e.name === 'handle_message'));
    // A policy error (a caller's bug, not the module's) keeps its type too.
    await assert.rejects(worker.admit(bytes, makePolicy({ fuelPerCall: -1 })), (e: unknown) => e instanceof TypeError && /fuelPerCall/.test(e.message));
  } finally {
    await worker.close();
  }
});

test('admission worker - after close, admissions are refused', async () => {
  const worker = new AdmissionWorker();
  await worker.admit(agentWasm('echo'), DEFAULT_POLICY);
  await worker.close();
  await assert.rejects(worker.admit(agentWasm('echo'), DEFAULT_POLICY), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_POOL_CLOSED'));
});
