// A reader of Prometheus's text exposition format (version 0.0.4), as much of it as the tests
// need: each sample line's metric name, labels and value; # HELP and # TYPE lines give the types.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  /** Each metric family's type, by its name (counter, gauge, histogram…). */
  types: Map<string, string>;
}

const unescape = (s: string) => s.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));

function parseValue(v: string): number {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return Number(v);
}

/** Parses the text; throws on a line that is not a comment, a blank or a well-formed sample. */
export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const t = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (t) types.set(t[1]!, t[2]!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( \d+)?$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
      let l: RegExpExecArray | null;
      let end = 0;
      while ((l = re.exec(m[3])) !== null) {
        labels[l[1]!] = unescape(l[2]!);
        end = re.lastIndex;
      }
      if (end !== m[3].length) throw new Error(`malformed labels: ${line}`);
    }
    samples.push({ name: m[1]!, labels, value: parseValue(m[4]!) });
  }
  return { samples, types };
}

/** The samples of `name` whose labels include every one of `labels`. */
export function samplesOf(e: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return e.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The sum of the values of samplesOf (0 when there are none). */
export function valueOf(e: Exposition, name: string, labels: Record<string, string> = {}): number {
  return samplesOf(e, name, labels).reduce((sum, s) => sum + s.value, 0);
}
