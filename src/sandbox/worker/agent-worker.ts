/**
 * Worker thread entry: wires the parent port to a WorkerRuntime and opens this thread's own
 * connection to the node's SQLite database (WAL lets every worker read and write it).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteAgentStateStore } from '../../storage/agent-state-store.js';
import { openDatabase } from '../../storage/database.js';
import { OutboxStore } from '../../storage/outbox-store.js';
import { SqliteAgentTimerStore } from '../../storage/agent-timer-store.js';
import type { FromWorker, ToWorker, WorkerInit } from '../worker-protocol.js';
import { WorkerRuntime } from './runtime.js';

const init = workerData as WorkerInit;
const port = parentPort;
if (port === null) throw new Error('agent-worker must run as a worker thread');

// A kv write waiting for another worker's write lock gives up after 1 s (ERR_UNAVAILABLE to the agent)
// rather than sitting out the call's whole wall-clock limit and getting an innocent worker killed.
const db = openDatabase(init.databasePath, { busyTimeoutMs: 1000 });
const store = new SqliteAgentStateStore(db);
const outbox = new OutboxStore(db);
const runtime = new WorkerRuntime({
  workerIndex: init.workerIndex,
  fuelPerCall: init.fuelPerCall,
  maxMessageBytes: init.maxMessageBytes,
  mailboxCapacity: init.mailboxCapacity,
  mailboxBytes: init.mailboxBytes,
  store,
  timers: new SqliteAgentTimerStore(db),
  outbox,
  redeliverAfterMs: init.redeliverAfterMs,
  watch: new Int32Array(init.watch),
  directCounters: new Float64Array(init.directStats),
  post: (msg: FromWorker) => port.postMessage(msg),
});

port.on('message', (msg: ToWorker) => {
  switch (msg.op) {
    case 'deliver':
      runtime.deliverBatch(msg.batch);
      break;
    case 'module':
      runtime.addModule(msg.hash, msg.module);
      break;
    case 'forget_module':
      runtime.modules.delete(msg.hash);
      break;
    case 'forget_handled':
      runtime.forgetHandled(msg.name);
      break;
    case 'spawn':
      runtime.spawn(msg);
      break;
    case 'restart':
      runtime.restart(msg.name, msg.restarts);
      break;
    case 'hold':
      runtime.hold(msg.name, msg.held);
      break;
    case 'drain':
      runtime.drainAgent(msg.name);
      break;
    case 'stop':
      runtime.stop(msg.name);
      break;
    case 'circuit':
      runtime.circuit(msg.name, msg.action, msg.rampMs);
      break;
    case 'upgrade':
      runtime.upgrade(msg.name, msg.hash, msg.graceful);
      break;
    case 'canary_start':
      runtime.startCanary(msg.name, msg.hash, msg.percent, msg.limits);
      break;
    case 'canary_percent':
      runtime.setCanaryPercent(msg.name, msg.percent);
      break;
    case 'canary_end':
      runtime.endCanary(msg.name, msg.promote, msg.reason);
      break;
    case 'peer':
      // Deliveries from another worker's agents, in the same flat form as the main thread's.
      msg.port.on('message', (m: { op: 'deliver'; batch: (string | number)[] }) => runtime.deliverBatch(m.batch));
      runtime.setPeer(msg.worker, msg.port);
      break;
    case 'placement':
      runtime.setPlacements(msg.batch);
      break;
    case 'replicate':
      runtime.replicate(msg.name, msg.mode, msg.epoch, msg.seq);
      break;
    case 'replicated':
      runtime.replicated(msg.batch);
      break;
    case 'direct_start':
      runtime.startDirect(msg.config).then(
        (p) => port.postMessage({ op: 'direct_listening', port: p } satisfies FromWorker),
        (e: Error) => port.postMessage({ op: 'direct_listening', port: 0, error: e.message } satisfies FromWorker),
      );
      break;
    case 'route':
      runtime.grantRoute(msg.name, msg.node);
      break;
    case 'route_refused':
      runtime.routeRefused(msg.name);
      break;
    case 'fence':
      runtime.fenceArrived(msg.name, msg.token, msg.host, msg.port, msg.node);
      break;
    case 'drop_node':
      runtime.dropNode(msg.node);
      break;
    case 'direct_tls':
      runtime.setDirectTls(msg.tls);
      break;
    case 'direct_revoked':
      runtime.directRevoked(msg.rows);
      break;
    case 'conversations':
      port.postMessage({ op: 'conversations', reqId: msg.reqId, conversations: runtime.conversations.list() } satisfies FromWorker);
      break;
    case 'stats':
      port.postMessage({ op: 'stats', reqId: msg.reqId, agents: runtime.stats() } satisfies FromWorker);
      break;
    case 'handled':
      port.postMessage({ op: 'handled', reqId: msg.reqId, ids: runtime.handled(msg.name, msg.max) } satisfies FromWorker);
      break;
    case 'activity':
      port.postMessage({ op: 'activity', reqId: msg.reqId, ...runtime.activity() } satisfies FromWorker);
      break;
    case 'conversation_hashes': {
      const hashes = runtime.conversations.hashes();
      port.postMessage({ op: 'conversation_hashes', reqId: msg.reqId, hashes } satisfies FromWorker, [hashes.buffer as ArrayBuffer]);
      break;
    }
    case 'conversation':
      port.postMessage({ op: 'conversation', reqId: msg.reqId, conversation: runtime.conversations.get(msg.id), hops: runtime.hops.forConversation(msg.id) } satisfies FromWorker);
      break;
  }
});

// Idle conversations are forgotten in the background.
setInterval(() => runtime.conversations.sweep(Date.now()), 10_000).unref();

port.on('close', () => {
  runtime.closeDirect();
  db.close();
});
