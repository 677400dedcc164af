// Chooses the inference backend and keeps it up. Three kinds:
//   external — an Ollama-compatible server someone else runs at `url`; only watched.
//   ollama   — `ollama serve`, started and supervised by us on `url`'s host:port.
//   engine   — the bundled `hearth engine`, started and supervised by us on engine.listen.
// Mode 'auto' takes the first that applies, in that order. The choice is made once, in
// BackendManager.create(), so `kind`, `url` and the `ollama` client never change afterwards.

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { Ollama } from 'ollama';
import { engineArgv, engineOwnDefaults, type EngineSettings } from '../engine/engine-args.js';
import { ENGINE_SECRET_ENV } from '../engine/engine-secret.js';
import { formatHostPort, type HostPort } from '../config/host-port.js';
import { schemaField, type BackendMode, type HearthConfig } from '../config/schema.js';
import { HearthError, unavailable } from '../errors.js';
import { waitForState } from '../supervisor/wait-for-state.js';
import type { Logger } from '../log.js';
import { packageRoot } from '../paths.js';
import { describeExit, Supervisor, type ExitInfo, type SpawnFunction, type SupervisorState } from '../supervisor/supervisor.js';
import { ensureDemoModel } from './demo-model.js';
import { findExecutable } from './find-executable.js';
import { canListen, pickFreePort } from './free-port.js';
import { probeVersion } from './probe.js';

export type BackendKind = Exclude<BackendMode, 'auto'>;
/** starting: not up yet since start(); up: answering; down: was expected up and is not (restarting included); stopped. */
export type BackendState = 'starting' | 'up' | 'down' | 'stopped';

export interface BackendConfig {
  mode: BackendMode;
  /** Where an external server or `ollama serve` answers, e.g. http://127.0.0.1:11434. Not used by mode 'engine'. */
  url: string;
  /** The ollama executable: a name looked up on PATH, or a path. */
  ollamaPath: string;
  /**
   * What `hearth engine` is started with. Its listen port 0, or a port another process holds,
   * becomes a free port before spawning; the engine watches the daemon's pid.
   */
  engine: Omit<EngineSettings, 'parentPid'>;
  healthIntervalMs: number;
  /** A managed backend must answer within this long of each spawn; start() waits at most this long. */
  startTimeoutMs: number;
  /** Backoff of managed restarts; each failure doubles the delay up to maxDelayMs. */
  restart: { initialDelayMs: number; maxDelayMs: number };
  /** SIGTERM → SIGKILL grace for a managed backend. Default 10 000 (the engine drains requests for 5 s). */
  stopTimeoutMs?: number;
  /** A managed backend failing every health check this long is killed and restarted. Default 60 000. */
  stallTimeoutMs?: number;
}

/** The manager's settings from the daemon's config: every value as loaded, none of its own. */
export function backendConfigOf(config: HearthConfig): BackendConfig {
  return {
    mode: config.backend.mode,
    url: config.backend.url,
    ollamaPath: config.backend.ollamaPath,
    engine: {
      ...engineOwnDefaults,
      modelsDir: join(config.dataDir, 'models'),
      listen: config.engine.listen,
      parallel: config.engine.parallel,
      maxQueue: config.engine.maxQueue,
      numCtx: config.engine.numCtx,
      threads: config.engine.threads,
      gpu: config.engine.gpu,
      keepAliveMs: config.engine.keepAlive,
      // The daemon forwards the engine's info lines (one per request and health check) at debug,
      // so below debug it asks for warnings only: the lines would be parsed only to be dropped,
      // about 0.1 ms of daemon CPU per proxied call.
      logLevel: config.log.level === 'debug' ? 'info' : 'warn',
    },
    healthIntervalMs: config.backend.healthInterval,
    startTimeoutMs: config.backend.startTimeout,
    restart: { initialDelayMs: config.backend.restartInitialDelay, maxDelayMs: config.backend.restartMaxDelay },
  };
}

export interface BackendManagerOptions {
  config: BackendConfig;
  /** The daemon's data dir; the demo model's GGUF is written under it. */
  dataDir: string;
  log: Logger;
  /** PATH lookup of the ollama executable (default: search process.env.PATH). */
  findExecutable?: (name: string) => Promise<string | undefined>;
  spawn?: SpawnFunction;
  /** Bound of the one probe 'auto' makes for an existing server, in ms. Default 1500. */
  probeTimeoutMs?: number;
  /**
   * What the bundled engine refuses every request without (as `Authorization: Bearer`); the
   * daemon makes one at each start and writes it to its data dir for the CLI. Default: a fresh
   * random one, so that no engine this manager starts serves other local processes.
   */
  engineSecret?: string;
}

export interface BackendInfo {
  kind: BackendKind;
  url: string;
  state: BackendState;
  pid?: number;
  restarts: number;
  lastError?: string;
  /** Whether the backend refuses requests without Hearth's secret: the bundled engine's does; an Ollama is its operator's to protect. */
  protected: boolean;
}

export interface BackendManagerEvents {
  state: [state: BackendState, previous: BackendState];
}

/** bin/hearth.js, resolved from the package root (the compiled code runs from dist/src/). */
export const hearthBin: string = join(packageRoot, 'bin', 'hearth.js');

const STDERR_TAIL_BYTES = 8 * 1024;
const HEALTH_TIMEOUT_MS = 2000;
/** Consecutive failed health checks before an up backend is reported down. */
const UNHEALTHY_THRESHOLD = 2;

function normalizeUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new HearthError('invalid_request', `backend url "${url}" is not a URL`, { code: 'invalid_config' });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new HearthError('invalid_request', `backend url "${url}" must be http or https`, { code: 'invalid_config' });
  }
  return url.replace(/\/+$/, '');
}

/** OLLAMA_HOST for `ollama serve`: host:port of the url, with the scheme's default port spelled out. */
function ollamaHostOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
}

/** The URL clients use for a listen address; a wildcard host is reached through loopback. */
export function urlOfListen(host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${formatHostPort({ host: reachable, port })}`;
}

/** What BackendManager.create() decided: the kind, its URL, and for a managed kind the command to supervise. */
export interface BackendLaunch {
  kind: BackendKind;
  url: string;
  command?: { command: string; args: string[]; env?: NodeJS.ProcessEnv };
  /** Why the URL is not the configured one (engine.listen was taken), for the operator's log. */
  notice?: string;
  /** The engine's secret, handed to it in its environment (never on its command line, which any user can read). */
  secret?: string;
}

/** 32 random bytes: a new one at each daemon start. */
export const newEngineSecret = (): string => randomBytes(32).toString('base64url');

/** engine.listen as configured, or a free port on its host when another process holds that one. */
async function enginePort(listen: HostPort): Promise<{ port: number; notice?: string }> {
  const { host, port } = listen;
  try {
    if (port === 0) return { port: await pickFreePort(host) };
    // A second daemon (its own data dir and listen address) would otherwise find its engine's
    // default port held by the first one's engine. Nothing outside the daemon needs the engine's
    // port: the daemon records the URL it uses in its data dir (backend-record.ts) for the CLI.
    // Between this check and the engine's own listen another process could still take the
    // port; the engine then fails to start and says so, as it would on a configured port.
    if (await canListen(host, port)) return { port };
    const free = await pickFreePort(host);
    return {
      port: free,
      notice: `engine.listen ${formatHostPort(listen)} is held by another process (another hearth serve's engine, say): the bundled engine listens on ${formatHostPort({ host, port: free })} instead; set engine.listen (HEARTH_ENGINE_LISTEN) to choose a port`,
    };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
    throw new HearthError('invalid_request', `engine.listen ${formatHostPort(listen)}: the bundled engine cannot listen there (${code}); set engine.listen (HEARTH_ENGINE_LISTEN) to a loopback HOST:PORT such as ${schemaField('engine.listen').default}`, { code: 'invalid_config', cause: err });
  }
}

/** Resolves the configured mode to a launch; probes and looks up PATH but spawns nothing. */
export async function chooseBackend(options: Pick<BackendManagerOptions, 'config' | 'findExecutable' | 'probeTimeoutMs' | 'engineSecret'>): Promise<BackendLaunch> {
  const { config } = options;
  const find = options.findExecutable ?? ((name: string) => findExecutable(name));
  const probeTimeoutMs = options.probeTimeoutMs ?? 1500;
  const ollamaLaunch = (url: string, path: string): BackendLaunch => ({ kind: 'ollama', url, command: { command: path, args: ['serve'], env: { OLLAMA_HOST: ollamaHostOf(url) } } });
  const engineLaunch = async (): Promise<BackendLaunch> => {
    const { host } = config.engine.listen;
    const chosen = await enginePort(config.engine.listen);
    // A daemon killed with SIGKILL cannot stop its children: the engine then stops itself.
    const settings: EngineSettings = { ...config.engine, listen: { host, port: chosen.port }, parentPid: process.pid };
    const secret = options.engineSecret ?? newEngineSecret();
    return {
      kind: 'engine',
      url: urlOfListen(host, chosen.port),
      command: { command: process.execPath, args: [hearthBin, 'engine', ...engineArgv(settings)], env: { [ENGINE_SECRET_ENV]: secret } },
      secret,
      ...(chosen.notice === undefined ? {} : { notice: chosen.notice }),
    };
  };
  const refuseIfTaken = async (launch: BackendLaunch): Promise<BackendLaunch> => {
    // `ollama serve` could not listen there, and its health check would pass against the other
    // server. Only mode "ollama" gets here: "auto" uses a server that answers at backend.url.
    if ((await probeVersion(launch.url, { timeoutMs: probeTimeoutMs })).ok) {
      throw new HearthError('conflict', `a server already answers at ${launch.url} (backend.url); set backend.mode to "external" or "auto" to use it, or backend.url to a free address for ollama serve`, { code: 'backend_address_in_use' });
    }
    return launch;
  };

  switch (config.mode) {
    case 'external':
      return { kind: 'external', url: normalizeUrl(config.url) };
    case 'ollama': {
      const url = normalizeUrl(config.url);
      const path = await find(config.ollamaPath);
      if (!path) throw new HearthError('unavailable', `backend mode "ollama": no executable "${config.ollamaPath}" on PATH`, { code: 'ollama_not_found' });
      return refuseIfTaken(ollamaLaunch(url, path));
    }
    case 'engine':
      return engineLaunch();
    case 'auto': {
      const url = normalizeUrl(config.url);
      if ((await probeVersion(url, { timeoutMs: probeTimeoutMs })).ok) return { kind: 'external', url };
      const path = await find(config.ollamaPath);
      if (path) return ollamaLaunch(url, path);
      return engineLaunch();
    }
    default:
      throw new HearthError('invalid_request', `unknown backend mode "${String(config.mode)}"`, { code: 'invalid_config' });
  }
}

export class BackendManager extends EventEmitter<BackendManagerEvents> {
  readonly kind: BackendKind;
  readonly url: string;
  /** The official client pointed at `url`; it works in every state, its calls fail while the backend is down. */
  readonly ollama: Ollama;
  /** Every request to the backend carries these: the engine's secret as `Authorization`; none for an Ollama. */
  readonly headers: Readonly<Record<string, string>>;
  private readonly config: BackendConfig;
  private readonly dataDir: string;
  private readonly log: Logger;
  private readonly supervisor: Supervisor | undefined;
  private currentState: BackendState = 'stopped';
  private lastError: string | undefined;
  private lastProbeError: string | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  /** Bumped by start() and stop(): a probe of an older generation schedules nothing. */
  private watchGeneration = 0;
  private externalFailures = 0;
  private demo: Promise<boolean> | undefined;

  /** Resolves the mode to a kind and URL ('auto' probes `url` and looks for ollama on PATH); spawns nothing yet. */
  static async create(options: BackendManagerOptions): Promise<BackendManager> {
    const launch = await chooseBackend(options);
    if (launch.notice !== undefined) options.log.warn(launch.notice, { configured: formatHostPort(options.config.engine.listen), url: launch.url });
    options.log.info('inference backend chosen', { mode: options.config.mode, kind: launch.kind, url: launch.url, command: launch.command?.command });
    return new BackendManager(options, launch);
  }

  private constructor(options: BackendManagerOptions, launch: BackendLaunch) {
    super();
    this.kind = launch.kind;
    this.url = launch.url;
    this.config = options.config;
    this.dataDir = options.dataDir;
    this.log = options.log.child({ backend: launch.kind });
    this.headers = Object.freeze<Record<string, string>>(launch.secret === undefined ? {} : { authorization: `Bearer ${launch.secret}` });
    this.ollama = new Ollama({ host: launch.url, headers: { ...this.headers } });
    if (launch.command) {
      const childLog = this.log;
      this.supervisor = new Supervisor({
        name: launch.kind,
        command: launch.command.command,
        args: launch.command.args,
        env: launch.command.env,
        spawn: options.spawn,
        log: this.log,
        health: (signal) => this.probe(signal),
        healthIntervalMs: this.config.healthIntervalMs,
        // Checks never overlap, so the bound may exceed the interval; a model load can hold the
        // engine's event loop for a moment, and one slow answer is not an outage.
        healthTimeoutMs: HEALTH_TIMEOUT_MS,
        unhealthyThreshold: UNHEALTHY_THRESHOLD,
        startTimeoutMs: this.config.startTimeoutMs,
        stallTimeoutMs: this.config.stallTimeoutMs ?? 60_000,
        restart: { ...this.config.restart, factor: 2 },
        stopTimeoutMs: this.config.stopTimeoutMs ?? 10_000,
        stderrTailBytes: STDERR_TAIL_BYTES,
        // The engine logs JSON lines, Ollama plain text on stderr. Their chatter (a line per
        // health check) goes to debug; their warnings and errors keep their level.
        onStdoutLine: (line) => forwardChildLine(childLog, line),
        onStderrLine: (line) => forwardChildLine(childLog, line),
      });
      this.supervisor.on('state', (state) => this.onSupervisorState(state));
      this.supervisor.on('exit', (exit) => this.onSupervisorExit(exit));
    }
  }

  get state(): BackendState {
    return this.currentState;
  }

  get pid(): number | undefined {
    return this.supervisor?.pid;
  }

  isUp(): boolean {
    return this.currentState === 'up';
  }

  info(): BackendInfo {
    const pid = this.pid;
    return {
      kind: this.kind,
      url: this.url,
      state: this.currentState,
      ...(pid === undefined ? {} : { pid }),
      restarts: this.supervisor?.restarts ?? 0,
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      protected: this.headers.authorization !== undefined,
    };
  }

  /**
   * Starts (or, for 'external', starts watching) the backend and resolves once it answers.
   * Rejects with an 'unavailable' HearthError when it does not within startTimeoutMs; the
   * backend is still restarted (or watched) in the background until stop(), so a daemon may log
   * the error and serve 503s until it comes up.
   */
  async start(): Promise<void> {
    if (this.currentState !== 'stopped') throw new HearthError('conflict', `the ${this.kind} backend is already ${this.currentState}`, { code: 'already_started' });
    this.setState('starting');
    if (this.supervisor) {
      try {
        await this.supervisor.start();
      } catch (err) {
        this.lastError = err instanceof Error ? err.message : String(err);
        throw new HearthError('unavailable', `the ${this.kind} backend did not come up: ${this.lastError}`, { code: 'backend_unavailable', retryAfterS: 1, cause: err });
      }
      return;
    }
    const generation = ++this.watchGeneration;
    await this.watchOnce(generation);
    if (this.isUp()) return;
    try {
      await this.waitUntilUp(this.config.startTimeoutMs);
    } catch {
      if (this.state === 'starting') this.setState('down');
      throw unavailable(`the external backend at ${this.url} does not answer: ${this.lastProbeError ?? 'no answer'}`, 1, 'backend_unavailable');
    }
  }

  /** Stops a managed backend (SIGTERM to its process group, SIGKILL after stopTimeoutMs) or stops watching an external one. */
  async stop(): Promise<void> {
    this.watchGeneration += 1;
    clearTimeout(this.watchTimer);
    this.watchTimer = undefined;
    if (this.supervisor) await this.supervisor.stop();
    this.setState('stopped');
  }

  /** Resolves when the backend is up; rejects after timeoutMs or once it is stopped. */
  waitUntilUp(timeoutMs: number): Promise<void> {
    return waitForState<BackendState>(this, {
      current: this.currentState,
      target: 'up',
      terminal: ['stopped'],
      timeoutMs,
      failure: (state) =>
        unavailable(state ? `the ${this.kind} backend is stopped` : `the ${this.kind} backend at ${this.url} is not up after ${timeoutMs} ms`, 1, 'backend_unavailable'),
    });
  }

  /**
   * For the bundled engine with an empty store: creates `hearth-demo` (see demo-model.ts).
   * Returns whether it created it; false for other kinds and when any model exists.
   */
  ensureDemoModel(): Promise<boolean> {
    if (this.kind !== 'engine') return Promise.resolve(false);
    this.demo ??= ensureDemoModel({ url: this.url, headers: this.headers, client: this.ollama, dataDir: this.dataDir, log: this.log }).finally(() => (this.demo = undefined));
    return this.demo;
  }

  private async probe(signal?: AbortSignal): Promise<boolean> {
    const result = await probeVersion(this.url, { timeoutMs: HEALTH_TIMEOUT_MS, headers: this.headers, ...(signal ? { signal } : {}) });
    if (result.ok) this.lastProbeError = undefined;
    else this.lastProbeError = result.error;
    return result.ok;
  }

  /** External mode: one probe, then the next one scheduled; never two at once. */
  private async watchOnce(generation: number): Promise<void> {
    const ok = await this.probe();
    if (generation !== this.watchGeneration) return;
    if (ok) {
      this.externalFailures = 0;
      this.setState('up');
    } else {
      this.externalFailures += 1;
      this.lastError = this.lastProbeError;
      if (this.currentState === 'up' && this.externalFailures >= UNHEALTHY_THRESHOLD) this.setState('down');
    }
    this.watchTimer = setTimeout(() => void this.watchOnce(generation), this.config.healthIntervalMs);
    // The daemon's server keeps the process alive; a watcher alone must not.
    this.watchTimer.unref();
  }

  private onSupervisorState(state: SupervisorState): void {
    switch (state) {
      case 'running':
        this.setState('up');
        break;
      case 'stopped':
        this.setState('stopped');
        break;
      case 'starting':
        // Only the first run after start() is 'starting'; a restart means the backend is down.
        this.setState(this.currentState === 'starting' ? 'starting' : 'down');
        break;
      case 'unhealthy':
        this.lastError = this.lastProbeError;
        this.setState('down');
        break;
      case 'restarting':
      case 'failed':
        this.setState('down');
        break;
    }
  }

  private onSupervisorExit(exit: ExitInfo): void {
    if (exit.reason === 'stop') return;
    this.lastError = `${this.kind} ${describeExit(exit)}`;
  }

  private setState(next: BackendState): void {
    const previous = this.currentState;
    if (next === previous) return;
    this.currentState = next;
    const meta = { state: next, previous, url: this.url, pid: this.pid, ...(next === 'down' && this.lastError ? { lastError: this.lastError } : {}) };
    if (next === 'down') this.log.warn('inference backend state', meta);
    else this.log.info('inference backend state', meta);
    this.emit('state', next, previous);
  }
}

/** Re-logs a child's log line: JSON lines keep their message; info and below become debug. */
function forwardChildLine(log: Logger, line: string): void {
  if (line.trim() === '') return;
  let level = 'debug';
  let message = line;
  let meta: Record<string, unknown> = {};
  if (line.startsWith('{')) {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      const { level: l, message: m, timestamp: _t, service: _s, ...rest } = entry;
      if (typeof m === 'string') message = m;
      if (l === 'error' || l === 'warn') level = l;
      meta = rest;
    } catch {
      // Not JSON after all: forward the raw line.
    }
  } else if (/\blevel=(ERROR|WARN)\b/.test(line)) {
    level = /level=ERROR/.test(line) ? 'error' : 'warn';
  }
  log.log(level, message, { ...meta, source: 'child' });
}
