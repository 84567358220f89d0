/** The export rules of the Caxton ABI (docs/agent-abi.md section 2). */
import { Export, type FuncSig, OPTIONAL_FUNCTION_EXPORTS, REQUIRED_FUNCTION_EXPORTS, RESERVED_EXPORT_PREFIX } from '../abi.js';
import { fail, quote } from './fail.js';
import { formatSig, sameSig, type ModuleInfo } from './types.js';

function bad(message: string): never {
  return fail('CAXTON_ERR_MODULE_EXPORT', message);
}

const KIND_ARTICLE: Readonly<Record<string, string>> = {
  func: 'a function',
  table: 'a table',
  memory: 'a memory',
  global: 'a global',
};

function checkFunctionExport(m: ModuleInfo, name: string, sig: FuncSig, required: boolean): boolean {
  const e = m.exports.find((x) => x.name === name);
  if (e === undefined) {
    if (required) bad(`required export ${quote(name)} ${formatSig(sig)} is missing`);
    return false;
  }
  if (e.kind !== 'func') {
    bad(`export ${quote(name)} is ${KIND_ARTICLE[e.kind] ?? e.kind}, but the ABI requires a function ${formatSig(sig)}`);
  }
  const t = m.types[m.funcTypes[e.index]!]!;
  if (!sameSig(t, sig)) {
    bad(`export ${quote(name)} has type ${formatSig(t)}, but the ABI requires ${formatSig(sig)}`);
  }
  return true;
}

/** Checks the exports; returns whether the optional init/shutdown exports are present. */
export function checkExports(m: ModuleInfo): { hasInit: boolean; hasShutdown: boolean } {
  for (const e of m.exports) {
    if (e.name.startsWith(RESERVED_EXPORT_PREFIX)) {
      bad(`export ${quote(e.name)} uses the prefix '${RESERVED_EXPORT_PREFIX}', which is reserved for the host`);
    }
  }
  if (m.memory === null) {
    bad(`the module defines no memory; an agent must define exactly one memory and export it as '${Export.memory}'`);
  }
  const mem = m.exports.find((x) => x.name === Export.memory);
  if (mem === undefined) bad(`required export '${Export.memory}' (the module's memory) is missing`);
  if (mem.kind !== 'memory') {
    bad(`export '${Export.memory}' is ${KIND_ARTICLE[mem.kind] ?? mem.kind}, but the ABI requires the module's memory`);
  }
  for (const [name, sig] of Object.entries(REQUIRED_FUNCTION_EXPORTS)) checkFunctionExport(m, name, sig, true);
  let hasInit = false;
  let hasShutdown = false;
  for (const [name, sig] of Object.entries(OPTIONAL_FUNCTION_EXPORTS)) {
    const present = checkFunctionExport(m, name, sig, false);
    if (name === Export.init) hasInit = present;
    if (name === Export.shutdown) hasShutdown = present;
  }
  return { hasInit, hasShutdown };
}
