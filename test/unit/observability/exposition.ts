/**
 * A strict little parser for the Prometheus text format 0.0.4, for tests: it throws on anything a
 * Prometheus server would reject, and on histograms that do not add up (buckets not cumulative, no
 * +Inf bucket, +Inf ≠ _count, missing _sum).
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  type: string;
  help: string | undefined;
  readonly samples: Sample[];
}

export interface Exposition {
  readonly families: ReadonlyMap<string, Family>;
  /** The value of one series; labels must match exactly. Undefined when absent. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Every sample of the named series (name as written, e.g. x_bucket). */
  samples(name: string): Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parseExposition(text: string): Exposition {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  const typed = new Set<string>();
  const lines = text.split('\n');
  if (lines[lines.length - 1] !== '') throw new Error('the exposition must end with a newline');
  lines.forEach((line, i) => {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (m === null) return; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name`);
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type`);
        if (typed.has(name)) throw new Error(`${where}: TYPE given twice for ${name}`);
        const f = families.get(name);
        if (f !== undefined && f.samples.length > 0) throw new Error(`${where}: TYPE after samples of ${name}`);
        typed.add(name);
        if (f !== undefined) f.type = rest;
        else families.set(name, { name, type: rest, help: undefined, samples: [] });
      } else {
        const f = families.get(name);
        if (f !== undefined) f.help = rest;
        else families.set(name, { name, type: 'untyped', help: rest, samples: [] });
      }
      return;
    }
    const sample = parseSample(line, where);
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seen.has(key)) throw new Error(`${where}: duplicate series`);
    seen.add(key);
    const family = familyOf(families, sample.name);
    if (family === undefined) throw new Error(`${where}: no TYPE for ${sample.name}`);
    family.samples.push(sample);
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  const all = [...families.values()].flatMap((f) => f.samples);
  return {
    families,
    value: (name, labels = {}) => all.find((s) => s.name === name && sameLabels(s.labels, labels))?.value,
    samples: (name) => all.filter((s) => s.name === name),
  };
}

function parseSample(line: string, where: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
  if (m === null) throw new Error(`${where}: not "name{labels} value"`);
  const [, name, labelText, valueText] = m as unknown as [string, string, string | undefined, string];
  const labels = labelText === undefined ? {} : parseLabels(labelText.slice(1, -1), where);
  return { name, labels, value: parseValue(valueText, where) };
}

function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest !== '') {
    const m = /^([^=]+)="((?:[^"\\]|\\["\\n])*)"(,|$)/.exec(rest);
    if (m === null) throw new Error(`${where}: bad labels ${JSON.stringify(rest)}`);
    const [all, name, raw] = m as unknown as [string, string, string];
    if (!LABEL_NAME.test(name)) throw new Error(`${where}: bad label name ${name}`);
    if (name in labels) throw new Error(`${where}: label ${name} given twice`);
    labels[name] = raw.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(all.length);
  }
  return labels;
}

function parseValue(text: string, where: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (/^nan$/i.test(text)) return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: bad value ${text}`);
  return Number(text);
}

function familyOf(families: Map<string, Family>, sample: string): Family | undefined {
  const direct = families.get(sample);
  if (direct !== undefined) return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sample.endsWith(suffix)) continue;
    const f = families.get(sample.slice(0, -suffix.length));
    if (f !== undefined && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return f;
  }
  return undefined;
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}: bucket without le`);
      g.buckets.push([parseValue(le, `${f.name} le`), s.value]);
    } else if (s.name === `${f.name}_sum`) g.sum = s.value;
    else if (s.name === `${f.name}_count`) g.count = s.value;
    else throw new Error(`${f.name}: unexpected sample ${s.name}`);
  }
  for (const [key, g] of groups) {
    const at = `${f.name}${key}`;
    if (g.buckets.length === 0) throw new Error(`${at}: no buckets`);
    for (let i = 1; i < g.buckets.length; i++) {
      const [le, c] = g.buckets[i] as [number, number];
      const [prevLe, prevC] = g.buckets[i - 1] as [number, number];
      if (!(le > prevLe)) throw new Error(`${at}: le ${le} does not follow ${prevLe}`);
      if (c < prevC) throw new Error(`${at}: bucket le=${le} (${c}) is below le=${prevLe} (${prevC}): not cumulative`);
    }
    const [lastLe, lastC] = g.buckets[g.buckets.length - 1] as [number, number];
    if (lastLe !== Infinity) throw new Error(`${at}: no +Inf bucket`);
    if (g.count === undefined || g.sum === undefined) throw new Error(`${at}: _sum or _count missing`);
    if (lastC !== g.count) throw new Error(`${at}: +Inf bucket ${lastC} != _count ${g.count}`);
  }
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
