// The Grafana dashboard in the repository (scripts/grafana/hearth-dashboard.json) against the
// registry the daemon makes: every metric its PromQL names is one the daemon exports, and every
// metric of Hearth's own is charted. The registry is made as the daemon makes it (createMetrics,
// process metrics included); listing its names reads no source, so the sources are inert here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { createMetrics, type MetricSources } from '../../src/metrics/registry.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DASHBOARD = 'scripts/grafana/hearth-dashboard.json';

interface Target {
  expr?: string;
  datasource?: { uid?: string };
}
interface Panel {
  type: string;
  title: string;
  datasource?: { uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  __inputs: Array<{ name: string; type: string; pluginId: string }>;
  panels: Panel[];
  templating: { list: Array<{ name: string; query: string | { query: string }; datasource?: { uid?: string } }> };
}

const dashboard = JSON.parse(readFileSync(`${ROOT}/${DASHBOARD}`, 'utf8')) as Dashboard;
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');

// PromQL words that are not metric names where they stand outside parentheses and braces.
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'atan2', 'inf', 'nan']);

/**
 * The metric names a PromQL expression reads: what is left of it once its strings, label
 * matchers, ranges and grouping label lists are taken out, less numbers with units ("5m"),
 * function names (a word before "("), keywords and Grafana's $variables.
 */
function metricNamesOf(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  // A word starts where no word, number or $variable goes on: "5m" and "1e3" are numbers, "$workspace" a variable.
  for (const m of bare.matchAll(/(?<![\w:.$])[A-Za-z_:][\w:]*/g)) {
    const word = m[0];
    if (KEYWORDS.has(word.toLowerCase())) continue;
    if (bare.slice(m.index + word.length).trimStart().startsWith('(')) continue;
    names.push(word);
  }
  return names;
}

/** A template variable's query: label_values(metric, label) reads the metric. */
function metricNamesOfVariable(query: string): string[] {
  const m = /^label_values\((.+),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)$/.exec(query.trim());
  return m ? metricNamesOf(m[1]!) : metricNamesOf(query);
}

const inert: MetricSources = {
  workspaces: { list: () => [] },
  ledger: { usage: () => assert.fail('a name listing collects nothing') },
  jobs: { countByState: () => assert.fail('not collected'), throughput: () => assert.fail('not collected') },
  backend: () => assert.fail('not collected'),
  queue: { snapshot: () => assert.fail('not collected') },
  gpus: async () => [],
};

/** The series names a registry exposes: a histogram's _bucket, _sum and _count, a summary's _sum and _count. */
function exported(processMetrics: boolean): Set<string> {
  const names = new Set<string>();
  for (const metric of createMetrics(inert, { processMetrics }).registry.getMetricsAsArray()) {
    const m = metric as unknown as { name: string; type: string };
    names.add(m.name);
    if (m.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
    if (m.type === 'summary') for (const s of ['_sum', '_count']) names.add(m.name + s);
  }
  return names;
}

describe(`the Grafana dashboard (${DASHBOARD})`, () => {
  const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? '' })));
  const used = new Map<string, string>();
  for (const { panel, expr } of exprs) for (const name of metricNamesOf(expr)) used.set(name, panel);
  for (const v of dashboard.templating.list) {
    for (const name of metricNamesOfVariable(typeof v.query === 'string' ? v.query : v.query.query)) used.set(name, `variable $${v.name}`);
  }

  it('the name reader finds metrics, and only metrics, in PromQL', () => {
    assert.deepEqual(
      metricNamesOf('histogram_quantile(0.95, sum by (le, model) (rate(hearth_ttft_bucket{surface!="none", workspace=~"$workspace"}[$__rate_interval])))'),
      ['hearth_ttft_bucket'],
    );
    assert.deepEqual(metricNamesOf('a_total / on(job) group_left(name) b_info + ignoring (x) c and d offset 5m'), ['a_total', 'b_info', 'c', 'd']);
    assert.deepEqual(metricNamesOf('topk(10, sum without (route) (increase(x_total[1h]))) > bool 0'), ['x_total']);
    assert.deepEqual(metricNamesOfVariable('label_values(hearth_requests_total{surface="/v1"}, workspace)'), ['hearth_requests_total']);
  });

  it('imports with the Prometheus data source as an input, which every panel and query uses', () => {
    assert.deepEqual(dashboard.__inputs.map((i) => [i.name, i.type, i.pluginId]), [['DS_PROMETHEUS', 'datasource', 'prometheus']]);
    for (const p of panels) {
      assert.equal(p.datasource?.uid, '${DS_PROMETHEUS}', p.title);
      assert.ok((p.targets ?? []).length > 0, `${p.title} has queries`);
      for (const t of p.targets ?? []) assert.equal(t.datasource?.uid, '${DS_PROMETHEUS}', p.title);
    }
    for (const v of dashboard.templating.list) assert.equal(v.datasource?.uid, '${DS_PROMETHEUS}', v.name);
  });

  it('every metric its queries name is exported by the registry the daemon makes', () => {
    const names = exported(true);
    assert.ok(names.has('hearth_requests_total') && names.has('hearth_process_cpu_seconds_total'), 'the listing sees Hearth\'s metrics and the process metrics');
    for (const { panel, expr } of exprs) assert.ok(metricNamesOf(expr).length > 0, `${panel}: ${expr} names no metric`);
    const missing = [...used].filter(([name]) => !names.has(name)).map(([name, where]) => `${name} (${where})`);
    assert.deepEqual(missing, []);
  });

  it("charts every one of Hearth's own metrics", () => {
    const charted = new Set([...used.keys()].map((n) => n.replace(/_(bucket|sum|count)$/, '')));
    const own = [...exported(false)].filter((n) => !/_(bucket|sum|count)$/.test(n));
    assert.deepEqual(own.filter((n) => !charted.has(n)), []);
  });
});
