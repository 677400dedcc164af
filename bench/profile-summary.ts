// Summarizes a V8 CPU profile (.cpuprofile, as `bench:gateway --profile DIR` writes) by self time
// per source file and per function, and optionally side by side with a second profile (e.g. the
// baseline build's, from the same bench run in its worktree), so that where a build's CPU went is
// a repeatable comparison rather than a reading of flame graphs. Files are named relative to the
// checkout (dist/src/gateway/guard.js, node_modules/express/…, node:internal/…), so two worktrees'
// profiles line up. See bench/README.md.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runMain } from './lib/run-main.js';

const usage = `Usage: node dist/bench/profile-summary.js PROFILE [options]

  --compare PROFILE2  a second profile (the baseline): each row shows both and the difference
  --requests N        divide by N requests (of PROFILE; --compare-requests for PROFILE2, else N):
                      figures in µs per request instead of ms in all
  --compare-requests N
  --top N             rows per table                                               (30)
  --functions         also the per-function table (self time)
  --inclusive         also the per-function total time (self + callees), project code only
  --match TEXT        only functions whose file contains TEXT in the function tables
  --no-lines          key functions by name and file only: line numbers move between two
                      builds (a file's anonymous functions are then summed)
  --from NAME         count only from the first sample with a function NAME on its stack
                      (e.g. a request handler: leaves the daemon's start out)
  --wall              weigh each sample by the wall time to the next one, as V8's own viewers
                      do; by default each sample counts one sampling interval (the median
                      gap), which on a busy machine is nearer the process's CPU: a thread
                      descheduled for 20 ms yields one late sample, not 20 ms in its function
`;

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** A file's key, the same in every checkout: the part after node_modules/ or dist/, or the V8 pseudo-frame's name. */
function fileKey(url: string, functionName: string): string {
  if (url === '') return `(${functionName.replace(/^\((.*)\)$/, '$1') || 'anonymous'})`;
  if (url.startsWith('node:')) return url;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + 1);
  const dist = url.lastIndexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

interface Summary {
  /** Sampled time of the whole profile, ms. */
  totalMs: number;
  /** Self time per file key, ms. */
  byFile: Map<string, number>;
  /** Self time per function ("name file:line"), ms. */
  byFunction: Map<string, number>;
  /** Self + callee time per function of project code (dist/), ms; a recursive frame counted once per sample. */
  inclusive: Map<string, number>;
}

const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);

function summarize(p: CpuProfile, opts: { wall: boolean; from: string | undefined; lines: boolean }): Summary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const fnKey = (n: ProfileNode) =>
    `${n.callFrame.functionName || '(anonymous)'} ${fileKey(n.callFrame.url, n.callFrame.functionName)}${opts.lines ? `:${n.callFrame.lineNumber + 1}` : ''}`;
  const onStack = (id: number, name: string) => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) if (byId.get(at)?.callFrame.functionName === name) return true;
    return false;
  };
  const gaps = [...p.timeDeltas].sort((x, y) => x - y);
  const interval = gaps[gaps.length >> 1] ?? 0;
  let first = 0;
  if (opts.from !== undefined) {
    first = p.samples.findIndex((id) => onStack(id, opts.from as string));
    if (first < 0) throw new Error(`no sample has ${opts.from} on its stack`);
  }
  // A sample's wall time is the gap to the next sample (the last one has none).
  const selfUs = new Map<number, number>();
  for (let i = first; i < p.samples.length - 1; i++) {
    const us = opts.wall ? (p.timeDeltas[i + 1] as number) : interval;
    selfUs.set(p.samples[i] as number, (selfUs.get(p.samples[i] as number) ?? 0) + us);
  }
  const s: Summary = { totalMs: 0, byFile: new Map(), byFunction: new Map(), inclusive: new Map() };
  for (const [id, us] of selfUs) {
    const n = byId.get(id) as ProfileNode;
    const ms = us / 1000;
    s.totalMs += ms;
    add(s.byFile, fileKey(n.callFrame.url, n.callFrame.functionName), ms);
    add(s.byFunction, fnKey(n), ms);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at) as ProfileNode;
      if (!frame.callFrame.url.includes('/dist/')) continue;
      const k = fnKey(frame);
      if (!seen.has(k)) {
        seen.add(k);
        add(s.inclusive, k, ms);
      }
    }
  }
  return s;
}

function table(title: string, a: Map<string, number>, b: Map<string, number> | undefined, scaleA: number, scaleB: number, unit: string, top: number, match?: string): string[] {
  const keys = new Set([...a.keys(), ...(b?.keys() ?? [])]);
  const rows = [...keys]
    .filter((k) => match === undefined || k.includes(match))
    .map((k) => ({ k, x: (a.get(k) ?? 0) * scaleA, y: (b?.get(k) ?? 0) * scaleB }))
    .sort((r, q) => (b ? Math.abs(q.x - q.y) - Math.abs(r.x - r.y) : q.x - r.x))
    .slice(0, top);
  const f = (v: number) => v.toFixed(1).padStart(9);
  const out = [title, b ? `${'this'.padStart(9)} ${'compare'.padStart(9)} ${'diff'.padStart(9)}  (${unit}, sorted by |diff|)` : `${'this'.padStart(9)}  (${unit})`];
  for (const r of rows) out.push(b ? `${f(r.x)} ${f(r.y)} ${f(r.x - r.y)}  ${r.k}` : `${f(r.x)}  ${r.k}`);
  return out;
}

function main(argv: string[]): number {
  const { values: v, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      compare: { type: 'string' }, requests: { type: 'string' }, 'compare-requests': { type: 'string' }, top: { type: 'string' },
      functions: { type: 'boolean' }, inclusive: { type: 'boolean' }, match: { type: 'string' }, from: { type: 'string' }, wall: { type: 'boolean' }, 'no-lines': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const file = positionals[0];
  if (v.help || file === undefined) {
    process.stdout.write(usage);
    return v.help ? 0 : 1;
  }
  const load = (path: string) => summarize(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, { wall: v.wall ?? false, from: v.from, lines: !(v['no-lines'] ?? false) });
  const a = load(file);
  const b = v.compare === undefined ? undefined : load(v.compare);
  const reqA = v.requests === undefined ? undefined : Number(v.requests);
  const reqB = v['compare-requests'] === undefined ? reqA : Number(v['compare-requests']);
  for (const [name, n] of [['--requests', reqA], ['--compare-requests', reqB]] as const) {
    if (n !== undefined && !(Number.isInteger(n) && n > 0)) throw new Error(`${name} must be a positive integer`);
  }
  // Per request: ms in all × 1000 / requests = µs per request.
  const scaleA = reqA === undefined ? 1 : 1000 / reqA;
  const scaleB = reqB === undefined ? 1 : 1000 / reqB;
  const unit = reqA === undefined ? 'ms in all' : 'µs per request';
  const top = v.top === undefined ? 30 : Number(v.top);
  const lines: string[] = [];
  const total = (s: Summary, scale: number) => (s.totalMs * scale).toFixed(1);
  lines.push(`sampled: ${total(a, scaleA)}${b ? ` vs ${total(b, scaleB)}` : ''} ${unit}`, '');
  lines.push(...table('self time by file', a.byFile, b?.byFile, scaleA, scaleB, unit, top), '');
  if (v.functions) lines.push(...table('self time by function', a.byFunction, b?.byFunction, scaleA, scaleB, unit, top, v.match), '');
  if (v.inclusive) lines.push(...table('total time by function (project code)', a.inclusive, b?.inclusive, scaleA, scaleB, unit, top, v.match), '');
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

runMain(main);
