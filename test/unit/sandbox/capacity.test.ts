import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressSpaceCeiling, isWasmAllocationFailure, mapCountCeiling, TRAP_HANDLER_AGENT_CEILING, trapHandlerDisabled } from '../../../src/sandbox/capacity.js';

test('capacity - the trap-handler flag is seen on the command line or in NODE_OPTIONS, as a whole word', () => {
  assert.equal(trapHandlerDisabled(['--disable-wasm-trap-handler'], undefined), true);
  assert.equal(trapHandlerDisabled([], '--max-old-space-size=512  --disable-wasm-trap-handler'), true);
  assert.equal(trapHandlerDisabled(['--import', 'tsx'], ''), false);
  assert.equal(trapHandlerDisabled([], '--disable-wasm-trap-handlers'), false);
});

test('capacity - the address space limits agents only while the trap handler is on', () => {
  assert.equal(addressSpaceCeiling(false), TRAP_HANDLER_AGENT_CEILING);
  assert.equal(addressSpaceCeiling(true), Infinity);
});

test('capacity - only V8\'s wasm allocation failures count as the process being full', () => {
  assert.equal(isWasmAllocationFailure(new RangeError('WebAssembly.Instance(): Out of memory: Cannot allocate Wasm memory for new instance')), true);
  assert.equal(isWasmAllocationFailure(new RangeError('WebAssembly.Memory(): could not allocate memory')), true);
  assert.equal(isWasmAllocationFailure(new RangeError('Maximum call stack size exceeded')), false);
  assert.equal(isWasmAllocationFailure(new Error('Cannot allocate Wasm memory')), false);
  // A real one, from V8: a memory larger than wasm32 allows is a different RangeError.
  assert.throws(() => new WebAssembly.Memory({ initial: 65537 }), (e: unknown) => e instanceof RangeError && !isWasmAllocationFailure(e));
});

test('capacity - vm.max_map_count bounds agents at 2.1 mappings each, with a tenth kept for the rest', () => {
  assert.equal(mapCountCeiling(65_530), 28_084);
  assert.equal(mapCountCeiling(262_144), 112_347);
});
