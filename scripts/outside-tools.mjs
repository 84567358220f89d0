// The programs from outside npm that parts of the build and of the test suite use, and the one rule
// for when one is missing:
//
//   - on a developer's machine it is skipped, with one line naming the Debian packages to install;
//   - under CI (CI=true) or with CAXTON_REQUIRE_TOOLS=1 it is an error, so that CI runs everything.
//
// Plain Node ESM with no dependencies: scripts/build-agents.mjs imports it during `npm install`, before
// anything is compiled, and the tests import it through test/helpers/outside-tools.ts.

import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

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
  rustc: {
    commands: ['rustc'],
    packages: 'rustc libstd-rust-dev-wasm32',
    usedFor: 'the Rust example agents (examples/rust-*, sdk/rust), built for wasm32-unknown-unknown',
  },
  cargo: {
    commands: ['cargo'],
    packages: 'cargo rustc libstd-rust-dev-wasm32',
    usedFor: "the Rust SDK's unit tests (cargo test in sdk/rust) and the Rust agent templates",
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

function executable(p) {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Every executable named `cmd` on PATH, in PATH order. */
export function whichAll(cmd, env = process.env) {
  return (env.PATH ?? '').split(delimiter).filter((dir) => dir !== '').map((dir) => join(dir, cmd)).filter(executable);
}

/** The first executable named `cmd` on PATH, or undefined. */
export function which(cmd, env = process.env) {
  return whichAll(cmd, env)[0];
}

/**
 * A rustc that can build for wasm32-unknown-unknown (its sysroot has that target's std, which
 * Debian ships as libstd-rust-dev-wasm32), and the cargo beside it. CAXTON_RUSTC names one;
 * otherwise every rustc on PATH is tried in order, so that a rustup toolchain without the wasm32
 * target ahead of Debian's on PATH does not hide Debian's. `missing` names what is not installed.
 */
export function findRustWasm(env = process.env) {
  const candidates = env.CAXTON_RUSTC ? [env.CAXTON_RUSTC] : whichAll('rustc', env);
  let ran = false;
  for (const rustc of candidates) {
    const r = spawnSync(rustc, ['--print', 'sysroot'], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    ran = true;
    const lib = join(r.stdout.trim(), 'lib', 'rustlib', 'wasm32-unknown-unknown', 'lib');
    if (existsSync(lib) && readdirSync(lib).some((f) => f.startsWith('libstd-'))) {
      const beside = join(dirname(rustc), 'cargo');
      return { rustc, cargo: executable(beside) ? beside : which('cargo', env), missing: [] };
    }
  }
  return { rustc: undefined, cargo: undefined, missing: [ran ? "rustc's wasm32-unknown-unknown std" : 'rustc'] };
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
