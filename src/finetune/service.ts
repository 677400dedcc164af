import { conflict, HearthError, invalidRequest, unavailable } from '../errors.js';
import { describeError, type Logger } from '../log.js';
import type { BackendClient } from '../backend/backend-client.js';
import type { Datasets } from './datasets.js';
import {
  hyperparametersOf,
  TRAINERS,
  FINAL_STATES,
  unknownDataset,
  type Job,
  type JobChange,
  type JobState,
  type Jobs,
  type LossPoint,
  type Progress,
  type QueueLimits,
  type TrainerName,
} from './jobs.js';
import type { Clock } from '../domain/clock.js';
import { formatDuration } from '../config/kinds.js';
import { locateBaseModel } from './base-model.js';
import type { TrainingQueue } from './runner.js';
import type { JobFiles } from './job-files.js';
import { requireActiveBase } from './active-base.js';
import { registerForWorkspace, type RegisterRequest, type SmokeResult } from './register.js';
import { usableBy, type ModelMetadata } from '../domain/model-metadata.js';
import { hfWeightsDir, type PeftSettings } from './trainers/peft/prepare.js';

// The fine-tune API's rules in one place: what a job may be created from, when it may start,
// be cancelled, registered or deleted. What a trainer needs before it runs is prepare-job.ts's;
// the queue that runs trainers is runner.ts's.

export interface JobRequest {
  datasetId?: unknown;
  baseModel?: unknown;
  trainer?: TrainerName;
  epochs?: number;
  learningRate?: number;
  contextSize?: number;
  output?: 'lora' | 'full';
  seed?: number;
  startAt?: string;
}

/**
 * What a follower of a job hears (FinetuneService.follow): its log lines, its progress writes
 * with the loss points each added, its states, and at last why the following ended.
 */
export type JobEvent =
  | { type: 'log'; line: string }
  | { type: 'progress'; progress: Progress; points: readonly LossPoint[] }
  | { type: 'state'; state: JobState }
  | { type: 'end'; reason: 'finished' | 'deleted' | 'closing' };

/**
 * Jobs followed at once, all together: each follower is an open connection (the console's live
 * log) holding two listeners, and an operator's console needs a few.
 */
export const MAX_FOLLOWERS = 16;

export interface FinetuneServiceOptions {
  jobs: Jobs;
  datasets: Datasets;
  chat: BackendClient;
  log: Logger;
  metadata: ModelMetadata;
  /** The bundled engine's model store, when the backend is the engine. */
  engineModelsDir: () => string | undefined;
  defaultTrainer: TrainerName;
  /** finetune.max_queued and finetune.max_queued_per_workspace. */
  queue: QueueLimits;
  /** finetune.max_start_delay: how far ahead a job's startAt may lie, in ms. */
  maxStartDelayMs: number;
  clock: Clock;
  /** For the peft trainer's Hugging Face folder, checked when a job is created. */
  peft: PeftSettings;
  /** The training queue: a started job is handed to it, a cancel goes through it. */
  runner: TrainingQueue;
  /** The jobs' folders and logs. */
  files: JobFiles;
  /** Jobs followed at once (MAX_FOLLOWERS unless given). */
  maxFollowers?: number;
}

export class FinetuneService {
  /** Each live follower, by the function that ends its following when the daemon stops. */
  private readonly followers = new Set<() => void>();
  private closing = false;

  constructor(private readonly o: FinetuneServiceOptions) {}

  get jobs(): Jobs {
    return this.o.jobs;
  }

  /** Jobs followed now. */
  get followerCount(): number {
    return this.followers.size;
  }

  /** Deletes a job that is not queued or running, with its folder (spec, log, artifacts). */
  deleteJob(workspaceId: string, id: string): void {
    const job = this.o.jobs.delete(workspaceId, id);
    this.o.files.remove(job.id);
  }

  async createJob(workspaceId: string, body: JobRequest): Promise<Job> {
    if (typeof body.datasetId !== 'string' || body.datasetId === '') throw invalidRequest('datasetId is required', 'invalid_dataset_id');
    if (typeof body.baseModel !== 'string' || body.baseModel === '') throw invalidRequest('baseModel is required', 'invalid_base_model');
    try {
      this.o.datasets.get(workspaceId, body.datasetId);
    } catch (err) {
      if (err instanceof HearthError && err.kind === 'not_found') throw unknownDataset(body.datasetId);
      throw err;
    }
    const trainer = body.trainer ?? this.o.defaultTrainer;
    if (!TRAINERS.includes(trainer)) throw invalidRequest(`trainer must be one of ${TRAINERS.join(', ')}`, 'invalid_trainer');
    if (trainer === 'peft') hfWeightsDir(this.o.peft, body.baseModel);
    const hyperparameters = hyperparametersOf(body);
    let startAt: Date | null = null;
    if (body.startAt !== undefined) {
      startAt = new Date(body.startAt);
      if (Number.isNaN(startAt.getTime())) throw invalidRequest('startAt must be an ISO 8601 date-time', 'invalid_start_at');
      // A job scheduled years ahead is a mistake or a way to hold a place; refuse it now.
      const latest = this.o.clock.now().getTime() + this.o.maxStartDelayMs;
      if (startAt.getTime() > latest) {
        throw invalidRequest(
          `startAt '${body.startAt}' is more than ${formatDuration(this.o.maxStartDelayMs)} ahead (finetune.max_start_delay); choose a time before ${new Date(latest).toISOString()}`,
          'start_at_too_far',
        );
      }
    }
    await this.requireBaseModel(workspaceId, body.baseModel);
    // The dataset was there before the await above; create() checks again, in its transaction.
    return this.o.jobs.create(workspaceId, { datasetId: body.datasetId, baseModel: body.baseModel, trainer, hyperparameters, startAt });
  }

  /** 400 naming the base model unless the backend has it (and its weights are on this machine). */
  private async requireBaseModel(workspaceId: string, model: string): Promise<void> {
    const unknown = () => invalidRequest(`baseModel '${model}': the backend has no such model (see GET /api/v1/models)`, 'unknown_base_model');
    // Another workspace's fine-tuned model is no base for this one: the same answer as no model.
    const meta = this.o.metadata.lookup(model);
    if (!usableBy(meta, workspaceId)) throw unknown();
    if (meta?.isActive === false) throw invalidRequest(`baseModel '${model}' is switched off by the operator of this server`, 'base_model_inactive');
    let base;
    try {
      base = await locateBaseModel(this.o.chat, model, this.o.engineModelsDir());
    } catch (err) {
      // /api/show answers 404 for a model the backend does not have.
      if (err instanceof HearthError && err.kind === 'not_found') throw unknown();
      throw err;
    }
    if (base.adapters > 0) throw invalidRequest(`baseModel '${model}' is itself a base plus an adapter; fine-tune its base instead`, 'base_model_has_adapter');
  }

  /**
   * Queues a created job and lets the runner take it at once if a trainer slot is free and the
   * job is due: the answer shows the job as it then is, `running` in that case, else `pending`.
   */
  start(workspaceId: string, id: string): Job {
    requireActiveBase(this.o.metadata, this.o.jobs.get(workspaceId, id));
    const job = this.o.jobs.queue(workspaceId, id, this.o.queue);
    this.o.runner.pump();
    return this.o.jobs.byId(job.id);
  }

  async cancel(workspaceId: string, id: string): Promise<Job> {
    const job = this.o.jobs.get(workspaceId, id);
    if (FINAL_STATES.includes(job.state)) throw conflict(`job '${id}' already ${job.state}`, 'job_finished');
    await this.o.runner.cancel(job);
    return this.o.jobs.byId(job.id);
  }

  /**
   * Makes a succeeded job's output a servable model; answers once the model has loaded and given
   * its smoke answer, with that answer and any warnings about it.
   */
  async register(workspaceId: string, id: string, body: RegisterRequest): Promise<{ job: Job; smoke: SmokeResult; warnings: string[] }> {
    const job = this.o.jobs.get(workspaceId, id);
    requireActiveBase(this.o.metadata, job);
    const records = job.state === 'succeeded' ? this.o.datasets.records(workspaceId, job.datasetId) : [];
    const r = await registerForWorkspace(this.o, workspaceId, job, this.o.files.dir(job.id), body, records);
    this.o.jobs.setRegistered(job.id, r.modelName);
    this.o.files.appendLog(
      job.id,
      `registered as ${r.modelName}; smoke test (at most ${r.smoke.maxTokens} tokens) answered ${JSON.stringify(r.smoke.reply.slice(0, 80))} (${r.smoke.completionTokens} tokens, finish ${r.smoke.finishReason})`,
    );
    for (const w of r.warnings) this.o.files.appendLog(job.id, `warning: ${w}`);
    this.o.log.info('fine-tuned model registered', { job: job.id, model: r.modelName, warnings: r.warnings });
    return { job: this.o.jobs.byId(job.id), smoke: r.smoke, warnings: r.warnings };
  }

  /** Log lines after `after` (a line count): clients poll with the returned cursor to tail. */
  log(workspaceId: string, id: string, after: number, limit: number): { lines: string[]; next: number } {
    const job = this.o.jobs.get(workspaceId, id);
    const all = this.o.files.logLines(job.id);
    const lines = all.slice(after, after + limit);
    return { lines, next: after + lines.length };
  }

  /**
   * Follows a job of any workspace. `on` hears at once the log so far, the job's progress (its
   * whole loss history as the points) when it has any, and its state; then each log line,
   * progress write and state as they happen; last `end`: right after a final state (and the log
   * lines written with it, such as "job succeeded"), when the job is deleted, or when the daemon
   * stops. Returns the function that stops following (the listeners go; `end` is not heard).
   * 404 for an unknown job; 503 when finetune's MAX_FOLLOWERS already follow.
   */
  follow(id: string, on: (e: JobEvent) => void): () => void {
    const max = this.o.maxFollowers ?? MAX_FOLLOWERS;
    if (this.closing) throw unavailable('the server is stopping', 5, 'shutting_down');
    const job = this.o.jobs.byId(id);
    if (this.followers.size >= max) throw unavailable(`${this.followers.size} job event streams are open, as many as the server keeps at once; close one or retry shortly`, 5, 'too_many_event_streams');
    // A follower's fault never reaches the job's writer, which emitted the event.
    const hear = (e: JobEvent) => {
      try {
        on(e);
      } catch (err) {
        this.o.log.warn('a job follower failed', { job: id, err: describeError(err) });
      }
    };
    // The snapshot and the subscription in one synchronous run: no line or change falls between.
    for (const line of this.o.files.logLines(id)) hear({ type: 'log', line });
    if (job.progress !== null) hear({ type: 'progress', progress: job.progress, points: job.lossHistory });
    hear({ type: 'state', state: job.state });
    if (FINAL_STATES.includes(job.state)) {
      hear({ type: 'end', reason: 'finished' });
      return () => {};
    }

    let following = true;
    const onLine = (line: string) => hear({ type: 'log', line });
    const onChange = (c: JobChange) => {
      if (c.type === 'deleted') end('deleted');
      else if (c.type === 'state' && FINAL_STATES.includes(c.state)) {
        // Whoever ends a job logs why in the same synchronous run, after the state is written:
        // those lines come first, then the final state, then the end.
        queueMicrotask(() => {
          if (!following) return;
          hear(c);
          end('finished');
        });
      } else hear(c);
    };
    const stop = () => {
      if (!following) return;
      following = false;
      this.o.jobs.changes.off(id, onChange);
      this.o.files.lines.off(id, onLine);
      this.followers.delete(closeFollower);
    };
    const end = (reason: 'finished' | 'deleted' | 'closing') => {
      if (!following) return;
      stop();
      hear({ type: 'end', reason });
    };
    const closeFollower = () => end('closing');
    this.o.jobs.changes.on(id, onChange);
    this.o.files.lines.on(id, onLine);
    this.followers.add(closeFollower);
    return stop;
  }

  /** Daemon shutdown: every follower hears its end, and no one may follow any more. */
  closeFollowers(): void {
    this.closing = true;
    for (const close of [...this.followers]) close();
  }
}
