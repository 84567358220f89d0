/**
 * Admission worker thread entry: validates, rewrites and compiles modules off the main thread, one at
 * a time (an 8 MiB module takes ~2 s, which on the main thread stalled every API request and every
 * message routed through it). The compiled WebAssembly.Module goes back to the main thread by
 * structured clone (V8 shares the compiled code between threads), the rewritten bytes by transfer.
 */
import { parentPort } from 'node:worker_threads';
import { isCaxtonError } from '../errors.js';
import type { AdmitReply, AdmitRequest } from './admission.js';
import { admitModule } from './wasm/index.js';

const port = parentPort;
if (port === null) throw new Error('admission-worker must run as a worker thread');

port.on('message', (req: AdmitRequest) => {
  let reply: AdmitReply;
  try {
    const admitted = admitModule(req.bytes, req.policy);
    const module = new WebAssembly.Module(admitted.bytes);
    reply = { id: req.id, ok: true, admitted, module };
    port.postMessage(reply, [admitted.bytes.buffer as ArrayBuffer]);
    return;
  } catch (e) {
    reply = isCaxtonError(e)
      ? { id: req.id, ok: false, error: { code: e.code, name: e.name, message: e.message, ...(e.details === undefined ? {} : { details: { ...e.details } }) } }
      : { id: req.id, ok: false, error: { name: e instanceof Error ? e.name : 'Error', message: e instanceof Error ? e.message : String(e) } };
  }
  port.postMessage(reply);
});
