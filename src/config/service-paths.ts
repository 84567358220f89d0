/**
 * Where `caxton server start` finds its configuration file and data dir when neither is given
 * (docs/operations.md, "Running as a service"). In order:
 *
 * 1. `--config FILE` or CAXTON_CONFIG_PATH; `--data-dir DIR`, or node.data_dir in the file or a --set:
 *    what the operator names always wins (src/cli/server.ts applies these before asking here).
 * 2. Under systemd with the unit's directories declared (contrib/caxton.service has
 *    `ConfigurationDirectory=caxton` and `StateDirectory=caxton`): systemd exports them as
 *    CONFIGURATION_DIRECTORY and STATE_DIRECTORY, so `$CONFIGURATION_DIRECTORY/config.yaml` and
 *    `$STATE_DIRECTORY`. Only a unit that declares them has them.
 * 3. Under systemd without them (INVOCATION_ID is set in every unit's processes) and not run from a
 *    checkout: /etc/caxton/config.yaml when it exists, and /var/lib/caxton.
 * 4. Otherwise (a checkout, `npm start`, a shell): no file, and ./.caxton.
 *
 * A checkout never takes the service paths of step 3, so that a test run or `npm start` on a machine
 * that has a system-wide Caxton installed does not pick its configuration up by accident; step 2
 * needs variables only systemd sets for a unit that asks for them.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The runbook's paths. */
export const SERVICE_CONFIG_FILE = '/etc/caxton/config.yaml';
export const SERVICE_DATA_DIR = '/var/lib/caxton';

export type PathsSource = 'systemd-directories' | 'systemd' | 'checkout';

export interface DefaultPaths {
  /** The configuration file to read when none is named; undefined: none (the defaults). */
  readonly configFile: string | undefined;
  /** The data dir when none is named; undefined: the configuration's default (./.caxton). */
  readonly dataDir: string | undefined;
  /** Which rule chose them (logged at start). */
  readonly source: PathsSource;
}

export interface PathsProbe {
  /** Whether Caxton runs from a source checkout (its package directory is a git work tree). */
  readonly inCheckout: boolean;
  readonly exists: (path: string) => boolean;
}

/** Steps 2 to 4 above, from the environment. Pure: the caller passes what it found on disk. */
export function defaultPaths(env: NodeJS.ProcessEnv, probe: PathsProbe): DefaultPaths {
  // systemd may pass several directories (ConfigurationDirectory=a b): the first is Caxton's.
  const first = (v: string | undefined) => (v === undefined || v === '' ? undefined : v.split(':')[0]);
  const configDir = first(env['CONFIGURATION_DIRECTORY']);
  const stateDir = first(env['STATE_DIRECTORY']);
  if (configDir !== undefined || stateDir !== undefined) {
    // A fresh install has the directory (systemd creates it) but maybe no file yet: the defaults then.
    const file = configDir === undefined ? undefined : join(configDir, 'config.yaml');
    return { configFile: file !== undefined && probe.exists(file) ? file : undefined, dataDir: stateDir, source: 'systemd-directories' };
  }
  if (env['INVOCATION_ID'] !== undefined && env['INVOCATION_ID'] !== '' && !probe.inCheckout) {
    return { configFile: probe.exists(SERVICE_CONFIG_FILE) ? SERVICE_CONFIG_FILE : undefined, dataDir: SERVICE_DATA_DIR, source: 'systemd' };
  }
  return { configFile: undefined, dataDir: undefined, source: 'checkout' };
}

/** Whether the package at `root` is a git work tree (a checkout) rather than an installed copy. */
export function isCheckout(root: string): boolean {
  return existsSync(join(root, '.git'));
}
