import { mkdirSync } from 'node:fs';
import { insideDir } from '../paths.js';
import type { Logger } from '../log.js';
import type { Clock } from '../domain/clock.js';
import type { Job, Jobs, LossPoint, Progress } from './jobs.js';
import type { JobFiles } from './job-files.js';
import { DONE_STATS, type WorkerEvent } from './trainers/protocol.js';
import { startTrainerProcess, type StartTrainer, type TrainerExit, type TrainerLaunch, type TrainerProcess } from './trainers/process.js';

// The training queue: FIFO over pending jobs, at most `concurrency` trainers at once (one per
// device by default). Each trainer is a child process in its own process group
// (trainers/process.ts), speaking the JSON-lines protocol of trainers/protocol.ts on stdout:
// progress lines become the job's progress and loss history, the done line its artifacts and
// figures, an error line its error. Everything else it prints (and all of stderr) goes to the
// job's log file.

export interface RunnerOptions {
  jobs: Jobs;
  files: JobFiles;
  log: Logger;
  clock: Clock;
  /** Trainers at once. */
  concurrency: number;
  /** After SIGTERM, how long a trainer may take before SIGKILL. */
  stopTimeoutMs: number;
  /**
   * Everything before the trainer may start: unload the backend's models, check free memory,
   * write the trainer's input. Throws a HearthError whose message becomes the job's error.
   */
  prepare(job: Job, jobDir: string): Promise<TrainerLaunch>;
  /** Starts a trainer; startTrainerProcess (a supervised child process) by default. */
  startTrainer?: StartTrainer;
}

/** What the service asks of the queue. */
export interface TrainingQueue {
  pump(): void;
  cancel(job: Job): Promise<void>;
}

interface Active {
  trainer: TrainerProcess;
  /** Settles once the trainer's exit has been recorded on the job. */
  ended: Promise<void>;
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

/** Progress is written at most this often: a small model reports hundreds of steps a second. */
const PROGRESS_WRITE_MS = 500;

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

export class FinetuneRunner implements TrainingQueue {
  private readonly active = new Map<string, Active>();
  /** Jobs being prepared (not yet spawned): they hold a slot too. */
  private readonly preparing = new Set<string>();
  private closed = false;
  private pumping = false;

  constructor(private readonly o: RunnerOptions) {}

  /**
   * At daemon start, before serving: a job still marked running belonged to a trainer of the
   * previous daemon, which cannot have outlived it (trainers watch their parent).
   */
  recover(): number {
    let n = 0;
    for (const job of this.o.jobs.inState('running')) {
      if (this.o.jobs.finish(job.id, 'failed', { error: 'interrupted by restart: the daemon stopped while this job was training' })) n++;
      this.o.files.appendLog(job.id, 'job failed: interrupted by restart');
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

  /**
   * Cancels a job: a queued one at once, a running one by stopping its trainer's process group;
   * resolves once the job is cancelled.
   */
  async cancel(job: Job): Promise<void> {
    const a = this.active.get(job.id);
    if (a) {
      a.cancelled = true;
      this.o.files.appendLog(job.id, 'cancel requested: stopping the trainer');
      await a.trainer.stop();
      await a.ended;
      return;
    }
    if (this.preparing.has(job.id)) {
      // The launch sees the state change and does not spawn.
      this.o.jobs.finish(job.id, 'cancelled');
      return;
    }
    this.o.jobs.finish(job.id, 'cancelled');
    this.o.files.appendLog(job.id, 'job cancelled before it ran');
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
        await a.trainer.stop();
        await a.ended;
      }),
    );
  }

  private async launch(job: Job): Promise<void> {
    const dir = this.o.files.dir(job.id);
    this.preparing.add(job.id);
    let launch: TrainerLaunch;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      this.o.files.appendLog(job.id, `job started: trainer ${job.trainer}, base ${job.baseModel}, dataset ${job.datasetId}`);
      launch = await this.o.prepare(job, dir);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.o.files.appendLog(job.id, `job failed before training: ${message}`);
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

    const trainer = (this.o.startTrainer ?? startTrainerProcess)(launch, {
      name: `trainer ${job.id}`,
      cwd: dir,
      log: this.o.log.child({ job: job.id }),
      stopTimeoutMs: this.o.stopTimeoutMs,
      onEvent: (e) => this.onEvent(job.id, e),
      onLog: (line) => this.o.files.appendLog(job.id, line),
    });
    const a: Active = {
      trainer,
      ended: trainer.exited.then((exit) => this.onExit(job.id, a, exit)),
      progress: undefined,
      points: [],
      flushTimer: undefined,
      cancelled: false,
      stopping: undefined,
      artifacts: undefined,
      stats: {},
      reportedError: undefined,
    };
    this.active.set(job.id, a);
  }

  private onEvent(id: string, e: WorkerEvent): void {
    const a = this.active.get(id);
    if (e.type === 'progress') {
      const p: Progress = { step: e.step, totalSteps: e.totalSteps, epoch: e.epoch, loss: e.loss, evalLoss: e.evalLoss, tokensPerS: e.tokensPerS, etaS: e.etaS };
      if (a) {
        a.progress = p;
        if (p.loss !== null) a.points.push({ step: p.step, epoch: p.epoch, loss: p.loss, evalLoss: p.evalLoss });
        a.flushTimer ??= setTimeout(() => this.flushProgress(id, a), PROGRESS_WRITE_MS);
      }
      this.o.files.appendLog(id, `step ${p.step}/${p.totalSteps} epoch ${p.epoch} loss ${p.loss ?? '-'}${p.evalLoss === null ? '' : ` eval ${p.evalLoss}`}`);
    } else if (e.type === 'done') {
      if (!a) return;
      a.artifacts = inJobDir(this.o.files.dir(id), e.artifacts) as Record<string, unknown>;
      for (const key of DONE_STATS) {
        const v = e[key];
        if (typeof v === 'number') a.stats[key] = v;
      }
      this.o.files.appendLog(id, `trainer finished: ${JSON.stringify(a.artifacts)}`);
    } else {
      if (a) a.reportedError = e.message;
      this.o.files.appendLog(id, `trainer error: ${e.message}`);
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

  private onExit(id: string, a: Active, exit: TrainerExit): void {
    this.flushProgress(id, a);
    this.active.delete(id);
    const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
    if (a.cancelled) {
      this.o.jobs.finish(id, 'cancelled');
      this.o.files.appendLog(id, `job cancelled (trainer ended by ${how})`);
    } else if (a.stopping) {
      this.o.jobs.finish(id, 'failed', { error: a.stopping });
      this.o.files.appendLog(id, `job failed: ${a.stopping}`);
    } else if (exit.code === 0 && a.artifacts) {
      this.o.jobs.finish(id, 'succeeded', { output: { artifacts: a.artifacts, ...a.stats } });
      this.o.files.appendLog(id, 'job succeeded');
    } else {
      const tail = exit.stderrTail.trim().split('\n').slice(-10).join('\n');
      const error = `${a.reportedError ?? exit.error ?? `the trainer exited with ${how}`}${tail ? `\n--- last trainer output ---\n${tail}` : ''}`;
      this.o.jobs.finish(id, 'failed', { error });
      this.o.files.appendLog(id, `job failed: trainer exited with ${how}`);
    }
    this.pump();
  }
}
