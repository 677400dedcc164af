import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { insideDir } from '../paths.js';
import type { Logger } from '../log.js';
import type { Clock } from '../domain/clock.js';
import { describeError } from '../log.js';
import { Supervisor, type ExitInfo, type SpawnFunction } from '../supervisor/supervisor.js';
import type { Job, Jobs, LossPoint, Progress } from './jobs.js';

// The training queue: FIFO over pending jobs, at most `concurrency` trainers at once (one per
// device by default). Each trainer is a child process in its own process group, run by the same
// Supervisor as the backend (one-shot: no restarts, no health checks), speaking JSON lines on
// stdout:
//   {"type":"progress", step, totalSteps, epoch, loss, evalLoss, tokensPerS, etaS}
//   {"type":"done", artifacts: {...}, steps?, finalLoss?, tokensPerS?, peakRssBytes?}
//   {"type":"error", message}
// Everything else it prints (and all of stderr) goes to the job's log file.

export interface TrainerLaunch {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface RunnerOptions {
  jobs: Jobs;
  log: Logger;
  clock: Clock;
  /** <data_dir>/finetune/jobs: one folder per job (spec, log, artifacts). */
  jobsDir: string;
  /** Trainers at once. */
  concurrency: number;
  /** After SIGTERM, how long a trainer may take before SIGKILL. */
  stopTimeoutMs: number;
  /**
   * Everything before the trainer may start: unload the backend's models, check free memory,
   * write the trainer's input. Throws a HearthError whose message becomes the job's error.
   */
  prepare(job: Job, jobDir: string): Promise<TrainerLaunch>;
  spawn?: SpawnFunction;
}

interface Active {
  supervisor: Supervisor;
  /** Progress not yet written: the latest report and the loss points since the last write. */
  progress: Progress | undefined;
  points: LossPoint[];
  flushTimer: NodeJS.Timeout | undefined;
  cancelled: boolean;
  stopping: string | undefined;
  artifacts: Record<string, unknown> | undefined;
  /** The done line's figures (those that are finite numbers), kept in the job's output. */
  stats: Record<string, number>;
  reportedError: string | undefined;
}

/** Lines of stderr kept to explain a crash. */
const STDERR_TAIL_BYTES = 4096;
/** Progress is written at most this often: a small model reports hundreds of steps a second. */
const PROGRESS_WRITE_MS = 500;
/** Figures a trainer may report on its done line; anything else there is ignored. */
const DONE_STATS = ['steps', 'finalLoss', 'tokensPerS', 'peakRssBytes'] as const;

/**
 * Artifact paths as the job's output keeps them: relative to the job's folder when inside it,
 * so the API never shows where the data dir is (registration resolves them again).
 */
function inJobDir(dir: string, value: unknown): unknown {
  if (typeof value === 'string') return insideDir(dir, value) ?? value;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, inJobDir(dir, v)]));
  }
  return value;
}

export class FinetuneRunner {
  private readonly active = new Map<string, Active>();
  /** Jobs being prepared (not yet spawned): they hold a slot too. */
  private readonly preparing = new Set<string>();
  private closed = false;
  private pumping = false;

  constructor(private readonly o: RunnerOptions) {
    mkdirSync(o.jobsDir, { recursive: true, mode: 0o700 });
  }

  jobDir(id: string): string {
    return join(this.o.jobsDir, id);
  }

  logFile(id: string): string {
    return join(this.jobDir(id), 'train.log');
  }

  /**
   * At daemon start, before serving: a job still marked running belonged to a trainer of the
   * previous daemon, which cannot have outlived it (trainers watch their parent).
   */
  recover(): number {
    let n = 0;
    for (const job of this.o.jobs.inState('running')) {
      if (this.o.jobs.finish(job.id, 'failed', { error: 'interrupted by restart: the daemon stopped while this job was training' })) n++;
      this.appendLog(job.id, 'job failed: interrupted by restart');
    }
    return n;
  }

  /** Starts as many due pending jobs as there are free slots. Safe to call at any time. */
  pump(): void {
    if (this.closed || this.pumping) return;
    this.pumping = true;
    try {
      const now = this.o.clock.now().getTime();
      for (const job of this.o.jobs.inState('pending')) {
        if (this.active.size + this.preparing.size >= this.o.concurrency) break;
        if (this.active.has(job.id) || this.preparing.has(job.id)) continue;
        if (job.startAt !== null && job.startAt.getTime() > now) continue;
        if (!this.o.jobs.markRunning(job.id)) continue;
        void this.launch(this.o.jobs.byId(job.id));
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Cancels a job: a queued one at once, a running one by stopping its trainer's process group. */
  async cancel(job: Job): Promise<void> {
    const a = this.active.get(job.id);
    if (a) {
      a.cancelled = true;
      this.appendLog(job.id, 'cancel requested: stopping the trainer');
      await a.supervisor.stop();
      return;
    }
    if (this.preparing.has(job.id)) {
      // The launch sees the state change and does not spawn.
      this.o.jobs.finish(job.id, 'cancelled');
      return;
    }
    this.o.jobs.finish(job.id, 'cancelled');
    this.appendLog(job.id, 'job cancelled before it ran');
  }

  isActive(id: string): boolean {
    return this.active.has(id) || this.preparing.has(id);
  }

  /** Daemon shutdown: stops every trainer; their jobs fail as interrupted. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.active.values()].map(async (a) => {
        a.stopping = 'interrupted: the daemon stopped while this job was training';
        await a.supervisor.stop();
      }),
    );
  }

  appendLog(id: string, line: string): void {
    try {
      mkdirSync(this.jobDir(id), { recursive: true, mode: 0o700 });
      appendFileSync(this.logFile(id), `${this.o.clock.now().toISOString()} ${line.replace(/\n+$/, '')}\n`);
    } catch (err) {
      this.o.log.warn('cannot write a training log line', { job: id, err: describeError(err) });
    }
  }

  private async launch(job: Job): Promise<void> {
    const dir = this.jobDir(job.id);
    this.preparing.add(job.id);
    let launch: TrainerLaunch;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      this.appendLog(job.id, `job started: trainer ${job.trainer}, base ${job.baseModel}, dataset ${job.datasetId}`);
      launch = await this.o.prepare(job, dir);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.appendLog(job.id, `job failed before training: ${message}`);
      this.o.jobs.finish(job.id, 'failed', { error: message });
      this.preparing.delete(job.id);
      this.pump();
      return;
    }
    this.preparing.delete(job.id);
    if (this.o.jobs.byId(job.id).state !== 'running' || this.closed) {
      if (this.closed) this.o.jobs.finish(job.id, 'failed', { error: 'interrupted: the daemon stopped before this job started training' });
      this.pump();
      return;
    }

    const supervisor = new Supervisor({
      name: `trainer ${job.id}`,
      command: launch.command,
      args: launch.args,
      env: launch.env,
      cwd: launch.cwd ?? dir,
      spawn: this.o.spawn,
      log: this.o.log.child({ job: job.id }),
      healthIntervalMs: 1000,
      startTimeoutMs: 60_000,
      restart: false,
      stopTimeoutMs: this.o.stopTimeoutMs,
      stderrTailBytes: STDERR_TAIL_BYTES,
      onStdoutLine: (line) => this.onStdout(job.id, line),
      onStderrLine: (line) => this.appendLog(job.id, line),
    });
    const a: Active = { supervisor, progress: undefined, points: [], flushTimer: undefined, cancelled: false, stopping: undefined, artifacts: undefined, stats: {}, reportedError: undefined };
    this.active.set(job.id, a);
    supervisor.once('exit', (exit) => this.onExit(job.id, a, exit));
    try {
      await supervisor.start();
    } catch (err) {
      // A spawn failure also arrives as an exit; nothing else to do here.
      this.o.log.debug('trainer start failed', { job: job.id, err: describeError(err) });
    }
  }

  private onStdout(id: string, line: string): void {
    const a = this.active.get(id);
    let msg: { type?: unknown } & Record<string, unknown>;
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      this.appendLog(id, line);
      return;
    }
    if (msg.type === 'progress') {
      const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
      const p: Progress = {
        step: num(msg.step) ?? 0,
        totalSteps: num(msg.totalSteps) ?? 0,
        epoch: num(msg.epoch) ?? 0,
        loss: num(msg.loss),
        evalLoss: num(msg.evalLoss),
        tokensPerS: num(msg.tokensPerS),
        etaS: num(msg.etaS),
      };
      if (a) {
        a.progress = p;
        if (p.loss !== null) a.points.push({ step: p.step, epoch: p.epoch, loss: p.loss, evalLoss: p.evalLoss });
        a.flushTimer ??= setTimeout(() => this.flushProgress(id, a), PROGRESS_WRITE_MS);
      }
      this.appendLog(id, `step ${p.step}/${p.totalSteps} epoch ${p.epoch} loss ${p.loss ?? '-'}${p.evalLoss === null ? '' : ` eval ${p.evalLoss}`}`);
    } else if (msg.type === 'done' && a) {
      a.artifacts = inJobDir(this.jobDir(id), typeof msg.artifacts === 'object' && msg.artifacts !== null ? msg.artifacts : {}) as Record<string, unknown>;
      for (const key of DONE_STATS) {
        const v = msg[key];
        if (typeof v === 'number' && Number.isFinite(v)) a.stats[key] = v;
      }
      this.appendLog(id, `trainer finished: ${JSON.stringify(a.artifacts)}`);
    } else if (msg.type === 'error' && a) {
      a.reportedError = String(msg.message ?? 'the trainer reported an error');
      this.appendLog(id, `trainer error: ${a.reportedError}`);
    } else {
      this.appendLog(id, line);
    }
  }

  private flushProgress(id: string, a: Active): void {
    clearTimeout(a.flushTimer);
    a.flushTimer = undefined;
    if (a.progress === undefined) return;
    this.o.jobs.recordProgress(id, a.progress, a.points);
    a.progress = undefined;
    a.points = [];
  }

  private onExit(id: string, a: Active, exit: ExitInfo): void {
    this.flushProgress(id, a);
    this.active.delete(id);
    const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
    if (a.cancelled) {
      this.o.jobs.finish(id, 'cancelled');
      this.appendLog(id, `job cancelled (trainer ended by ${how})`);
    } else if (a.stopping) {
      this.o.jobs.finish(id, 'failed', { error: a.stopping });
      this.appendLog(id, `job failed: ${a.stopping}`);
    } else if (exit.code === 0 && a.artifacts) {
      this.o.jobs.finish(id, 'succeeded', { output: { artifacts: a.artifacts, ...a.stats } });
      this.appendLog(id, 'job succeeded');
    } else {
      const tail = exit.stderrTail.trim().split('\n').slice(-10).join('\n');
      const error = `${a.reportedError ?? exit.error ?? `the trainer exited with ${how}`}${tail ? `\n--- last trainer output ---\n${tail}` : ''}`;
      this.o.jobs.finish(id, 'failed', { error });
      this.appendLog(id, `job failed: trainer exited with ${how}`);
    }
    this.pump();
  }
}
