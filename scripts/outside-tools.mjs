// The programs from outside npm that parts of the build and of the test suite use, and the one rule
// for when one is missing:
//
//   - on a developer's machine it is skipped, with one line naming the Debian packages to install;
//   - under CI (CI=true) or with CAXTON_REQUIRE_TOOLS=1 it is an error, so that CI runs everything.
//
// Plain Node ESM with no dependencies: scripts/build-agents.mjs imports it during `npm install`, before
// anything is compiled, and the tests import it through test/helpers/outside-tools.ts.

import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** What each tool is, where it comes from, and what needs it. */
export const OUTSIDE_TOOLS = {
  clang: {
    commands: ['clang', 'clang-19', 'clang-16', 'clang-14'],
    packages: 'clang lld wasi-libc',
    usedFor: 'the C example agent (examples/c-echo) and the C agent templates (caxton new agent --lang c)',
  },
  'wasm-ld': {
    commands: ['wasm-ld'], // clang calls it by this name
    packages: 'lld',
    usedFor: 'linking the C example agent',
  },
  serf: {
    commands: ['serf'],
    packages: 'serf',
    usedFor: 'the interop tests against a real serf 0.9.4 agent',
  },
  zsh: {
    commands: ['zsh'],
    packages: 'zsh',
    usedFor: 'the test of the zsh completion script',
  },
  fish: {
    commands: ['fish'],
    packages: 'fish',
    usedFor: 'the test of the fish completion script',
  },
  'nats-server': {
    commands: ['nats-server'],
    packages: 'nats-server',
    usedFor: 'the NATS peer figures of the cluster-routing benchmark (opt-in, never in the tests)',
  },
  prlimit: {
    commands: ['prlimit'],
    packages: 'util-linux',
    usedFor: 'the capacity test that runs a node out of address space',
  },
  openssl: {
    commands: ['openssl'],
    packages: 'openssl',
    usedFor: 'the outside check of the built-in CA\'s certificates (openssl verify, openssl x509 -text); never used by src/',
  },
  'systemd-analyze': {
    commands: ['systemd-analyze'],
    packages: 'systemd',
    usedFor: 'checking contrib/caxton.service with systemd-analyze verify',
  },
  chromium: {
    commands: ['chromium', 'chromium-browser'],
    packages: 'chromium',
    usedFor: 'the dashboard tests in a headless browser (driven by playwright-core; no browser is downloaded)',
  },
  ip: {
    commands: ['ip'],
    packages: 'iproute2',
    usedFor: 'the network-partition tests (network namespaces, veth pairs and a bridge; they also need root)',
  },
};

/** True when a missing tool must fail the run instead of being skipped. */
export function toolsRequired(env = process.env) {
  return env.CI === 'true' || env.CI === '1' || env.CAXTON_REQUIRE_TOOLS === '1';
}

/** The first executable named `cmd` on PATH, or undefined. */
export function which(cmd, env = process.env) {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** The path of a tool (the first of its command names on PATH), or undefined. */
export function findTool(name, env = process.env) {
  const tool = OUTSIDE_TOOLS[name];
  if (tool === undefined) throw new Error(`unknown outside tool ${name}`);
  for (const cmd of tool.commands) {
    const p = which(cmd, env);
    if (p !== undefined) return p;
  }
  return undefined;
}

/**
 * The one line printed for a missing tool: what it is for and the Debian packages to install.
 * `missing` names the commands that were not found when they are not just the tool itself.
 */
export function missingToolLine(name, missing = [name]) {
  const tool = OUTSIDE_TOOLS[name];
  return `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not installed, needed for ${tool.usedFor}: apt-get install ${tool.packages}`;
}

/** The error for a missing tool when tools are required (CI=true or CAXTON_REQUIRE_TOOLS=1). */
export function requiredToolError(name, missing = [name]) {
  const why = process.env.CAXTON_REQUIRE_TOOLS === '1' ? 'CAXTON_REQUIRE_TOOLS=1' : 'CI=true';
  return `${missingToolLine(name, missing)} (required because ${why}; unset it to skip instead)`;
}
