/**
 * Tests that need a program from outside npm (clang, serf) ask for it here. Missing, the test is
 * skipped with one line naming the Debian packages; under CI (CI=true) or with CAXTON_REQUIRE_TOOLS=1
 * a missing tool throws when the test file loads, so the run fails instead of quietly skipping.
 * The rule and the table of tools: scripts/outside-tools.mjs (the build uses the same).
 */
import { findRustWasm, findTool, missingToolLine, requiredToolError, toolsRequired, type OutsideToolName } from '../../scripts/outside-tools.mjs';

export interface OutsideTool {
  /** Where the program is; undefined when it is missing (and the test is skipped). */
  readonly path: string | undefined;
  /** For node:test's `skip` option: false, or the line saying what to install. */
  readonly skip: string | false;
}

export function outsideTool(name: OutsideToolName): OutsideTool {
  const path = findTool(name);
  if (path !== undefined) return { path, skip: false };
  if (toolsRequired()) throw new Error(requiredToolError(name));
  return { path: undefined, skip: missingToolLine(name) };
}

export interface RustTool extends OutsideTool {
  /** The cargo beside that rustc (Debian's /usr/bin/cargo), when there is one. */
  readonly cargo: string | undefined;
}

/**
 * A rustc that builds for wasm32-unknown-unknown (rustc + libstd-rust-dev-wasm32): the Rust example
 * agents exist in build/agents only where it did (scripts/build-agents.mjs). With `cargo` the test
 * needs cargo too.
 */
export function rustTool(needs: 'rustc' | 'cargo' = 'rustc'): RustTool {
  const found = findRustWasm();
  const missing = [...found.missing, ...(needs === 'cargo' && found.rustc !== undefined && found.cargo === undefined ? ['cargo'] : [])];
  if (missing.length === 0) return { path: found.rustc, cargo: found.cargo, skip: false };
  if (toolsRequired()) throw new Error(requiredToolError(needs, missing));
  return { path: undefined, cargo: undefined, skip: missingToolLine(needs, missing) };
}
