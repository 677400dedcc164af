import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Database } from 'better-sqlite3';
import { dateOrNull } from '../db/database.js';
import { conflict, HearthError, invalidRequest, notFound, unavailable } from '../errors.js';
import type { Clock } from '../domain/clock.js';
import type { ProgressEvent } from './trainers/protocol.js';

// Fine-tune jobs as rows: what was asked, where the job is in its life, and what the trainer
// reported. The runner (runner.ts) moves jobs along; this module only keeps the rules of which
// move is allowed from which state, so an API call and the runner can never disagree.

export const JOB_STATES = ['created', 'pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const FINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];
export const TRAINERS = ['llamacpp', 'peft'] as const;
export type TrainerName = (typeof TRAINERS)[number];

export interface Hyperparameters {
  epochs: number;
  learningRate: number;
  /** Tokens per training window. */
  contextSize: number;
  /** What registration makes of the result: a LoRA adapter on the base, or a full model. */
  output: 'lora' | 'full';
  seed: number;
}

/** A job's last progress: what its trainer's last progress line said (trainers/protocol.ts). */
export type Progress = Omit<ProgressEvent, 'type'>;

export interface LossPoint {
  step: number;
  epoch: number;
  loss: number;
  evalLoss: number | null;
}

export interface Job {
  id: string;
  workspaceId: string;
  datasetId: string;
  baseModel: string;
  trainer: TrainerName;
  hyperparameters: Hyperparameters;
  state: JobState;
  startAt: Date | null;
  createdAt: Date;
  queuedAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  progress: Progress | null;
  lossHistory: LossPoint[];
  error: string | null;
  output: Record<string, unknown> | null;
  registeredModel: string | null;
}

interface Row {
  id: string;
  workspace_id: string;
  dataset_id: string;
  base_model: string;
  trainer: TrainerName;
  hyperparameters: string;
  state: JobState;
  start_at: string | null;
  created_at: string;
  queued_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  progress: string | null;
  loss_history: string;
  error: string | null;
  output: string | null;
  registered_model: string | null;
}

/**
 * What happened to a job, as Jobs.changes tells it under the job's id: a new state (never
 * `created`, where every job begins), a progress write with the loss points it added, or the
 * job's deletion.
 */
export type JobChange = { type: 'state'; state: JobState } | { type: 'progress'; progress: Progress; points: LossPoint[] } | { type: 'deleted' };

/** Which jobs a listing across workspaces holds (the admin API's filters). */
export interface JobFilter {
  workspaceId?: string;
  state?: JobState;
}

export const JOB_ID_PATTERN = /^ftjob_[0-9a-f]{16}$/;

function fromRow(r: Row): Job {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    datasetId: r.dataset_id,
    baseModel: r.base_model,
    trainer: r.trainer,
    hyperparameters: JSON.parse(r.hyperparameters) as Hyperparameters,
    state: r.state,
    startAt: dateOrNull(r.start_at),
    createdAt: new Date(r.created_at),
    queuedAt: dateOrNull(r.queued_at),
    startedAt: dateOrNull(r.started_at),
    finishedAt: dateOrNull(r.finished_at),
    progress: r.progress === null ? null : (JSON.parse(r.progress) as Progress),
    lossHistory: JSON.parse(r.loss_history) as LossPoint[],
    error: r.error,
    output: r.output === null ? null : (JSON.parse(r.output) as Record<string, unknown>),
    registeredModel: r.registered_model,
  };
}

export interface NewJob {
  datasetId: string;
  baseModel: string;
  trainer: TrainerName;
  hyperparameters: Hyperparameters;
  startAt: Date | null;
}

/** The bounds a start must fit in (finetune.max_queued and finetune.max_queued_per_workspace). */
export interface QueueLimits {
  /** Due pending jobs (no startAt, or one that has come), all workspaces together. */
  maxQueued: number;
  /** Pending jobs of one workspace, due or not. */
  maxQueuedPerWorkspace: number;
}

/** Seconds a refused start is told to wait: a queued job takes minutes to hours to leave the queue. */
const QUEUE_RETRY_AFTER_S = 60;

/** The most loss points kept per job; beyond it every other point is dropped (the curve keeps its shape). */
const MAX_LOSS_POINTS = 2000;

export class Jobs {
  private readonly stmts;
  /**
   * Each change of a job, emitted under its id as it is written, for whoever follows it live
   * (FinetuneService.follow). Emitting to no listener costs nothing; how many may listen is
   * bounded by the service, so no listener limit applies here.
   */
  readonly changes = new EventEmitter<Record<string, [JobChange]>>().setMaxListeners(0);

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {
    this.stmts = {
      insert: db.prepare(
        `INSERT INTO finetune_jobs (id, workspace_id, dataset_id, base_model, trainer, hyperparameters, state, start_at, created_at)
         VALUES (@id, @workspaceId, @datasetId, @baseModel, @trainer, @hyperparameters, 'created', @startAt, @createdAt)`,
      ),
      get: db.prepare<[string], Row>('SELECT * FROM finetune_jobs WHERE id = ?'),
      datasetOf: db.prepare<[string, string], number>('SELECT 1 FROM datasets WHERE id = ? AND workspace_id = ?').pluck(),
      list: db.prepare<[string], Row>('SELECT * FROM finetune_jobs WHERE workspace_id = ? ORDER BY created_at, rowid'),
      all: db.prepare<[{ workspaceId: string | null; state: string | null }], Row>(
        'SELECT * FROM finetune_jobs WHERE (@workspaceId IS NULL OR workspace_id = @workspaceId) AND (@state IS NULL OR state = @state) ORDER BY created_at, rowid',
      ),
      byState: db.prepare<[string], Row>('SELECT * FROM finetune_jobs WHERE state = ? ORDER BY queued_at, rowid'),
      // julianday, not text order: a start_at written before max_start_delay existed may lie past
      // year 9999 ("+010000-…"), which sorts before every 4-digit year; julianday makes it NULL, not due.
      countDue: db.prepare<[string], number>(
        "SELECT count(*) FROM finetune_jobs WHERE state = 'pending' AND (start_at IS NULL OR julianday(start_at) <= julianday(?))",
      ).pluck(),
      countPendingOf: db.prepare<[string], number>("SELECT count(*) FROM finetune_jobs WHERE state = 'pending' AND workspace_id = ?").pluck(),
      usesDataset: db.prepare<[string], number>('SELECT count(*) FROM finetune_jobs WHERE dataset_id = ?').pluck(),
      setState: db.prepare('UPDATE finetune_jobs SET state = @to WHERE id = @id AND state = @from'),
      queue: db.prepare("UPDATE finetune_jobs SET state = 'pending', queued_at = ? WHERE id = ? AND state = 'created'"),
      run: db.prepare("UPDATE finetune_jobs SET state = 'running', started_at = ?, progress = NULL, loss_history = '[]', error = NULL WHERE id = ? AND state = 'pending'"),
      progress: db.prepare("UPDATE finetune_jobs SET progress = ?, loss_history = ? WHERE id = ? AND state = 'running'"),
      finish: db.prepare(
        `UPDATE finetune_jobs SET state = @state, finished_at = @at, error = @error, output = @output
          WHERE id = @id AND state IN ('created', 'pending', 'running')`,
      ),
      register: db.prepare("UPDATE finetune_jobs SET registered_model = ? WHERE id = ? AND state = 'succeeded'"),
      delete: db.prepare('DELETE FROM finetune_jobs WHERE id = ?'),
      countByState: db.prepare<[], { state: JobState; n: number }>('SELECT state, count(*) AS n FROM finetune_jobs GROUP BY state'),
      runningTokensPerS: db.prepare<[], { trainer: TrainerName; tps: number }>(
        "SELECT trainer, total(json_extract(progress, '$.tokensPerS')) AS tps FROM finetune_jobs WHERE state = 'running' GROUP BY trainer",
      ),
      // SQLite's bare column: with max(), tps is read from the row that has the latest finished_at.
      lastTokensPerS: db.prepare<[], { trainer: TrainerName; tps: number }>(
        `SELECT trainer, json_extract(output, '$.tokensPerS') AS tps, max(finished_at) FROM finetune_jobs
          WHERE state = 'succeeded' AND json_extract(output, '$.tokensPerS') IS NOT NULL GROUP BY trainer`,
      ),
    };
  }

  /**
   * Inserts a created job; 400 unknown_dataset unless its dataset is the workspace's. The check
   * and the insert are one immediate transaction: a dataset deleted while the job was being
   * checked (the base model lookup awaits the backend) makes this call the loser of the race,
   * never a foreign-key failure.
   */
  create(workspaceId: string, input: NewJob): Job {
    return this.db.transaction(() => this.insert(workspaceId, input)).immediate();
  }

  private insert(workspaceId: string, input: NewJob): Job {
    if (this.stmts.datasetOf.get(input.datasetId, workspaceId) === undefined) throw unknownDataset(input.datasetId);
    const id = `ftjob_${randomBytes(8).toString('hex')}`;
    this.stmts.insert.run({
      id,
      workspaceId,
      datasetId: input.datasetId,
      baseModel: input.baseModel,
      trainer: input.trainer,
      hyperparameters: JSON.stringify(input.hyperparameters),
      startAt: input.startAt?.toISOString() ?? null,
      createdAt: this.clock.now().toISOString(),
    });
    return this.byId(id);
  }

  /** A job of the workspace (404 for another workspace's job: it does not exist for this one). */
  get(workspaceId: string, id: string): Job {
    const row = JOB_ID_PATTERN.test(id) ? this.stmts.get.get(id) : undefined;
    if (row === undefined || row.workspace_id !== workspaceId) throw notFound(`no fine-tune job '${id}' in this workspace`, 'job_not_found');
    return fromRow(row);
  }

  byId(id: string): Job {
    const row = this.stmts.get.get(id);
    if (row === undefined) throw notFound(`no fine-tune job '${id}'`, 'job_not_found');
    return fromRow(row);
  }

  list(workspaceId: string): Job[] {
    return this.stmts.list.all(workspaceId).map(fromRow);
  }

  /** Jobs of every workspace, or of the filter's, oldest first. */
  all(filter: JobFilter = {}): Job[] {
    return this.stmts.all.all({ workspaceId: filter.workspaceId ?? null, state: filter.state ?? null }).map(fromRow);
  }

  inState(state: JobState): Job[] {
    return this.stmts.byState.all(state).map(fromRow);
  }

  usesDataset(datasetId: string): boolean {
    return this.stmts.usesDataset.get(datasetId)! > 0;
  }

  /**
   * created → pending, within the queue's bounds: 409 from any other state; 429
   * workspace_queue_full when the workspace already has its share of pending jobs (due or not,
   * so no workspace can park an unbounded number of jobs); 503 queue_full when the job is due
   * and the shared queue is full. A job whose startAt lies ahead takes no place in the shared
   * queue until then: far-future jobs of one workspace cannot lock the others out.
   * Checked and moved in one immediate transaction, so two starts cannot both take the last place.
   */
  queue(workspaceId: string, id: string, limits: QueueLimits): Job {
    const queued = this.db
      .transaction(() => {
        const job = this.get(workspaceId, id);
        if (job.state !== 'created') throw conflict(`job '${id}' is ${job.state}: only a created job can be started (create a new job to train again)`, 'job_not_startable');
        const mine = this.stmts.countPendingOf.get(workspaceId)!;
        if (mine >= limits.maxQueuedPerWorkspace) {
          throw new HearthError(
            'rate_limited',
            `this workspace already has ${mine} jobs waiting to train (finetune.max_queued_per_workspace is ${limits.maxQueuedPerWorkspace}); start this job once one of them has run, or cancel one`,
            { code: 'workspace_queue_full', retryAfterS: QUEUE_RETRY_AFTER_S },
          );
        }
        const now = this.clock.now();
        if (job.startAt === null || job.startAt.getTime() <= now.getTime()) {
          const due = this.stmts.countDue.get(now.toISOString())!;
          if (due >= limits.maxQueued) throw unavailable(`the training queue is full (${due} jobs waiting; finetune.max_queued); start this job later`, QUEUE_RETRY_AFTER_S, 'queue_full');
        }
        this.stmts.queue.run(now.toISOString(), id);
        return this.byId(id);
      })
      .immediate();
    this.changes.emit(id, { type: 'state', state: queued.state });
    return queued;
  }

  /** pending → running (the runner took it); false if it was cancelled meanwhile. */
  markRunning(id: string): boolean {
    if (this.stmts.run.run(this.clock.now().toISOString(), id).changes !== 1) return false;
    this.changes.emit(id, { type: 'state', state: 'running' });
    return true;
  }

  /** Records the latest progress report and appends the loss points reported since the last call. */
  recordProgress(id: string, p: Progress, points: readonly LossPoint[]): void {
    const job = this.byId(id);
    let history = [...job.lossHistory, ...points];
    while (history.length > MAX_LOSS_POINTS) history = history.filter((_, i) => i % 2 === 1 || i === history.length - 1);
    const written = this.stmts.progress.run(JSON.stringify(p), JSON.stringify(history), id).changes === 1;
    if (written) this.changes.emit(id, { type: 'progress', progress: p, points: [...points] });
  }

  /** Ends a job that has not ended yet; returns false if it already had. */
  finish(id: string, state: 'succeeded' | 'failed' | 'cancelled', details: { error?: string; output?: Record<string, unknown> } = {}): boolean {
    const ended =
      this.stmts.finish.run({ id, state, at: this.clock.now().toISOString(), error: details.error ?? null, output: details.output === undefined ? null : JSON.stringify(details.output) })
        .changes === 1;
    if (ended) this.changes.emit(id, { type: 'state', state });
    return ended;
  }

  /** How many jobs are in each state now, every state named (0 where none is). */
  countByState(): Record<JobState, number> {
    const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const r of this.stmts.countByState.all()) counts[r.state] = r.n;
    return counts;
  }

  /**
   * Training throughput per trainer, in tokens per second: what the running jobs last reported
   * (their progress, summed; 0 when none runs), and what the latest job to succeed reached over
   * its whole run (its done line's figure; null before any has).
   */
  throughput(): Record<TrainerName, { running: number; lastJob: number | null }> {
    const out = Object.fromEntries(TRAINERS.map((t) => [t, { running: 0, lastJob: null as number | null }])) as Record<TrainerName, { running: number; lastJob: number | null }>;
    for (const r of this.stmts.runningTokensPerS.all()) if (out[r.trainer]) out[r.trainer].running = r.tps;
    for (const r of this.stmts.lastTokensPerS.all()) if (out[r.trainer]) out[r.trainer].lastJob = r.tps;
    return out;
  }

  setRegistered(id: string, model: string): void {
    this.stmts.register.run(model, id);
  }

  /** Deletes a job that is not queued or running (409 then: cancel it first). */
  delete(workspaceId: string, id: string): Job {
    const job = this.get(workspaceId, id);
    if (job.state === 'pending' || job.state === 'running') throw conflict(`job '${id}' is ${job.state}: cancel it before deleting it`, 'job_active');
    this.stmts.delete.run(id);
    this.changes.emit(id, { type: 'deleted' });
    return job;
  }
}

/** The answer to a job naming a dataset its workspace does not have (or no longer has). */
export const unknownDataset = (datasetId: string) => invalidRequest(`datasetId '${datasetId}': no such dataset in this workspace`, 'unknown_dataset');

/** Checks a job request's hyperparameters, filling defaults; errors name the field. */
export function hyperparametersOf(body: { epochs?: number; learningRate?: number; contextSize?: number; output?: string; seed?: number }): Hyperparameters {
  const h = {
    epochs: body.epochs ?? 3,
    // Low on purpose: llama.cpp's optimizer diverged at 3e-4 on small models (see the notes in the README).
    learningRate: body.learningRate ?? 1e-4,
    contextSize: body.contextSize ?? 256,
    output: (body.output ?? 'lora') as 'lora' | 'full',
    seed: body.seed ?? 42,
  };
  if (!Number.isInteger(h.epochs) || h.epochs < 1 || h.epochs > 1000) throw invalidRequest('epochs must be a whole number from 1 to 1000', 'invalid_epochs');
  if (!(h.learningRate > 0 && h.learningRate <= 0.1)) throw invalidRequest('learningRate must be above 0 and at most 0.1', 'invalid_learning_rate');
  if (!Number.isInteger(h.contextSize) || h.contextSize < 256 || h.contextSize % 256 !== 0 || h.contextSize > 32768) {
    throw invalidRequest('contextSize must be a multiple of 256 from 256 to 32768 (llama.cpp trains in windows of 256 tokens)', 'invalid_context_size');
  }
  return h;
}
