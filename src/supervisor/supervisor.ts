// One supervisor for every long-lived child of the daemon: the inference backend (`ollama serve`
// or `hearth engine`) and each training job. Modelled on Ollama's runner supervision
// (llm/llama_server.go): spawn into its own process group; an `exited` promise per run; health
// polled, with a stall deadline that health or reported progress extends; the last few KiB of
// stderr kept so an exit says why; restarts with exponential backoff, never while stopping;
// SIGTERM, then SIGKILL after a timeout, always to the whole group.
//
// States:
//   stopped ─start()─▶ starting ─healthy─▶ running ◀─healthy─▶ unhealthy
//   starting/running/unhealthy ─exit─▶ restarting ─backoff─▶ starting     (restart policy)
//                              ─exit─▶ stopped (clean exit) | failed        (no restart policy,
//                                                                            or maxFailures hit)
//   any ─stop()─▶ stopped
// A child that is not healthy within startTimeoutMs, or (with stallTimeoutMs) shows no sign of
// life for that long, is killed, and that run counts as a failure.

import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import { HearthError, unavailable } from '../errors.js';
import { waitForState } from './wait-for-state.js';
import type { Logger } from '../log.js';
import { registerGroup, signalGroup, unregisterGroup } from './process-group.js';

export type SupervisorState = 'starting' | 'running' | 'unhealthy' | 'restarting' | 'stopped' | 'failed';

export interface RestartPolicy {
  /** Delay before the first restart, in ms; must be > 0 so a crashing child never loops tightly. */
  initialDelayMs: number;
  /** Ceiling of the delay, in ms. */
  maxDelayMs: number;
  /** Each consecutive failure multiplies the delay by this (≥ 1). */
  factor: number;
  /** A run that stayed up this long (ms since it became healthy) resets the delay and the failure count. Default 30 000. */
  resetAfterMs?: number;
  /** Consecutive failed runs after which the supervisor gives up with state 'failed'. Default: never gives up. */
  maxFailures?: number;
}

/** Why the supervisor ended a run itself, or why a run never started. */
export type EndReason = 'stop' | 'start-timeout' | 'stalled' | 'spawn-error';

export interface ExitInfo {
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last `stderrTailBytes` of the child's stderr (UTF-8; the first character may be cut). */
  stderrTail: string;
  /** Set when the supervisor ended the run (or could not spawn it); absent when the child exited on its own. */
  reason?: EndReason;
  /** The spawn error's message when reason is 'spawn-error'. */
  error?: string;
  /** Whether the run had become healthy. */
  wasHealthy: boolean;
}

export type SpawnFunction = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

export interface SupervisorOptions {
  /** Names the child in logs and errors, e.g. "engine" or "finetune-42". */
  name: string;
  command: string;
  args: readonly string[];
  /** Added to (not replacing) process.env; a variable set to undefined is removed. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Defaults to child_process.spawn; the supervisor always passes detached: true and piped stdout/stderr. */
  spawn?: SpawnFunction;
  log: Logger;
  /**
   * Whether the child answers (e.g. GET /api/version). Without it a child counts as healthy
   * once spawned. Called with a signal that aborts after healthTimeoutMs; a throw, a false or a
   * timeout all mean unhealthy.
   */
  health?: (signal: AbortSignal) => Promise<boolean>;
  /** Period of health checks while running, in ms. */
  healthIntervalMs: number;
  /** Period of health checks while starting, in ms. Default min(healthIntervalMs, 100). */
  startPollIntervalMs?: number;
  /** Bound of one health check, in ms. Default min(healthIntervalMs, 5000). */
  healthTimeoutMs?: number;
  /** Consecutive failed health checks before a running child is reported 'unhealthy'. Default 1. */
  unhealthyThreshold?: number;
  /** The child must be healthy within this many ms of its spawn, else it is killed and the run counts as failed. */
  startTimeoutMs: number;
  /**
   * A running child with no passed health check and no touch() for this many ms is killed (and
   * restarted per the policy). Default: never; an unhealthy child is only reported.
   */
  stallTimeoutMs?: number;
  restart: false | RestartPolicy;
  /** After SIGTERM to the group, how long to wait before SIGKILL, in ms. */
  stopTimeoutMs: number;
  /** Bytes of stderr kept per run for lastExit and the exit log. */
  stderrTailBytes: number;
  /** Each stdout line (without its newline). Without it stdout is read and discarded. */
  onStdoutLine?: (line: string) => void;
  /** Each stderr line; stderr is kept in the tail either way. */
  onStderrLine?: (line: string) => void;
}

export interface SupervisorEvents {
  state: [state: SupervisorState, previous: SupervisorState];
  spawn: [pid: number];
  exit: [exit: ExitInfo];
  /** A restart was scheduled: the attempt number (1 for the first restart) and its delay. */
  restart: [restart: { attempt: number; delayMs: number }];
}

/** Keeps the last `limit` bytes written to it. */
class ByteTail {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    if (this.limit <= 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.chunks.length > 1 && this.size - (this.chunks[0] as Buffer).length >= this.limit) {
      this.size -= (this.chunks.shift() as Buffer).length;
    }
  }

  toString(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.limit)).toString('utf8');
  }
}

interface Run {
  child: ChildProcess | undefined;
  pid: number | undefined;
  stderr: ByteTail;
  exited: Promise<ExitInfo>;
  done: boolean;
  /** Set once when the supervisor decides to end the run. */
  endReason?: EndReason;
  /** When the run first passed a health check (Date.now()). */
  healthySince?: number;
  /** Last passed health check or touch(), for the stall deadline. */
  aliveAt: number;
  /** Failed health checks since the last passed one. */
  failedChecks: number;
  pollTimer?: NodeJS.Timeout;
  startTimer?: NodeJS.Timeout;
  killTimer?: NodeJS.Timeout;
}

/** After the child exits, how long to wait for its stdio to close so the stderr tail is complete. */
const STDIO_DRAIN_MS = 1000;
const DEFAULT_RESET_AFTER_MS = 30_000;

function positive(value: number, what: string): void {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${what} must be a positive number of ms (got ${value})`);
}

/** The last non-empty stderr line that is not a stack frame (Node's "    at …"), which is usually the error itself. */
function lastMessageLine(stderrTail: string): string | undefined {
  const lines = stderrTail.split('\n').map((l) => l.trimEnd());
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] as string;
    if (line.trim() !== '' && !/^\s+at\s/.test(line)) return line.trim();
  }
  return undefined;
}

/** One line for logs and errors: how the run ended, and the last line of its stderr. */
export function describeExit(e: ExitInfo): string {
  const how = e.reason === 'spawn-error' ? `could not be spawned (${e.error})` : e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
  const why = e.reason === 'start-timeout' ? ' after it did not become healthy in time' : e.reason === 'stalled' ? ' after it stopped answering health checks' : '';
  const lastLine = lastMessageLine(e.stderrTail);
  return `${how}${why}${lastLine ? `: ${lastLine}` : ''}`;
}

export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly name: string;
  private readonly opts: SupervisorOptions;
  private readonly log: Logger;
  private readonly spawnFn: SpawnFunction;
  private currentState: SupervisorState = 'stopped';
  private run: Run | undefined;
  /** Set by stop() and cleared by start(): no run may be spawned or restarted while it is set. */
  private stopping = false;
  private stopPromise: Promise<void> | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private nextDelayMs = 0;
  private failures = 0;
  private restartCount = 0;
  private exitInfo: ExitInfo | undefined;
  private startWaiter: { resolve: () => void; reject: (err: Error) => void } | undefined;

  constructor(options: SupervisorOptions) {
    super();
    positive(options.healthIntervalMs, 'healthIntervalMs');
    positive(options.startTimeoutMs, 'startTimeoutMs');
    positive(options.stopTimeoutMs, 'stopTimeoutMs');
    if (options.stallTimeoutMs !== undefined) positive(options.stallTimeoutMs, 'stallTimeoutMs');
    if (options.restart) {
      positive(options.restart.initialDelayMs, 'restart.initialDelayMs');
      if (!(options.restart.maxDelayMs >= options.restart.initialDelayMs)) throw new RangeError('restart.maxDelayMs must be ≥ restart.initialDelayMs');
      if (!(options.restart.factor >= 1)) throw new RangeError('restart.factor must be ≥ 1');
    }
    this.name = options.name;
    this.opts = options;
    this.log = options.log.child({ supervised: options.name });
    this.spawnFn = options.spawn ?? (nodeSpawn as SpawnFunction);
  }

  get state(): SupervisorState {
    return this.currentState;
  }

  /** Pid (and process-group id) of the live child, if any. */
  get pid(): number | undefined {
    return this.run && !this.run.done ? this.run.pid : undefined;
  }

  /** The current (or last) run's exit, settled once its child has exited and its group was killed; undefined before start(). */
  get exited(): Promise<ExitInfo> | undefined {
    return this.run?.exited;
  }

  get lastExit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  /** Restarts scheduled since start(). */
  get restarts(): number {
    return this.restartCount;
  }

  /**
   * Spawns the child and resolves once it is healthy. Rejects if that first run exits or misses
   * startTimeoutMs; with a restart policy the supervisor then keeps restarting it in the
   * background (watch `state`, or call stop() to give up).
   */
  async start(): Promise<void> {
    if (this.stopPromise) await this.stopPromise;
    if (this.currentState !== 'stopped' && this.currentState !== 'failed') {
      throw new HearthError('conflict', `${this.name} is already ${this.currentState}`, { code: 'already_started' });
    }
    this.stopping = false;
    this.failures = 0;
    this.restartCount = 0;
    this.nextDelayMs = this.opts.restart ? this.opts.restart.initialDelayMs : 0;
    const started = new Promise<void>((resolve, reject) => (this.startWaiter = { resolve, reject }));
    this.spawnRun();
    return started;
  }

  /** SIGTERM to the group, SIGKILL after stopTimeoutMs; resolves once the child has exited. Never restarts. */
  stop(): Promise<void> {
    this.stopPromise ??= this.stopNow().finally(() => (this.stopPromise = undefined));
    return this.stopPromise;
  }

  /** Resolves when the state is 'running'; rejects after timeoutMs or when the supervisor stops or gives up. */
  waitUntilRunning(timeoutMs: number): Promise<void> {
    return waitForState<SupervisorState>(this, {
      current: this.currentState,
      target: 'running',
      terminal: ['stopped', 'failed'],
      timeoutMs,
      failure: (state) => unavailable(state ? `${this.name} is ${state}` : `${this.name} did not become healthy within ${timeoutMs} ms`, 1, 'not_running'),
    });
  }

  /** Progress from the child (e.g. a training step): extends the stall deadline like a passed health check. */
  touch(): void {
    if (this.run && !this.run.done) this.run.aliveAt = Date.now();
  }

  private setState(next: SupervisorState): void {
    const previous = this.currentState;
    if (next === previous) return;
    this.currentState = next;
    const level = next === 'failed' ? 'error' : next === 'unhealthy' ? 'warn' : 'info';
    this.log.log(level, 'supervised process state', { state: next, previous, pid: this.pid });
    this.emit('state', next, previous);
  }

  private settleStart(err?: Error): void {
    const waiter = this.startWaiter;
    if (!waiter) return;
    this.startWaiter = undefined;
    if (err) waiter.reject(err);
    else waiter.resolve();
  }

  private spawnRun(): void {
    let resolveExited!: (info: ExitInfo) => void;
    const run: Run = {
      child: undefined,
      pid: undefined,
      stderr: new ByteTail(this.opts.stderrTailBytes),
      exited: new Promise<ExitInfo>((resolve) => (resolveExited = resolve)),
      done: false,
      aliveAt: Date.now(),
      failedChecks: 0,
    };
    this.run = run;
    this.setState('starting');

    let closed = false;
    let exitStatus: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
      if (run.done) return;
      run.done = true;
      for (const t of [run.pollTimer, run.startTimer, run.killTimer, drainTimer]) clearTimeout(t);
      if (run.pid !== undefined) {
        // Whatever the child left behind in its group (workers, runners) ends with it.
        signalGroup(run.pid, 'SIGKILL');
        unregisterGroup(run.pid);
      }
      const info: ExitInfo = {
        pid: run.pid,
        code,
        signal,
        stderrTail: run.stderr.toString(),
        wasHealthy: run.healthySince !== undefined,
        ...(spawnError ? { reason: 'spawn-error' as const, error: spawnError.message } : run.endReason ? { reason: run.endReason } : {}),
      };
      resolveExited(info);
      this.onRunEnded(run, info);
    };

    let child: ChildProcess;
    try {
      child = this.spawnFn(this.opts.command, this.opts.args, {
        cwd: this.opts.cwd,
        env: { ...process.env, ...this.opts.env },
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      finish(null, null, err instanceof Error ? err : new Error(String(err)));
      return;
    }
    run.child = child;
    run.pid = child.pid;
    if (run.pid !== undefined) registerGroup(run.pid);

    child.stderr?.on('data', (chunk: Buffer) => run.stderr.push(chunk));
    if (this.opts.onStderrLine && child.stderr) createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', this.opts.onStderrLine);
    if (this.opts.onStdoutLine && child.stdout) createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', this.opts.onStdoutLine);
    else child.stdout?.resume();

    child.once('error', (err) => {
      // Without a pid the spawn itself failed (ENOENT, EACCES) and no 'exit' follows.
      if (child.pid === undefined) finish(null, null, err);
      else this.log.warn('supervised process error', { pid: child.pid, error: err.message });
    });
    // 'close' comes after 'exit' once stdio is drained; killing the group on 'exit' releases pipe
    // ends that grandchildren held, and the timer bounds the wait for anything that escaped it.
    child.once('exit', (code, signal) => {
      exitStatus = { code, signal };
      if (run.pid !== undefined) signalGroup(run.pid, 'SIGKILL');
      if (closed) finish(code, signal);
      else drainTimer = setTimeout(() => finish(code, signal), STDIO_DRAIN_MS);
    });
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      closed = true;
      if (exitStatus) finish(exitStatus.code, exitStatus.signal);
      else if (code !== null || signal !== null) finish(code, signal);
    });
    child.once('spawn', () => {
      if (run.done || run.pid === undefined) return;
      this.log.info('supervised process spawned', { pid: run.pid, command: this.opts.command, args: this.opts.args });
      this.emit('spawn', run.pid);
      if (!this.opts.health) this.markHealthy(run);
    });

    run.startTimer = setTimeout(() => {
      if (run.done || run.healthySince !== undefined) return;
      this.log.warn('supervised process did not become healthy in time', { pid: run.pid, startTimeoutMs: this.opts.startTimeoutMs });
      this.endRun(run, 'start-timeout');
    }, this.opts.startTimeoutMs);
    this.schedulePoll(run, 0);
  }

  private markHealthy(run: Run): void {
    const now = Date.now();
    run.aliveAt = now;
    if (run.healthySince === undefined) {
      run.healthySince = now;
      clearTimeout(run.startTimer);
      this.setState('running');
      this.settleStart();
    } else if (this.currentState === 'unhealthy') {
      this.setState('running');
    }
  }

  private schedulePoll(run: Run, delayMs: number): void {
    if (run.done) return;
    run.pollTimer = setTimeout(() => void this.poll(run), delayMs);
  }

  private async poll(run: Run): Promise<void> {
    if (run.done || run.endReason) return;
    if (this.opts.health && run.pid !== undefined) {
      const ok = await this.probe(this.opts.health);
      if (run.done || run.endReason) return;
      if (ok) {
        run.failedChecks = 0;
        this.markHealthy(run);
      } else {
        run.failedChecks += 1;
        if (this.currentState === 'running' && run.failedChecks >= (this.opts.unhealthyThreshold ?? 1)) this.setState('unhealthy');
      }
    }
    if (run.healthySince !== undefined && this.opts.stallTimeoutMs !== undefined && Date.now() - run.aliveAt >= this.opts.stallTimeoutMs) {
      this.log.warn('supervised process stalled', { pid: run.pid, stallTimeoutMs: this.opts.stallTimeoutMs });
      this.endRun(run, 'stalled');
      return;
    }
    const starting = run.healthySince === undefined;
    this.schedulePoll(run, starting ? (this.opts.startPollIntervalMs ?? Math.min(this.opts.healthIntervalMs, 100)) : this.opts.healthIntervalMs);
  }

  private async probe(health: (signal: AbortSignal) => Promise<boolean>): Promise<boolean> {
    const controller = new AbortController();
    const timeoutMs = this.opts.healthTimeoutMs ?? Math.min(this.opts.healthIntervalMs, 5000);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve(false);
      }, timeoutMs);
    });
    try {
      return (await Promise.race([health(controller.signal), timedOut])) === true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM to the run's group now, SIGKILL after stopTimeoutMs. */
  private endRun(run: Run, reason: EndReason): void {
    if (run.done || run.pid === undefined) return;
    run.endReason ??= reason;
    clearTimeout(run.pollTimer);
    if (!signalGroup(run.pid, 'SIGTERM')) return;
    run.killTimer ??= setTimeout(() => {
      if (run.done || run.pid === undefined) return;
      this.log.warn('supervised process ignored SIGTERM; sending SIGKILL', { pid: run.pid, stopTimeoutMs: this.opts.stopTimeoutMs });
      signalGroup(run.pid, 'SIGKILL');
    }, this.opts.stopTimeoutMs);
  }

  private onRunEnded(run: Run, info: ExitInfo): void {
    this.exitInfo = info;
    // Stopped by us, or a one-shot child (a trainer) that finished its work and exited 0: both
    // are the normal end of a run. A child under a restart policy (the backend) is meant to run
    // until stopped, so any exit of its own, even 0, is worth a warning.
    const finished = !this.opts.restart && info.reason === undefined && info.code === 0 && info.signal === null;
    const meta = { pid: info.pid, code: info.code, signal: info.signal, reason: info.reason, stderrTail: info.stderrTail };
    if (info.reason === 'stop') this.log.info('supervised process exited', meta);
    else if (finished) this.log.info('supervised process finished (exit code 0)', meta);
    else this.log.warn(`supervised process ${describeExit(info)}`, meta);
    this.emit('exit', info);
    if (this.stopping) return; // stop() owns the state from here.

    if (!info.wasHealthy) this.settleStart(unavailable(`${this.name} ${describeExit(info)}`, 1, 'start_failed'));
    const policy = this.opts.restart;
    if (!policy) {
      this.setState(info.code === 0 && info.signal === null && info.reason === undefined ? 'stopped' : 'failed');
      return;
    }
    const upForMs = run.healthySince === undefined ? 0 : Date.now() - run.healthySince;
    if (upForMs >= (policy.resetAfterMs ?? DEFAULT_RESET_AFTER_MS)) {
      this.failures = 0;
      this.nextDelayMs = policy.initialDelayMs;
    }
    this.failures += 1;
    if (policy.maxFailures !== undefined && this.failures >= policy.maxFailures) {
      this.log.error('supervised process keeps failing; giving up', { failures: this.failures });
      this.setState('failed');
      return;
    }
    const delayMs = this.nextDelayMs;
    this.nextDelayMs = Math.min(delayMs * policy.factor, policy.maxDelayMs);
    this.restartCount += 1;
    this.setState('restarting');
    this.log.info('supervised process restart scheduled', { attempt: this.restartCount, delayMs });
    this.emit('restart', { attempt: this.restartCount, delayMs });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopping) this.spawnRun();
    }, delayMs);
  }

  private async stopNow(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const run = this.run;
    if (run && !run.done) {
      this.log.info('stopping supervised process', { pid: run.pid });
      this.endRun(run, 'stop');
      await run.exited;
    }
    this.settleStart(unavailable(`${this.name} was stopped before it became healthy`, 1, 'stopped'));
    this.setState('stopped');
  }
}
