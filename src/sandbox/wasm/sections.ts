/**
 * The section walk: header, section order and sizes, and every section except the function bodies
 * (see code.ts). Enforces the structural caps of the policy, the feature allow-list for structures
 * (shared/64-bit memories, passive segments, multiple tables, ...) and the host-import rules.
 */
import { HOST_IMPORTS, HOST_MODULE } from '../abi.js';
import type { SandboxPolicy } from '../policy.js';
import { readConstExpr, type ConstExprScope } from './constexpr.js';
import { at, fail, hex, invalid, limit, malformed, pagesToHuman, quote } from './fail.js';
import {
  F_BULK_MEMORY,
  F_EXCEPTIONS,
  F_GC,
  F_MEMORY64,
  F_MULTI_MEMORY,
  F_MULTI_VALUE,
  F_MUTABLE_GLOBAL,
  F_REFERENCE_TYPES,
  F_THREADS,
  requireFeature,
} from './features.js';
import { Reader } from './reader.js';
import {
  formatSig,
  readValType,
  rejectTypeByte,
  sameSig,
  T_EXTERNREF,
  T_FUNCREF,
  type ExportKind,
  type FuncType,
  type Limits,
  type ModuleInfo,
  type SectionInfo,
} from './types.js';

export const SEC_CUSTOM = 0;
export const SEC_TYPE = 1;
export const SEC_IMPORT = 2;
export const SEC_FUNCTION = 3;
export const SEC_TABLE = 4;
export const SEC_MEMORY = 5;
export const SEC_GLOBAL = 6;
export const SEC_EXPORT = 7;
export const SEC_START = 8;
export const SEC_ELEMENT = 9;
export const SEC_CODE = 10;
export const SEC_DATA = 11;
export const SEC_DATACOUNT = 12;
export const SEC_TAG = 13;

export const SECTION_NAMES = [
  'custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code',
  'data', 'datacount', 'tag',
] as const;

/** Position of each known section id in the required order (custom sections may go anywhere). */
export const SECTION_RANK: readonly number[] = [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 13, 11, 6];

/** The largest number of pages of a 32-bit memory. */
export const MAX_WASM_PAGES = 65536;

const KIND_NAMES: readonly ExportKind[] = ['func', 'table', 'memory', 'global'];

export function sectionName(id: number): string {
  return SECTION_NAMES[id] ?? `unknown (${id})`;
}

export function parseModule(bytes: Uint8Array, policy: SandboxPolicy, allowed: number): ModuleInfo {
  const r = new Reader(bytes);
  r.where = 'module header';
  if (bytes.length < 8) {
    if (bytes.length >= 4 && !hasMagic(bytes)) badMagic(bytes);
    if (bytes.length < 4 && !bytes.every((b, i) => b === MAGIC[i])) badMagic(bytes);
    malformed(`truncated: the module is ${bytes.length} bytes, shorter than the 8-byte header (magic and version)`, 0);
  }
  if (!hasMagic(bytes)) badMagic(bytes);
  const version = (bytes[4]! | (bytes[5]! << 8) | (bytes[6]! << 16) | (bytes[7]! << 24)) >>> 0;
  if (version !== 1) {
    malformed(
      `unsupported binary format version ${version} (0x${version.toString(16).padStart(8, '0')}); ` +
        'only core WebAssembly version 1 is supported' +
        (version === 0x1000d ? ' (this looks like a component, not a core module)' : ''),
      4,
    );
  }
  r.pos = 8;

  const m: ModuleInfo = {
    sections: [],
    types: [],
    typeEntriesStart: -1,
    imports: [],
    funcTypes: [],
    numImportedFuncs: 0,
    tables: [],
    memory: null,
    globals: [],
    globalEntriesStart: -1,
    exports: [],
    exportEntriesStart: -1,
    start: null,
    referencedFuncs: new Set(),
    elemSegments: 0,
    dataCount: null,
    dataSegments: 0,
    bodyStarts: [],
    bodyEnds: [],
    codeEntriesStart: -1,
  };
  let lastRank = 0;
  let definedFuncs = 0;
  let sawFunction = false;
  let sawCode = false;
  let sawData = false;

  while (r.pos < bytes.length) {
    const start = r.pos;
    r.where = 'section header';
    r.func = -1;
    r.end = bytes.length;
    const id = r.u8('a section id');
    if (id > SEC_TAG) malformed(`unknown section id ${id} at ${at(start)}`, start);
    const name = sectionName(id);
    const size = r.u32(`the size of section '${name}'`);
    const contentStart = r.pos;
    if (size > bytes.length - contentStart) {
      malformed(
        `truncated: section '${name}' (id ${id}) at ${at(start)} declares ${size} bytes, ` +
          `but only ${bytes.length - contentStart} remain`,
        start,
      );
    }
    const end = contentStart + size;
    if (id !== SEC_CUSTOM) {
      const rank = SECTION_RANK[id]!;
      if (rank <= lastRank) {
        const dup = m.sections.some((s) => s.id === id);
        malformed(
          dup
            ? `duplicate section '${name}' (id ${id}) at ${at(start)}`
            : `section '${name}' (id ${id}) at ${at(start)} is out of order`,
          start,
        );
      }
      lastRank = rank;
    }
    const info: SectionInfo = { id, start, contentStart, end };
    m.sections.push(info);
    r.end = end;
    r.where = `section '${name}'`;

    switch (id) {
      case SEC_CUSTOM:
        r.name('the custom section name');
        r.pos = end;
        break;
      case SEC_TYPE:
        parseTypes(r, m, allowed);
        break;
      case SEC_IMPORT:
        parseImports(r, m, policy);
        break;
      case SEC_FUNCTION: {
        sawFunction = true;
        const n = r.count('functions', 1);
        if (m.numImportedFuncs + n > policy.maxFunctions) {
          limit(
            `the module has ${m.numImportedFuncs + n} functions (${m.numImportedFuncs} imported), ` +
              `over the limit of ${policy.maxFunctions}`,
            start,
          );
        }
        for (let i = 0; i < n; i++) {
          const off = r.pos;
          const t = r.u32('a type index');
          if (t >= m.types.length) {
            invalid(
              `function #${m.funcTypes.length} declared at ${at(off)} uses type ${t}, ` +
                `but the module has ${m.types.length} types`,
              off,
            );
          }
          m.funcTypes.push(t);
        }
        definedFuncs = n;
        break;
      }
      case SEC_TABLE:
        parseTables(r, m, policy, allowed);
        break;
      case SEC_MEMORY:
        parseMemory(r, m, policy);
        break;
      case SEC_GLOBAL:
        parseGlobals(r, m, policy, allowed);
        break;
      case SEC_EXPORT:
        parseExports(r, m, policy, allowed);
        break;
      case SEC_START: {
        const off = r.pos;
        const f = r.u32('the start function index');
        if (f >= m.funcTypes.length) {
          invalid(`start function #${f} does not exist (${m.funcTypes.length} functions) at ${at(off)}`, off);
        }
        const t = m.types[m.funcTypes[f]!]!;
        if (t.params.length !== 0 || t.results.length !== 0) {
          invalid(`start function #${f} has type ${formatSig(t)}; a start function must be (func)`, off);
        }
        m.start = f;
        m.referencedFuncs.add(f);
        break;
      }
      case SEC_ELEMENT:
        parseElements(r, m, allowed);
        break;
      case SEC_DATACOUNT:
        requireFeature(allowed, F_BULK_MEMORY, `the data count section at ${at(start)}`, start);
        m.dataCount = r.u32('the data count');
        break;
      case SEC_CODE: {
        sawCode = true;
        const n = r.count('function bodies', 2);
        if (n !== definedFuncs) {
          malformed(
            `function and code section have inconsistent lengths: ${definedFuncs} functions declared, ` +
              `${n} bodies in the code section at ${at(start)}`,
            start,
          );
        }
        m.codeEntriesStart = r.pos;
        for (let i = 0; i < n; i++) {
          const off = r.pos;
          r.func = m.numImportedFuncs + i;
          const sz = r.u32('the size of a function body');
          if (sz > policy.maxFunctionBodyBytes) {
            limit(
              `function #${r.func} body at ${at(off)} is ${sz} bytes, over the limit of ${policy.maxFunctionBodyBytes} bytes`,
              off,
            );
          }
          if (sz > r.end - r.pos) {
            malformed(
              `truncated: function #${r.func} body at ${at(off)} declares ${sz} bytes, but only ` +
                `${r.end - r.pos} remain in section 'code'`,
              off,
            );
          }
          if (sz === 0) malformed(`function #${r.func} body at ${at(off)} is empty`, off);
          m.bodyStarts.push(r.pos);
          r.pos += sz;
          m.bodyEnds.push(r.pos);
        }
        r.func = -1;
        break;
      }
      case SEC_DATA:
        sawData = true;
        parseData(r, m, allowed);
        break;
      case SEC_TAG:
        requireFeature(0, F_EXCEPTIONS, `the tag section at ${at(start)}`, start);
        break;
    }
    if (r.pos !== end) {
      malformed(
        `section '${name}' at ${at(start)} declares ${size} bytes, but its content ends at ${at(r.pos)} ` +
          `(${end - r.pos} unexpected bytes)`,
        r.pos,
      );
    }
  }
  if (sawFunction && definedFuncs > 0 && !sawCode) {
    malformed(`function and code section have inconsistent lengths: ${definedFuncs} functions declared, no code section`);
  }
  if (m.dataCount !== null && !sawData && m.dataCount !== 0) {
    malformed(
      `data count and data section have inconsistent lengths: the data count section says ${m.dataCount}, ` +
        `the data section has ${m.dataSegments}`,
    );
  }
  return m;
}

const MAGIC = [0x00, 0x61, 0x73, 0x6d];

function hasMagic(b: Uint8Array): boolean {
  return b[0] === 0x00 && b[1] === 0x61 && b[2] === 0x73 && b[3] === 0x6d;
}

function badMagic(b: Uint8Array): never {
  const found = Array.from(b.subarray(0, 4), (x) => x.toString(16).padStart(2, '0')).join(' ');
  return malformed(
    `bad magic: a WebAssembly module starts with 00 61 73 6d ("\\0asm"), these bytes start with ${found || 'nothing'}`,
    0,
  );
}

function parseTypes(r: Reader, m: ModuleInfo, allowed: number): void {
  const n = r.count('types', 3);
  m.typeEntriesStart = r.pos;
  for (let i = 0; i < n; i++) {
    const off = r.pos;
    const form = r.u8('a type form');
    if (form !== 0x60) {
      if (form === 0x5e || form === 0x5f || form === 0x50 || form === 0x4f || form === 0x4e) {
        requireFeature(0, F_GC, `type #${i} (form ${hex(form)}) at ${at(off)}`, off);
      }
      malformed(`type #${i} at ${at(off)} has unknown form ${hex(form)} (expected 0x60, a function type)`, off);
    }
    const np = r.count('parameters', 1);
    const params: number[] = [];
    for (let j = 0; j < np; j++) params.push(readValType(r, allowed));
    const nr = r.count('results', 1);
    const results: number[] = [];
    for (let j = 0; j < nr; j++) results.push(readValType(r, allowed));
    if (nr > 1) requireFeature(allowed, F_MULTI_VALUE, `type #${i} ${formatSig({ params, results })} at ${at(off)}`, off);
    const t: FuncType = { params, results };
    m.types.push(t);
  }
}

function notAbi(what: string, off: number): never {
  return fail('CAXTON_ERR_MODULE_IMPORT', what, off);
}

function parseImports(r: Reader, m: ModuleInfo, policy: SandboxPolicy): void {
  const n = r.count('imports', 4);
  if (n > policy.maxImports) limit(`the module has ${n} imports, over the limit of ${policy.maxImports}`, r.pos);
  for (let i = 0; i < n; i++) {
    const off = r.pos;
    const mod = r.name('an import module name');
    const name = r.name('an import name');
    const full = quote(`${mod}.${name}`);
    const kOff = r.pos;
    const kind = r.u8('an import kind');
    switch (kind) {
      case 0: {
        const t = r.u32('a type index');
        if (t >= m.types.length) {
          invalid(`import ${full} at ${at(off)} uses type ${t}, but the module has ${m.types.length} types`, off);
        }
        const ft = m.types[t]!;
        const sig = mod === HOST_MODULE && Object.hasOwn(HOST_IMPORTS, name) ? HOST_IMPORTS[name] : undefined;
        if (sig === undefined) {
          notAbi(
            `import ${full} ${formatSig(ft)} is not part of the Caxton ABI: agents may import only the ` +
              `functions of module '${HOST_MODULE}' listed in docs/agent-abi.md`,
            off,
          );
        }
        if (!sameSig(ft, sig)) {
          notAbi(`import ${full} has type ${formatSig(ft)}, but the Caxton ABI defines it as ${formatSig(sig)}`, off);
        }
        m.imports.push({ module: mod, name });
        m.funcTypes.push(t);
        m.numImportedFuncs++;
        break;
      }
      case 1:
        notAbi(`import ${full} (table) is not part of the Caxton ABI: agents may import only functions`, off);
        break;
      case 2:
        notAbi(
          `import ${full} (memory) is not part of the Caxton ABI: an agent must define its own memory and export it as 'memory'`,
          off,
        );
        break;
      case 3:
        notAbi(`import ${full} (global) is not part of the Caxton ABI: agents may import only functions`, off);
        break;
      case 4:
        requireFeature(0, F_EXCEPTIONS, `import ${full} (tag) at ${at(off)}`, off);
        break;
      default:
        malformed(`import ${full} at ${at(off)} has unknown kind ${hex(kind)}`, kOff);
    }
  }
}

/** Limits of a table or memory (`what` is "table 0" or "memory 0"). max is null when absent. */
function readLimits(r: Reader, what: string): Limits {
  const off = r.pos;
  const flags = r.u8('a limits flag');
  if (flags === 0x02 || flags === 0x03) {
    requireFeature(0, F_THREADS, `shared ${what} (limits flag ${hex(flags)}) at ${at(off)}`, off);
  }
  if (flags >= 0x04 && flags <= 0x07) {
    requireFeature(0, F_MEMORY64, `64-bit ${what} (limits flag ${hex(flags)}) at ${at(off)}`, off);
  }
  if (flags > 0x01) malformed(`${what} at ${at(off)} has unknown limits flag ${hex(flags)}`, off);
  const min = r.u32(`the minimum of ${what}`);
  const max = flags === 0x01 ? r.u32(`the maximum of ${what}`) : null;
  return { min, max };
}

function parseTables(r: Reader, m: ModuleInfo, policy: SandboxPolicy, allowed: number): void {
  const n = r.count('tables', 3);
  for (let i = 0; i < n; i++) {
    const off = r.pos;
    const idx = m.tables.length;
    if (idx >= 1) requireFeature(allowed, F_REFERENCE_TYPES, `a second table (table ${idx} at ${at(off)})`, off);
    const t = r.u8('a table element type');
    if (t === T_EXTERNREF) {
      requireFeature(allowed, F_REFERENCE_TYPES, `table ${idx} of externref at ${at(off)}`, off);
    } else if (t !== T_FUNCREF) {
      rejectTypeByte(t, r, off, 'table element type');
    }
    const lim = readLimits(r, `table ${idx}`);
    if (lim.min > policy.maxTableElements) {
      limit(
        `table ${idx} minimum ${lim.min} elements exceeds the cap of ${policy.maxTableElements} elements`,
        off,
      );
    }
    if (lim.max !== null && lim.max < lim.min) {
      invalid(`table ${idx} at ${at(off)} has maximum ${lim.max} below its minimum ${lim.min}`, off);
    }
    m.tables.push({ elemType: t, limits: lim });
  }
}

function parseMemory(r: Reader, m: ModuleInfo, policy: SandboxPolicy): void {
  const n = r.count('memories', 2);
  for (let i = 0; i < n; i++) {
    const off = r.pos;
    if (m.memory !== null) requireFeature(0, F_MULTI_MEMORY, `a second memory (memory ${i} at ${at(off)})`, off);
    const lim = readLimits(r, `memory ${i}`);
    if (lim.min > policy.maxMemoryPages) {
      limit(
        `memory minimum ${lim.min} pages (${pagesToHuman(lim.min)}) exceeds the cap of ${policy.maxMemoryPages} ` +
          `pages (${pagesToHuman(policy.maxMemoryPages)})`,
        off,
      );
    }
    if (lim.max !== null && lim.max > MAX_WASM_PAGES) {
      invalid(`memory ${i} at ${at(off)} has maximum ${lim.max} pages, above the 65536 pages of a 32-bit memory`, off);
    }
    if (lim.max !== null && lim.max < lim.min) {
      invalid(`memory ${i} at ${at(off)} has maximum ${lim.max} pages below its minimum ${lim.min}`, off);
    }
    m.memory = lim;
  }
}

function parseGlobals(r: Reader, m: ModuleInfo, policy: SandboxPolicy, allowed: number): void {
  const n = r.count('globals', 4);
  if (n > policy.maxGlobals) limit(`the module has ${n} globals, over the limit of ${policy.maxGlobals}`, r.pos);
  m.globalEntriesStart = r.pos;
  for (let i = 0; i < n; i++) {
    const type = readValType(r, allowed);
    const mOff = r.pos;
    const mut = r.u8('a global mutability flag');
    if (mut > 1) malformed(`global ${i} at ${at(mOff)} has unknown mutability flag ${hex(mut)}`, mOff);
    const scope: ConstExprScope = { m, allowed, globalLimit: m.globals.length, refOpsNeedFeature: true };
    readConstExpr(r, scope, `the initialiser of global ${i}`);
    m.globals.push({ type, mutable: mut === 1 });
  }
}

function parseExports(r: Reader, m: ModuleInfo, policy: SandboxPolicy, allowed: number): void {
  const n = r.count('exports', 3);
  if (n > policy.maxExports) limit(`the module has ${n} exports, over the limit of ${policy.maxExports}`, r.pos);
  m.exportEntriesStart = r.pos;
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const off = r.pos;
    const name = r.name('an export name');
    const kOff = r.pos;
    const kind = r.u8('an export kind');
    if (kind === 4) requireFeature(0, F_EXCEPTIONS, `export ${quote(name)} (tag) at ${at(off)}`, off);
    const kindName = KIND_NAMES[kind];
    if (kindName === undefined) malformed(`export ${quote(name)} at ${at(off)} has unknown kind ${hex(kind)}`, kOff);
    const index = r.u32('an export index');
    const count =
      kind === 0 ? m.funcTypes.length : kind === 1 ? m.tables.length : kind === 2 ? (m.memory ? 1 : 0) : m.globals.length;
    if (index >= count) {
      invalid(`export ${quote(name)} at ${at(off)} refers to ${kindName} ${index}, which does not exist (${count} defined)`, off);
    }
    if (seen.has(name)) invalid(`duplicate export name ${quote(name)} at ${at(off)}`, off);
    seen.add(name);
    if (kind === 3 && m.globals[index]!.mutable) {
      requireFeature(allowed, F_MUTABLE_GLOBAL, `export ${quote(name)} of a mutable global`, off);
    }
    m.exports.push({ name, kind: kindName, index });
    if (kind === 0) m.referencedFuncs.add(index);
  }
}

function parseElements(r: Reader, m: ModuleInfo, allowed: number): void {
  const n = r.count('element segments', 3);
  const offsetScope: ConstExprScope = { m, allowed, globalLimit: m.globals.length, refOpsNeedFeature: true };
  const elemScope: ConstExprScope = { m, allowed, globalLimit: m.globals.length, refOpsNeedFeature: false };
  for (let i = 0; i < n; i++) {
    const off = r.pos;
    const flags = r.u32('an element segment flag');
    if (flags > 7) malformed(`element segment ${i} at ${at(off)} has unknown flags ${flags}`, off);
    if (flags === 3 || flags === 7) {
      requireFeature(allowed, F_REFERENCE_TYPES, `declarative element segment ${i} at ${at(off)}`, off);
    } else if (flags !== 0) {
      requireFeature(allowed, F_BULK_MEMORY, `element segment ${i} with flags ${flags} at ${at(off)}`, off);
    }
    const active = (flags & 1) === 0;
    const usesExprs = (flags & 4) !== 0;
    let table = 0;
    if (flags === 2 || flags === 6) table = r.u32('a table index');
    if (active) {
      if (table >= m.tables.length) {
        invalid(`element segment ${i} at ${at(off)} targets table ${table}, which does not exist (${m.tables.length} tables)`, off);
      }
      readConstExpr(r, offsetScope, `the offset of element segment ${i}`);
    }
    if (flags !== 0 && flags !== 4) {
      const kOff = r.pos;
      const k = r.u8(usesExprs ? 'a reference type' : 'an element kind');
      if (usesExprs) {
        if (k === T_EXTERNREF) {
          requireFeature(allowed, F_REFERENCE_TYPES, `element segment ${i} of externref at ${at(kOff)}`, kOff);
        } else if (k !== T_FUNCREF) {
          rejectTypeByte(k, r, kOff, 'reference type');
        }
      } else if (k !== 0x00) {
        malformed(`element segment ${i} at ${at(kOff)} has unknown element kind ${hex(k)}`, kOff);
      }
    }
    const count = r.count('elements', usesExprs ? 2 : 1);
    for (let j = 0; j < count; j++) {
      if (usesExprs) {
        readConstExpr(r, elemScope, `element ${j} of segment ${i}`);
      } else {
        const fOff = r.pos;
        const f = r.u32('a function index');
        if (f >= m.funcTypes.length) {
          invalid(
            `element ${j} of segment ${i} at ${at(fOff)} refers to function ${f}, which does not exist ` +
              `(${m.funcTypes.length} functions)`,
            fOff,
          );
        }
        m.referencedFuncs.add(f);
      }
    }
  }
  m.elemSegments = n;
}

function parseData(r: Reader, m: ModuleInfo, allowed: number): void {
  const start = r.pos;
  const n = r.count('data segments', 2);
  if (m.dataCount !== null && n !== m.dataCount) {
    malformed(
      `data count and data section have inconsistent lengths: the data count section says ${m.dataCount}, ` +
        `the data section at ${at(start)} has ${n} segments`,
      start,
    );
  }
  const scope: ConstExprScope = { m, allowed, globalLimit: m.globals.length, refOpsNeedFeature: true };
  for (let i = 0; i < n; i++) {
    const off = r.pos;
    const flags = r.u32('a data segment flag');
    if (flags > 2) malformed(`data segment ${i} at ${at(off)} has unknown flags ${flags}`, off);
    if (flags !== 0) requireFeature(allowed, F_BULK_MEMORY, `data segment ${i} with flags ${flags} at ${at(off)}`, off);
    if (flags === 2) {
      const mem = r.u32('a memory index');
      if (mem !== 0) requireFeature(0, F_MULTI_MEMORY, `data segment ${i} for memory ${mem} at ${at(off)}`, off);
    }
    if (flags !== 1) {
      if (m.memory === null) invalid(`active data segment ${i} at ${at(off)}, but the module has no memory`, off);
      readConstExpr(r, scope, `the offset of data segment ${i}`);
    }
    const lOff = r.pos;
    const len = r.u32('the length of a data segment');
    if (len > r.end - r.pos) r.eof(`data segment ${i}`, lOff);
    r.pos += len;
  }
  m.dataSegments = n;
}
