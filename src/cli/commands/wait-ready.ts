/**
 * `caxton server wait-ready`: waits until the node a configuration describes answers `GET
 * /api/v1/ready` with 200. contrib/caxton.service runs it as `ExecStartPost=`, so that systemd
 * counts the service as started only once the node takes requests (Type=exec + this check instead of
 * Type=notify: Node has no sd_notify, and a `systemd-notify` child races systemd on the PID it
 * reports from; docs/operations.md, "Running as a service").
 *
 * It reads the configuration as `server start` does (the same --config, --set and service paths), so
 * the unit names the file once for both. The address comes from server.api_addr (0.0.0.0 and :: are
 * asked on loopback); HTTPS is checked against the node's own certificate (security.api.tls.cert).
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Command } from 'commander';
import { CliError, usageError } from '../errors.js';
import { durationOption } from '../parse.js';
import { formatDuration } from '../output.js';
import { loadWithFlags } from '../server.js';
import { ok, sleep } from './common.js';

interface WaitFlags {
  config?: string;
  set: string[];
  apiUrl?: string;
  timeout: number;
  clientCert?: string;
  clientKey?: string;
}

/** How often the API is asked, ms. */
const POLL_MS = 250;
/** How long one request may take, ms. */
const REQUEST_MS = 2000;

export function registerWaitReady(server: Command): Command {
  return server
    .command('wait-ready')
    .description('wait until the node of this configuration answers /ready (systemd ExecStartPost=); exit 1 after --timeout')
    .option('-c, --config <file>', 'the node\'s configuration file, as given to `server start` (env CAXTON_CONFIG_PATH; default: the service paths)')
    .option('--set <key=value>', 'a config override given to `server start` (repeatable)', (v: string, acc: string[]) => [...acc, v], [])
    .option('--api-url <url>', 'ask this URL instead of server.api_addr (needed when api_addr has port 0)')
    .option('--timeout <duration>', 'how long to wait, e.g. 90s', durationOption('--timeout'), 90_000)
    .option('--client-cert <file>', 'client certificate for an API with security.api.tls.client_auth: required')
    .option('--client-key <file>', 'its private key')
    .action(async (flags: WaitFlags) => {
      const loaded = await loadWithFlags({ ...(flags.config === undefined ? {} : { config: flags.config }), set: flags.set });
      const c = loaded.resolved;
      const tls = c.security.api.tls;
      const url = flags.apiUrl ?? apiUrl(c.server.apiAddr, tls.enabled);
      const ca = tls.enabled && flags.apiUrl === undefined ? readFileSync(tls.cert) : undefined;
      const cert = flags.clientCert === undefined ? undefined : readFileSync(flags.clientCert);
      const key = flags.clientKey === undefined ? undefined : readFileSync(flags.clientKey);
      const t0 = Date.now();
      let last = 'no answer yet';
      while (Date.now() - t0 < flags.timeout) {
        const r = await ready(`${url}/api/v1/ready`, { ca, cert, key });
        if (r === true) {
          process.stdout.write(ok(`ready: ${url} answered after ${formatDuration(Date.now() - t0)}`));
          return;
        }
        last = r;
        await sleep(Math.min(POLL_MS, Math.max(0, flags.timeout - (Date.now() - t0))));
      }
      throw new CliError(`the node at ${url} was not ready within ${formatDuration(flags.timeout)}: ${last}`, {
        hint: 'See its log (journalctl -u caxton, or observability.logging.file); a slow start with many agents may need a longer --timeout.',
        code: 'CAXTON_CLI_TIMEOUT',
      });
    });
}

/** The URL of server.api_addr as seen from this machine. */
function apiUrl(addr: { host: string; port: number }, https: boolean): string {
  if (addr.port === 0) throw usageError('server.api_addr has port 0 (any free port): the port is not known in advance', 'Give the node a fixed port, or pass --api-url.');
  const host = addr.host === '0.0.0.0' || addr.host === '' ? '127.0.0.1' : addr.host === '::' ? '::1' : addr.host;
  return `${https ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
}

/** true when the node answered 200; otherwise why not. */
function ready(url: string, tls: { ca: Buffer | undefined; cert: Buffer | undefined; key: Buffer | undefined }): Promise<true | string> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const opts = {
      timeout: REQUEST_MS,
      // Pinned to the node's own certificate: whatever host name it was issued for.
      ...(tls.ca === undefined ? {} : { ca: tls.ca, checkServerIdentity: () => undefined }),
      ...(tls.cert === undefined ? {} : { cert: tls.cert }),
      ...(tls.key === undefined ? {} : { key: tls.key }),
    };
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, opts, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? true : `answered ${res.statusCode}`);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_MS} ms`)));
    req.on('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
    req.end();
  });
}
