/** `caxton server start`: run a node in the foreground, configured from a file, `--set` and flags. */
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { CaxtonError, isCaxtonError } from '../errors.js';
import { VERSION } from '../version.js';
import type { CaxtonNode } from '../node.js';
import type { LoadedConfig, ResolvedConfig } from '../config/index.js';
import type { DefaultPaths, PathsProbe } from '../config/service-paths.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAddress, type Address } from '../config/address.js';
import type { ParkRequest } from '../cluster/node-stop.js';
import type { ParkedNode } from './parked-node.js';
import { SUPERVISOR_ENV, supervisedChild } from './supervisor-ipc.js';
// The node and the config schema are loaded inside the action: every other CLI command imports this
// file to register `server`, and should not pay for them.

interface StartFlags {
  config?: string;
  set: string[];
  dataDir?: string;
  nodeId?: string;
  apiAddr?: string;
  metricsAddr?: string;
  bindAddr?: string;
  workers?: string;
  logLevel?: string;
  bootstrap?: boolean;
  bootstrapExpect?: string;
  join?: string;
  releases?: string;
}

/**
 * Flags that are shorthands for a config key; they win over the file and --set. `text`: the value is
 * a string, passed quoted (a --set value is read as YAML, where `[::1]:7946` would be a list).
 */
const FLAG_KEYS: readonly [keyof StartFlags, string, string, 'text' | 'yaml'][] = [
  ['dataDir', 'node.data_dir', '--data-dir', 'text'],
  ['nodeId', 'node.id', '--node-id', 'text'],
  ['apiAddr', 'server.api_addr', '--api-addr', 'text'],
  ['metricsAddr', 'server.metrics_addr', '--metrics-addr', 'text'],
  ['bindAddr', 'coordination.cluster.bind_addr', '--bind-addr', 'text'],
  ['workers', 'runtime.workers', '--workers', 'yaml'],
  ['logLevel', 'observability.logging.level', '--log-level', 'text'],
  ['bootstrapExpect', 'coordination.cluster.bootstrap_expect', '--bootstrap-expect', 'yaml'],
  ['releases', 'server.releases_dir', '--releases', 'text'],
];

export function registerServer(program: Command): Command {
  const server = program.command('server').description('run and inspect a Caxton node');
  server
    .command('start')
    .description('start a node in the foreground (stop it with Ctrl-C or SIGTERM: it drains the agents first)')
    .option('-c, --config <file>', 'YAML configuration file (docs/configuration.md); env CAXTON_CONFIG_PATH')
    .option('--set <key=value>', 'override one config key, e.g. --set messaging.queue_size=20000 (repeatable)', (v: string, acc: string[]) => [...acc, v], [])
    .option('--data-dir <dir>', 'where the node keeps its database and admin key (node.data_dir, default ./.caxton)')
    .option('--node-id <id>', "this node's name (node.id, default: the host name)")
    .option('--api-addr <host:port>', 'REST API address (server.api_addr, default 127.0.0.1:8080)')
    .option('--metrics-addr <host:port>', 'Prometheus address (server.metrics_addr, default 127.0.0.1:9090)')
    .option('--bind-addr <host:port>', 'cluster gossip address (coordination.cluster.bind_addr, default 127.0.0.1:7946)')
    .option('--bootstrap', 'start a cluster here (coordination.cluster.enabled): gossip on --bind-addr')
    .option('--bootstrap-expect <n>', 'nodes the cluster should have (coordination.cluster.bootstrap_expect)')
    .option('--join <host:port,...>', 'join a cluster through these nodes (coordination.cluster.seeds); retried until one answers')
    .option('--workers <n>', 'agent worker threads (runtime.workers, default: cores - 1)')
    .option('--log-level <level>', 'trace, debug, info, warn or error (observability.logging.level)')
    .option('--releases <dir>', 'run under a supervisor that starts the node from <dir>/current and can switch it to another installed release (server.releases_dir; `caxton cluster upgrade`)')
    .action(async (flags: StartFlags) => {
      const loaded = await loadWithFlags(flags);
      const releases = loaded.resolved.server.releasesDir;
      if (releases !== undefined && process.env[SUPERVISOR_ENV.supervised] !== '1') {
        const { runSupervisor } = await import('./supervisor.js');
        return runSupervisor(loaded.resolved, releases);
      }
      await runNode(loaded, flags);
    });
  return server;
}

/**
 * Loads the configuration: defaults < file < --set < flags. Errors name the flag that was given.
 * Without --config / CAXTON_CONFIG_PATH and --data-dir, the service paths apply (src/config/service-paths.ts:
 * systemd's directories, or /etc/caxton and /var/lib/caxton under systemd outside a checkout).
 */
export async function loadWithFlags(flags: StartFlags, env: NodeJS.ProcessEnv = process.env, probe: PathsProbe = installProbe()): Promise<LoadedConfig & { paths: DefaultPaths }> {
  const [{ loadConfig, DEFAULT_CONFIG }, { defaultPaths }] = await Promise.all([import('../config/index.js'), import('../config/service-paths.js')]);
  const paths = defaultPaths(env, probe);
  const sets = [...flags.set];
  // Each flag's --set argument, and the flag and value to name in an error instead of it.
  const shown: [string, string][] = [];
  for (const [field, key, flag, kind] of FLAG_KEYS) {
    const v = flags[field];
    if (typeof v !== 'string') continue;
    const set = `${key}=${kind === 'text' ? JSON.stringify(v) : v}`;
    sets.push(set);
    shown.push([set, `${flag} ${v}`]);
  }
  if (flags.bootstrap === true || flags.bootstrapExpect !== undefined || flags.join !== undefined) sets.push('coordination.cluster.enabled=true');
  if (flags.join !== undefined) {
    const seeds = flags.join.split(',').map((x) => x.trim()).filter((x) => x !== '');
    const set = `coordination.cluster.seeds=${JSON.stringify(seeds)}`;
    sets.push(set);
    shown.push([set, `--join ${flags.join}`]);
  }
  const file = flags.config ?? env['CAXTON_CONFIG_PATH'] ?? paths.configFile;
  try {
    const loaded = loadConfig({ ...(file === undefined ? {} : { file }), sets, env });
    // The service's data dir, unless the file, a --set or --data-dir named one (sets come after the file).
    if (paths.dataDir === undefined || loaded.config.node.data_dir !== DEFAULT_CONFIG.node.data_dir) return { ...loaded, paths };
    return { ...loadConfig({ ...(file === undefined ? {} : { file }), sets: [...sets, `node.data_dir=${JSON.stringify(paths.dataDir)}`], env }), paths };
  } catch (e) {
    if (!isCaxtonError(e, 'CAXTON_ERR_CONFIG_INVALID')) throw e;
    let message = e.message;
    for (const [set, flag] of shown) message = message.split(`--set ${set}:`).join(`${flag}:`);
    throw new CaxtonError('CAXTON_ERR_CONFIG_INVALID', message, e.details === undefined ? undefined : { ...e.details });
  }
}

/** What the service-path rule looks at: whether this copy of Caxton is a checkout, and the disk. */
function installProbe(): PathsProbe {
  // src/cli or dist/cli: the package directory is two levels up either way.
  const root = fileURLToPath(new URL('../../', import.meta.url));
  return { inCheckout: existsSync(join(root, '.git')), exists: existsSync };
}

/** The config key of an address, or the flag that set it. */
function addressSource(flags: StartFlags, field: 'apiAddr' | 'metricsAddr' | 'bindAddr', key: string, flag: string): string {
  return flags[field] === undefined ? key : flag;
}

/**
 * security.api.tls's files, checked before anything listens: a missing, unreadable, world-readable,
 * expired or mismatched file stops the start with an error naming it (src/security/tls-material.ts).
 */
async function loadApiTls(t: ResolvedConfig['security']['api']['tls']) {
  const { loadServerTls } = await import('../security/tls-material.js');
  const clientCa = t.clientAuth === 'none' ? undefined : t.caCert;
  const files = loadServerTls({ cert: t.cert, key: t.key, caCert: clientCa });
  return { cert: files.cert, key: files.key, ...(files.ca === undefined ? {} : { ca: files.ca }), clientAuth: t.clientAuth, files: { cert: t.cert, key: t.key, caCert: clientCa }, fingerprint: files.fingerprint, notAfter: files.notAfter };
}

async function runNode(loaded: LoadedConfig & { paths: DefaultPaths }, flags: StartFlags): Promise<void> {
  const [{ CaxtonNode }, { createLogger }, { diffConfig, lookupError, parseConfigText, redactConfig, resolveAddress }, { LogFile }] = await Promise.all([
    import('../node.js'),
    import('../observability/logger.js'),
    import('../config/index.js'),
    import('../observability/log-file.js'),
  ]);
  const c = loaded.resolved;
  const lf = c.observability.logging.file;
  const logFile = lf.path === '' ? undefined : new LogFile({ path: lf.path, maxBytes: lf.maxBytes, maxBackups: lf.maxBackups });
  if (logFile !== undefined) process.stderr.write(`caxton: logging to ${lf.path} (rotated at ${lf.maxBytes} bytes, ${lf.maxBackups} kept; SIGHUP reopens it)\n`);
  const logger = createLogger({ level: c.observability.logging.level, format: c.observability.logging.format, ...(logFile === undefined ? {} : { destination: logFile.stream }) });
  // The API and metrics addresses go to listen() as they are: it resolves a name itself, and
  // `localhost` then listens on both 127.0.0.1 and ::1, as fastify and Node do. What the node
  // advertises to other nodes must be one IP, so the gossip bind and advertise addresses are resolved
  // here, once, by the resolver every address goes through (a name that does not resolve stops the
  // start with an error naming the key or flag). Seeds are resolved at each join attempt instead.
  const cl = c.coordination.cluster;
  const bind = { address: cl.bindAddr, where: addressSource(flags, 'bindAddr', 'coordination.cluster.bind_addr', '--bind-addr') };
  const advertise = cl.advertiseAddr === 'auto' ? undefined : { address: cl.advertiseAddr, where: 'coordination.cluster.advertise_addr' };
  const names = cl.enabled ? [bind, advertise].filter((x) => x !== undefined && isIP(x.address.host) === 0) : [];
  if (names.length > 0) logger.info({ names: names.map((x) => `${x?.where} ${x?.address.host}`) }, 'resolving host names (up to 5 s each)');
  const [bindAddr, advertiseAddr] = await Promise.all([
    cl.enabled ? resolveAddress(bind.address, bind.where) : cl.bindAddr,
    cl.enabled && advertise !== undefined ? resolveAddress(advertise.address, advertise.where) : cl.advertiseAddr,
  ]);
  // Under `--releases`: the supervisor that started this process (src/cli/supervisor.ts).
  const supervised = supervisedChild();
  // Signal handlers go in before the node starts, so a SIGTERM during start-up still stops it cleanly.
  let node: CaxtonNode | undefined;
  // After `cluster stop --all`: the node is stopped and this listener answers until a start (src/cli/parked-node.ts).
  let parked: ParkedNode | undefined;
  let stopRequested: string | undefined;
  // The log file's last lines are written before the process exits.
  const exit = (code: number) => void (logFile?.flush() ?? Promise.resolve()).then(() => process.exit(code));
  const stopAndExit = (n: CaxtonNode) => {
    n.stop().then(
      () => exit(0),
      (e: unknown) => {
        logger.error({ err: e }, 'shutdown failed');
        exit(1);
      },
    );
  };
  const shutdown = (signal: string) => {
    if (parked !== undefined) {
      // Parked after `cluster stop --all`: the node is stopped already.
      logger.info({ signal }, 'parked: exiting');
      void parked.close().then(() => process.exit(0));
      return;
    }
    if (stopRequested !== undefined) {
      // Every step of a stop is bounded (CaxtonNode.stop), so a repeated SIGTERM (a supervisor
      // re-sending it) must not cut the drain short. A second Ctrl-C is a person who wants out now:
      // what is at-least-once is in the outbox and is delivered after the next start.
      if (signal === 'SIGINT' && stopRequested === 'SIGINT') {
        logger.warn({ signal }, 'second Ctrl-C: exiting without waiting for the drain');
        process.exit(1);
      }
      logger.info({ signal }, 'already shutting down; every step is bounded (messaging.drain_timeout for the agents)');
      return;
    }
    stopRequested = signal;
    logger.info({ signal }, 'shutting down: draining agents');
    if (node !== undefined) stopAndExit(node);
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  // The supervisor is gone (killed): stop as it would have asked, draining the agents.
  if (supervised !== undefined) process.on('disconnect', () => shutdown('SIGTERM'));
  // SIGHUP (`systemctl reload caxton`) reopens the log file (after logrotate moved it) and reloads the
  // certificate files (docs/security.md, "Reloading certificates"); before the node runs there are no
  // certificates to reload, and Node's default for SIGHUP (exit) must not apply either way.
  process.on('SIGHUP', () => {
    if (logFile !== undefined) {
      logFile.reopen();
      logger.info({ signal: 'SIGHUP', file: lf.path }, 'log file reopened');
    }
    if (node === undefined || stopRequested !== undefined) return;
    logger.info({ signal: 'SIGHUP' }, 'reloading the certificate files');
    node.reloadCerts('SIGHUP');
  });
  if (!c.security.api.authEnabled) logger.warn('security.api.auth_enabled is false: the API answers anyone who can reach it');
  if (loaded.source.file !== undefined) logger.info({ file: loaded.source.file }, 'configuration loaded');
  if (loaded.paths.source !== 'checkout') logger.info({ rule: loaded.paths.source, configFile: loaded.paths.configFile ?? null, dataDir: c.node.dataDir }, 'running as a service: service paths apply (docs/operations.md, "Running as a service")');
  const metricsOn = c.observability.metrics.enabled;
  const apiTls = c.security.api.tls.enabled ? await loadApiTls(c.security.api.tls) : undefined;
  if (apiTls !== undefined) logger.info({ clientAuth: apiTls.clientAuth, certFingerprint: apiTls.fingerprint, certNotAfter: apiTls.notAfter.toISOString() }, 'the API serves HTTPS (TLS 1.3)');
  // One node after another in this process: a restart (POST /server/restart) stops the node and
  // starts a new one from the configuration file read again (docs/operations.md, "Rolling restart").
  const start = (c: ResolvedConfig, loaded: LoadedConfig, rejoin: readonly Address[], was?: CaxtonNode) => CaxtonNode.start({
    dataDir: c.node.dataDir,
    nodeId: c.node.id,
    logger,
    policy: c.runtime.policy,
    restartPolicy: c.runtime.restartPolicy,
    workers: c.runtime.workers,
    maxAgents: c.runtime.maxAgents,
    moduleCacheBytes: c.runtime.moduleCacheBytes,
    mailboxCapacity: c.messaging.mailboxCapacity,
    mailboxBytes: c.messaging.mailboxBytes,
    maxMessageBytes: c.messaging.maxMessageBytes,
    capabilityStrategy: c.messaging.capabilityStrategy,
    drainTimeoutMs: c.messaging.drainTimeoutMs,
    relay: c.messaging.relay,
    synchronous: c.coordination.localState.synchronous,
    mcpServers: c.integrations.mcp.servers,
    api: {
      // Port 0 (any free port) binds the port the node had before a restart: clients keep their URL.
      addr: samePort(c.server.apiAddr, was?.apiAddress),
      bodyLimitBytes: c.server.bodyLimitBytes,
      requestTimeoutMs: c.server.requestTimeoutMs,
      maxModuleBytes: c.runtime.policy.maxModuleBytes,
      rateLimit: c.security.api.rateLimit,
      authEnabled: c.security.api.authEnabled,
      audit: c.observability.audit,
      ...(apiTls === undefined ? {} : { tls: apiTls }),
    },
    ...(metricsOn ? { metrics: { addr: samePort(c.server.metricsAddr, was?.metricsAddress) } } : {}),
    ...(c.coordination.cluster.enabled
      ? {
          cluster: {
            bind: bindAddr,
            ...(advertiseAddr === 'auto' ? {} : { advertise: advertiseAddr }),
            profile: c.coordination.cluster.profile,
            timings: c.coordination.cluster.timings,
            direct: c.coordination.cluster.direct,
            // After a restart with no seeds configured: the members it had.
            seeds: c.coordination.cluster.seeds.length > 0 ? c.coordination.cluster.seeds : rejoin,
            keys: c.security.gossipKeys.map((k) => new Uint8Array(Buffer.from(k, 'base64'))),
            expect: c.coordination.cluster.bootstrapExpect,
            replication: c.coordination.replication,
            partition: c.coordination.partition,
            mtls: c.security.clusterMtls,
          },
        }
      : {}),
    backup: { s3: c.backup.s3, ...(c.backup.caKey === '' ? {} : { caKey: c.backup.caKey }) },
    config: {
      view: () => redactConfig(loaded.config),
      diff: (yaml, file) => diffConfig(loaded.config, parseConfigText(yaml, file, process.env).config),
    },
    // `emergency stop --cluster`: the agents are stopped already; the node stops now and the process
    // exits with 0, so a supervisor that restarts on failure (systemd's Restart=on-failure) leaves it down.
    exit: (reason) => {
      if (stopRequested !== undefined) return;
      stopRequested = 'emergency';
      logger.warn({ reason }, 'emergency stop: stopping the node now, without a drain; the process exits with 0');
      if (node !== undefined) stopAndExit(node);
    },
    restart: (r) => void restart(r.reason, r.peers, r.version),
    park: (r) => void park(r),
    ...(supervised === undefined ? {} : { releasesDir: supervised.releasesDir }),
  }).catch((e: unknown) => {
    // listen() looked the name up itself: say which key or flag held it, as for the other addresses.
    const failed = e as NodeJS.ErrnoException & { hostname?: string };
    if (failed.syscall !== 'getaddrinfo') throw e;
    for (const [a, where] of [
      [c.server.apiAddr, addressSource(flags, 'apiAddr', 'server.api_addr', '--api-addr')],
      ...(metricsOn ? [[c.server.metricsAddr, addressSource(flags, 'metricsAddr', 'server.metrics_addr', '--metrics-addr')] as const] : []),
    ] as const) {
      if (a.host === failed.hostname) throw lookupError(where, a, e);
    }
    throw e;
  });
  const restart = async (reason: string, peers: readonly Address[], version?: string) => {
    const old = node;
    if (old === undefined || stopRequested !== undefined) return;
    node = undefined;
    try {
      logger.warn({ reason, ...(version === undefined ? {} : { version }) }, 'restarting: stopping the node');
      await old.stop();
      if (stopRequested !== undefined) process.exit(0);
      // Another release (`caxton cluster upgrade`): the supervisor starts it once this process is gone.
      if (version !== undefined && supervised !== undefined) {
        await supervised.switchTo(version, reason, peers);
        logger.warn({ reason, version }, `stopped: the supervisor starts release ${version}`);
        process.exit(0);
      }
      // The point of a restart: settings that cannot be reloaded come from the file as it is now.
      const again = await loadWithFlags(flags);
      if (again.source.file !== undefined) logger.info({ file: again.source.file }, 'configuration read again');
      node = await start(again.resolved, again, peers, old);
      supervised?.ready(VERSION, again.resolved.node.id);
      logger.info({ reason }, 'restarted');
    } catch (e) {
      logger.error({ err: e }, 'restart failed: exiting (the supervisor starts the node again)');
      process.exit(1);
    }
    if (stopRequested !== undefined) stopAndExit(node);
  };
  // Stopped with the cluster: the node stops, the process parks; `cluster start` starts it again, as a
  // restart does (configuration read again, same data dir and addresses, rejoining the recorded members).
  const park = async (r: ParkRequest) => {
    const old = node;
    if (old === undefined || stopRequested !== undefined) return;
    node = undefined;
    try {
      await old.stop();
      if (stopRequested !== undefined) process.exit(0);
      const peers = r.record.members.filter((m) => m.name !== old.options.nodeId).flatMap((m) => parseAddress(m.gossip) ?? []);
      const unpark = async () => {
        await parked?.close();
        parked = undefined;
        try {
          const again = await loadWithFlags(flags);
          node = await start(again.resolved, again, peers, old);
          supervised?.ready(VERSION, again.resolved.node.id);
          logger.info({ reason: r.reason }, 'started again after the cluster stop');
        } catch (e) {
          logger.error({ err: e }, 'start after the cluster stop failed: exiting (the supervisor starts the node again)');
          process.exit(1);
        }
        if (stopRequested !== undefined) stopAndExit(node);
      };
      const { parkNode } = await import('./parked-node.js');
      const { restoreParked } = await import('../cluster/node-restore.js');
      parked = await parkNode({
        nodeId: old.options.nodeId, version: VERSION, addr: old.apiAddress ?? c.server.apiAddr, ...(apiTls === undefined ? {} : { tls: apiTls }), keys: old.keys, reason: r.reason, stoppedAt: r.record.stopped_at, record: r.record, logger,
        onStart: () => void unpark(),
        // `caxton cluster restore`: this node's own backup into its own data dir, while it is stopped.
        onRestore: (req, record, by) => restoreParked({ nodeId: old.options.nodeId, dataDir: old.options.dataDir, record, s3: c.backup.s3, audit: c.observability.audit, logger }, req, by),
      });
    } catch (e) {
      logger.error({ err: e }, 'stopping with the cluster failed: exiting');
      process.exit(1);
    }
  };
  // After a switch of release, with no seeds configured: the members the node had (from the supervisor).
  node = await start(c, loaded, supervised?.rejoin ?? []);
  supervised?.ready(VERSION, c.node.id);
  if (stopRequested !== undefined) stopAndExit(node);
}

/** The configured address, or with port 0 (any free port) the one a previous run of the node had bound. */
function samePort(configured: Address, bound: Address | undefined): Address {
  return configured.port === 0 && bound !== undefined ? bound : configured;
}
