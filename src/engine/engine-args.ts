// The `hearth engine` command line, both ways: parseEngineArgs reads it (the engine command),
// engineArgv writes it (the daemon starts its engine with it). A flag that matches a config key
// takes that key's kind and default from the config schema, so the engine alone and the engine
// under the daemon read a value the same way; every setting survives the trip through argv exactly.
//
// It lives with the engine, not the CLI, because the daemon's backend manager writes it too: both
// sides import it from here. A bad flag is an invalid_request HearthError naming the flag; the
// engine command prints it as a one-line usage error.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatHostPort, type HostPort } from '../config/host-port.js';
import { gpuModes, logLevels, schemaField, type ConfigKey, type GpuMode, type LogLevel, type ValueOf } from '../config/schema.js';
import { invalidRequest } from '../errors.js';
import { formatKeepAlive, parseKeepAlive } from './runtime/keep-alive.js';
import { parentToWatch } from '../supervisor/watch-parent.js';
import { ENGINE_SECRET_ENV, MIN_ENGINE_SECRET_LENGTH } from './engine-secret.js';

export interface EngineSettings {
  /** The model store (blobs and manifests), absolute. */
  modelsDir: string;
  listen: HostPort;
  /** Sequences served at once per model. */
  parallel: number;
  /** Requests waiting per model before 503. */
  maxQueue: number;
  /** Default context size per sequence, in tokens. */
  numCtx: number;
  /** Milliseconds an idle model stays loaded; Infinity: until unloaded. */
  keepAliveMs: number;
  /** Models kept in memory at once. */
  maxLoaded: number;
  /** CPU threads; 0: as many as the cgroup allows. */
  threads: number;
  gpu: GpuMode;
  /** Largest JSON body, in MiB. */
  maxBodyMb: number;
  /** Largest uploaded blob, in GiB. */
  maxBlobGb: number;
  /** On SIGTERM, how long requests in flight may finish. */
  drainSeconds: number;
  logLevel: LogLevel;
  /** The engine stops when this process (its starter) is gone; undefined: it watches nothing. */
  parentPid?: number;
}

/** The settings no config key sets: the engine's own defaults, which the daemon's engine runs with too. */
export const engineOwnDefaults = Object.freeze({ maxLoaded: 2, maxBodyMb: 32, maxBlobGb: 256, drainSeconds: 5 });

const badFlag = (message: string) => invalidRequest(message, 'invalid_argument');

const schemaDefault = (key: ConfigKey): string => String(schemaField(key).default);

const options: ReadonlyArray<readonly [flag: string, text: string, fallback?: string]> = [
  ['--models DIR', 'model store (blobs and manifests); created if missing', 'required'],
  ['--listen HOST:PORT', 'address to listen on', schemaDefault('engine.listen')],
  ['--parallel N', 'sequences served at once per model', schemaDefault('engine.parallel')],
  ['--max-queue N', 'requests waiting per model before 503', schemaDefault('engine.max_queue')],
  ['--num-ctx N', 'default context size per sequence, in tokens', schemaDefault('engine.num_ctx')],
  ['--keep-alive DUR', 'how long an idle model stays loaded ("5m", "0", "-1")', schemaDefault('engine.keep_alive')],
  ['--max-loaded N', 'models kept in memory at once', String(engineOwnDefaults.maxLoaded)],
  ['--threads N', 'CPU threads; 0: as many as the cgroup allows', schemaDefault('engine.threads')],
  ['--gpu MODE', gpuModes.join(' | '), schemaDefault('engine.gpu')],
  ['--max-body-mb N', 'largest JSON body', String(engineOwnDefaults.maxBodyMb)],
  ['--max-blob-gb N', 'largest uploaded blob', String(engineOwnDefaults.maxBlobGb)],
  ['--drain-seconds N', 'on SIGTERM, how long requests in flight may finish', String(engineOwnDefaults.drainSeconds)],
  ['--log-level LEVEL', logLevels.join(' | '), schemaDefault('log.level')],
  ['--watch-parent', 'stop when the process that started this one dies'],
  ['--parent-pid PID', 'stop when this process (the starter, by its pid) dies (used by hearth serve)'],
];

export const engineHelp = `Usage: hearth engine --models DIR [--listen ${schemaDefault('engine.listen')}] [options]

Runs the bundled inference engine: an Ollama-compatible HTTP server on llama.cpp.

Options:
${options.map(([flag, text, fallback]) => `  ${flag.padEnd(21)}${fallback === undefined ? text : `${text.padEnd(56)}(${fallback})`}`).join('\n')}

With ${ENGINE_SECRET_ENV} set in its environment (${MIN_ENGINE_SECRET_LENGTH} characters or more), every request
must carry "Authorization: Bearer <that secret>" and is refused with 401 without it: hearth serve
starts its engine so, with a new secret at each start. Without it, as run by hand, the engine
serves whoever reaches its address: keep --listen on loopback.
`;

/**
 * The command line that gives the engine exactly `settings` (after `hearth engine`). Each value
 * is joined to its flag: a separate "-1" would be read as a flag of its own.
 */
export function engineArgv(settings: EngineSettings): string[] {
  const s = settings;
  const flags: Array<[string, string | number]> = [
    ['models', s.modelsDir],
    ['listen', formatHostPort(s.listen)],
    ['parallel', s.parallel],
    ['max-queue', s.maxQueue],
    ['num-ctx', s.numCtx],
    ['keep-alive', formatKeepAlive(s.keepAliveMs)],
    ['max-loaded', s.maxLoaded],
    ['threads', s.threads],
    ['gpu', s.gpu],
    ['max-body-mb', s.maxBodyMb],
    ['max-blob-gb', s.maxBlobGb],
    ['drain-seconds', s.drainSeconds],
    ['log-level', s.logLevel],
    ...(s.parentPid === undefined ? [] : [['parent-pid', s.parentPid] as [string, number]]),
  ];
  return flags.map(([flag, value]) => `--${flag}=${value}`);
}

/** A flag that sets a config key's value: that key's kind reads it, its default fills it. */
function fromSchema<K extends ConfigKey>(key: K, flag: string, raw: string | undefined): ValueOf<K> {
  const field = schemaField(key);
  const parsed = field.kind.parse(raw ?? field.default, { baseDir: process.cwd() });
  if (!parsed.ok) throw badFlag(`${flag} ${parsed.problem} (got "${raw}")`);
  return parsed.value;
}

function positiveInt(raw: string | undefined, flag: string, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw badFlag(`${flag} must be a positive integer (got "${raw}")`);
  return n;
}

/**
 * "--keep-alive -1" as the help writes it (Ollama's "forever"), which parseArgs would take for a
 * flag of its own, becomes "--keep-alive=-1".
 */
function joinNegativeKeepAlive(argv: string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1];
    if (argv[i] === '--keep-alive' && next !== undefined && /^-\d/.test(next)) {
      joined.push(`--keep-alive=${next}`);
      i++;
    } else joined.push(argv[i] as string);
  }
  return joined;
}

/** The settings a `hearth engine` command line asks for, or 'help'; a bad flag is an invalid_request HearthError naming it. */
export function parseEngineArgs(argv: string[]): EngineSettings | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args: joinNegativeKeepAlive(argv), strict: true, allowPositionals: false, options: {
    models: { type: 'string' },
    listen: { type: 'string' },
    parallel: { type: 'string' },
    'max-queue': { type: 'string' },
    'num-ctx': { type: 'string' },
    'keep-alive': { type: 'string' },
    'max-loaded': { type: 'string' },
    threads: { type: 'string' },
    gpu: { type: 'string' },
    'max-body-mb': { type: 'string' },
    'max-blob-gb': { type: 'string' },
    'drain-seconds': { type: 'string' },
    'watch-parent': { type: 'boolean' },
    'parent-pid': { type: 'string' },
    'log-level': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    } });
  } catch (err) {
    throw badFlag((err as Error).message);
  }
  const { values } = parsed;
  if (values.help) return 'help';
  let parentPid: number | undefined;
  try {
    parentPid = parentToWatch(values);
  } catch (err) {
    throw badFlag((err as Error).message);
  }
  if (!values.models) throw badFlag('--models DIR is required\n\n' + engineHelp);
  let keepAliveMs = fromSchema('engine.keep_alive', '--keep-alive', undefined);
  if (values['keep-alive'] !== undefined) {
    try {
      // Ollama's syntax (OLLAMA_KEEP_ALIVE): a bare number is seconds, any negative value forever.
      keepAliveMs = parseKeepAlive(values['keep-alive'], '--keep-alive');
    } catch (err) {
      throw badFlag((err as Error).message);
    }
  }
  return {
    modelsDir: resolve(values.models),
    listen: fromSchema('engine.listen', '--listen', values.listen),
    parallel: fromSchema('engine.parallel', '--parallel', values.parallel),
    maxQueue: fromSchema('engine.max_queue', '--max-queue', values['max-queue']),
    numCtx: fromSchema('engine.num_ctx', '--num-ctx', values['num-ctx']),
    keepAliveMs,
    maxLoaded: positiveInt(values['max-loaded'], '--max-loaded', engineOwnDefaults.maxLoaded),
    threads: fromSchema('engine.threads', '--threads', values.threads),
    gpu: fromSchema('engine.gpu', '--gpu', values.gpu),
    maxBodyMb: positiveInt(values['max-body-mb'], '--max-body-mb', engineOwnDefaults.maxBodyMb),
    maxBlobGb: positiveInt(values['max-blob-gb'], '--max-blob-gb', engineOwnDefaults.maxBlobGb),
    drainSeconds: positiveInt(values['drain-seconds'], '--drain-seconds', engineOwnDefaults.drainSeconds),
    logLevel: fromSchema('log.level', '--log-level', values['log-level']),
    ...(parentPid === undefined ? {} : { parentPid }),
  };
}
