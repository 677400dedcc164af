// Loads the configuration once at startup: embedded defaults < YAML file < environment < CLI.
// Every value goes through the schema table's kinds; every problem is collected and reported
// together in one ConfigError; the result is deeply frozen.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { ConfigError } from './config-error.js';
import { CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE, envVars } from './env.js';
import type { ParseContext } from './kinds.js';
import {
  camelCase,
  configSchema,
  configSections,
  fieldOf,
  type ConfigField,
  type ConfigKey,
  type HearthConfig,
  type RawValue,
  type ValueOf,
} from './schema.js';

export { ConfigError } from './config-error.js';

/** Values from command-line flags, by key: `{ listen: '0.0.0.0:8080', data_dir: '/srv/hearth' }`. */
export type ConfigOverrides = Partial<Record<ConfigKey, RawValue | undefined>>;

export interface LoadConfigOptions {
  /** From --config; a missing file is an error. Relative to `cwd`. */
  file?: string;
  /** Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** From CLI flags; undefined values are ignored, so flags can be passed through as parsed. */
  overrides?: ConfigOverrides;
  /** Folder relative paths from env, flags and defaults resolve against. Default process.cwd(). */
  cwd?: string;
  /** Read when neither `file` nor HEARTH_CONFIG is set, only if it exists; null for none. */
  defaultFile?: string | null;
}

interface Loading {
  readonly values: Map<ConfigKey, unknown>;
  /** Keys whose value from some source was invalid: cross-key checks skip them. */
  readonly invalid: Set<ConfigKey>;
  readonly problems: string[];
}

export function loadConfig(options: LoadConfigOptions = {}): HearthConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const loading: Loading = { values: new Map(), invalid: new Set(), problems: [] };

  for (const field of configSchema) {
    const parsed = field.kind.parse(field.default, { baseDir: cwd });
    if (!parsed.ok) throw new Error(`config schema: default of ${field.key} ${parsed.problem}`);
    loading.values.set(field.key, parsed.value);
  }

  const file = chooseFile(options, env, cwd, loading.problems);
  if (file !== undefined) applyFile(file, loading);
  applyEnv(env, cwd, loading);
  for (const [key, raw] of Object.entries(options.overrides ?? {})) {
    if (raw !== undefined) apply(key, raw, { baseDir: cwd }, 'from the command line', loading);
  }
  checkAcrossKeys(loading);

  if (loading.problems.length > 0) throw new ConfigError(loading.problems);
  return deepFreeze(build(loading.values)) as unknown as HearthConfig;
}

/**
 * The schema's defaults, with `overrides` applied as flags would be, and nothing from the
 * environment or a config file: the value any code (a command's own flags, a test) needs when
 * nobody set one. Relative paths resolve against `cwd` (default process.cwd()).
 */
export function defaultConfig(options: Pick<LoadConfigOptions, 'overrides' | 'cwd'> = {}): HearthConfig {
  return loadConfig({ ...options, env: {}, defaultFile: null });
}

/** --config, else HEARTH_CONFIG, else the default file if it exists. Named files must exist. */
function chooseFile(options: LoadConfigOptions, env: NodeJS.ProcessEnv, cwd: string, problems: string[]): string | undefined {
  const named: Array<[string, string | undefined]> = [
    ['--config', options.file],
    [CONFIG_FILE_ENV, env[CONFIG_FILE_ENV]],
  ];
  for (const [source, file] of named) {
    if (file === undefined || file === '') continue;
    const absolute = resolve(cwd, file);
    if (existsSync(absolute)) return absolute;
    problems.push(`config: ${source}: file not found: ${absolute}`);
    return undefined;
  }
  const fallback = options.defaultFile === undefined ? DEFAULT_CONFIG_FILE : options.defaultFile;
  return fallback !== null && existsSync(fallback) ? fallback : undefined;
}

function applyFile(file: string, loading: Loading): void {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (err) {
    loading.problems.push(`config: cannot read ${file}: ${(err as Error).message}`);
    return;
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) loading.problems.push(`config: YAML syntax error: ${e.message.split('\n')[0]} in ${file}`);
    return;
  }
  const ctx: ParseContext = { baseDir: dirname(file) };
  const at = (node: Node | null | undefined) => (node?.range ? `${file}:${lineCounter.linePos(node.range[0]).line}` : file);

  const walk = (node: Node | null, prefix: string): void => {
    // An empty file, or a section whose keys are all commented out, is null: nothing to apply.
    if (node === null || (isScalar(node) && node.value === null)) return;
    if (!isMap(node)) {
      const what = prefix === '' ? 'the file' : prefix.slice(0, -1);
      loading.problems.push(`config: ${what}: must be a mapping of keys in ${at(node)}`);
      return;
    }
    for (const pair of node.items) {
      const keyNode = pair.key as Node | null;
      const name = isScalar(keyNode) ? String(keyNode.value) : undefined;
      const valueNode = pair.value as Node | null;
      if (name === undefined) {
        loading.problems.push(`config: ${prefix || 'the file'}: keys must be plain names in ${at(keyNode)}`);
        continue;
      }
      const key = prefix + name;
      if (configSections.includes(key)) walk(valueNode, `${key}.`);
      else if (fieldOf(key) && (valueNode === null || (isScalar(valueNode) && valueNode.value === null))) {
        loading.problems.push(`config: ${key}: has no value (remove the line to use the default) in ${at(keyNode)}`);
        loading.invalid.add(key as ConfigKey);
      } else apply(key, valueNode?.toJS(doc as Document), ctx, `in ${at(keyNode)}`, loading);
    }
  };
  walk(doc.contents as Node | null, '');
}

function applyEnv(env: NodeJS.ProcessEnv, cwd: string, loading: Loading): void {
  const known = new Map(envVars.map((v) => [v.name, v]));
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('HEARTH_')) continue;
    const variable = known.get(name);
    if (variable === undefined) {
      const guess = closest(name, [...known.keys()]);
      loading.problems.push(
        `config: ${name}: unknown environment variable (${guess ? `did you mean ${guess}? ` : ''}known: ${[...known.keys()].join(', ')})`,
      );
      continue;
    }
    const value = env[name];
    // Empty means unset, as in Ollama: systemd's `Environment=HEARTH_X=` clears a variable.
    if (variable.key === null || value === undefined || value === '') continue;
    apply(variable.key, value, { baseDir: cwd }, `from ${name}`, loading);
  }
}

/** Parses one raw value into `loading`; `origin` ends the problem message ("from HEARTH_LISTEN"). */
function apply(key: string, raw: unknown, ctx: ParseContext, origin: string, loading: Loading): void {
  const field = fieldOf(key);
  if (field === undefined) {
    const guess = closest(key, [...configSchema.map((f) => f.key), ...configSections]);
    loading.problems.push(`config: ${key}: unknown key${guess ? ` (did you mean ${guess}?)` : ''} ${origin}`);
    return;
  }
  const parsed = field.kind.parse(raw, ctx);
  if (parsed.ok) loading.values.set(field.key, parsed.value);
  else {
    loading.problems.push(`config: ${field.key}: ${parsed.problem} (got ${show(raw)}) ${origin}`);
    loading.invalid.add(field.key);
  }
}

/** Rules that involve more than one key; each runs only when all its keys are valid. */
type Get = <K extends ConfigKey>(key: K) => ValueOf<K>;
const crossChecks: ReadonlyArray<{ keys: readonly ConfigKey[]; check: (get: Get) => string | undefined }> = [
  {
    keys: ['backend.restart_initial_delay', 'backend.restart_max_delay'],
    check: (get) =>
      get('backend.restart_max_delay') < get('backend.restart_initial_delay')
        ? 'backend.restart_max_delay: must be ≥ backend.restart_initial_delay'
        : undefined,
  },
  {
    // The engine only listens in auto and engine modes; there it must not take the API's port.
    keys: ['listen', 'engine.listen', 'backend.mode'],
    check: (get) => {
      const [api, engine] = [get('listen'), get('engine.listen')];
      const wildcard = (h: string) => h === '0.0.0.0' || h === '::';
      const clash =
        api.port !== 0 && api.port === engine.port && (api.host === engine.host || wildcard(api.host) || wildcard(engine.host));
      return clash && (get('backend.mode') === 'auto' || get('backend.mode') === 'engine')
        ? `engine.listen: must not use the port of listen (${api.port})`
        : undefined;
    },
  },
];

function checkAcrossKeys(loading: Loading): void {
  for (const { keys, check } of crossChecks) {
    if (keys.some((k) => loading.invalid.has(k))) continue;
    const problem = check(<K extends ConfigKey>(key: K) => loading.values.get(key) as ValueOf<K>);
    if (problem !== undefined) loading.problems.push(`config: ${problem}`);
  }
}

/** Nested camelCase object from "section.snake_key" → value. */
function build(values: ReadonlyMap<string, unknown>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of values) {
    const segments = key.split('.').map(camelCase);
    const last = segments.pop() as string;
    let node = root;
    for (const s of segments) node = (node[s] ??= {}) as Record<string, unknown>;
    node[last] = value;
  }
  return root;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

const show = (raw: unknown): string => {
  const s = raw === undefined ? 'nothing' : JSON.stringify(raw) ?? String(raw);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

/** The candidate within edit distance 2 of `name`, if any: a hint for typos. */
function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d <= 2 && (best === undefined || d < best.d)) best = { c, d };
  }
  return best?.c;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length] as number;
}

const REDACTED = '[redacted]';

/**
 * A copy for logging: keys marked `secret` in the schema become "[redacted]" (when set), and
 * passwords inside URL values become "***". `schema` defaults to the daemon's table.
 */
export function redactedConfig(config: HearthConfig, schema: readonly ConfigField[] = configSchema): HearthConfig {
  const copy = structuredClone(config) as unknown as Record<string, unknown>;
  for (const field of schema) {
    const segments = field.key.split('.').map(camelCase);
    const last = segments.pop() as string;
    let node: Record<string, unknown> | undefined = copy;
    for (const s of segments) node = node?.[s] as Record<string, unknown> | undefined;
    if (node === undefined || node[last] === undefined) continue;
    const value = node[last];
    if (field.secret) node[last] = value === '' ? '' : REDACTED;
    else if (field.kind.isUrl && typeof value === 'string' && value !== '') node[last] = maskUrlPassword(value);
  }
  return deepFreeze(copy) as unknown as HearthConfig;
}

function maskUrlPassword(value: string): string {
  try {
    const u = new URL(value);
    if (u.password === '') return value;
    u.password = '***';
    return u.href.replace(/\/+$/, '');
  } catch {
    return value;
  }
}
