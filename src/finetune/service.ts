import { readFileSync, rmSync } from 'node:fs';
import si from 'systeminformation';
import { conflict, HearthError, invalidRequest, unavailable } from '../errors.js';
import type { Logger } from '../log.js';
import type { BackendClient } from '../backend/backend-client.js';
import type { Datasets } from './datasets.js';
import { hyperparametersOf, TRAINERS, FINAL_STATES, unknownDataset, type Job, type Jobs, type QueueLimits, type TrainerName } from './jobs.js';
import type { Clock } from '../domain/clock.js';
import { formatDuration } from '../config/kinds.js';
import { locateBaseModel } from './base-model.js';
import type { FinetuneRunner, TrainerLaunch } from './runner.js';
import { registerJobOutput, type RegisterRequest, type SmokeResult } from './register.js';
import { usableBy, type ModelMetadata } from '../domain/model-metadata.js';
import { llamaCppMemoryNeed, prepareLlamaCpp, type LlamaCppSettings } from './trainers/llamacpp.js';
import { hfWeightsDir, needsGgufAdapter, peftMemoryNeed, preparePeft, type PeftSettings } from './trainers/peft.js';

// The fine-tune API's rules in one place: what a job may be created from, when it may start,
// be cancelled or deleted, and what a trainer needs before it runs.

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
  llamacpp: LlamaCppSettings;
  peft: PeftSettings;
  /** The backend's kind ('engine', 'ollama', 'external'): the bundled engine takes GGUF adapters only. */
  backendKind: () => string;
  /** Free memory in bytes (systeminformation by default; tests can pass their own). */
  availableMemory?: () => Promise<number>;
  /** Free memory of the GPU that would train, in bytes; undefined where none reports it. */
  availableVram?: () => Promise<number | undefined>;
}

export class FinetuneService {
  runner: FinetuneRunner | undefined;

  constructor(private readonly o: FinetuneServiceOptions) {}

  get jobs(): Jobs {
    return this.o.jobs;
  }

  /** Deletes a job that is not queued or running, with its folder (spec, log, artifacts). */
  deleteJob(workspaceId: string, id: string): void {
    const job = this.o.jobs.delete(workspaceId, id);
    if (this.runner) rmSync(this.runner.jobDir(job.id), { recursive: true, force: true });
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
    this.requireActiveBase(this.o.jobs.get(workspaceId, id));
    const job = this.o.jobs.queue(workspaceId, id, this.o.queue);
    this.runner?.pump();
    return this.o.jobs.byId(job.id);
  }

  /**
   * 409 base_model_inactive when the operator has switched the job's base off since the job was
   * created: a switched-off model is no more trained on, nor served through a fine-tune of it,
   * than it is chatted with.
   */
  private requireActiveBase(job: Job): void {
    if (this.o.metadata.lookup(job.baseModel)?.isActive === false) {
      throw conflict(`job '${job.id}': its baseModel '${job.baseModel}' has been switched off by the operator of this server`, 'base_model_inactive');
    }
  }

  async cancel(workspaceId: string, id: string): Promise<Job> {
    const job = this.o.jobs.get(workspaceId, id);
    if (FINAL_STATES.includes(job.state)) throw conflict(`job '${id}' already ${job.state}`, 'job_finished');
    if (this.runner) await this.runner.cancel(job);
    else this.o.jobs.finish(job.id, 'cancelled');
    return this.o.jobs.byId(job.id);
  }

  /**
   * Makes a succeeded job's output a servable model; answers once the model has loaded and given
   * its smoke answer, with that answer and any warnings about it.
   */
  async register(workspaceId: string, id: string, body: RegisterRequest): Promise<{ job: Job; smoke: SmokeResult; warnings: string[] }> {
    const job = this.o.jobs.get(workspaceId, id);
    this.requireActiveBase(job);
    const records = job.state === 'succeeded' ? this.o.datasets.records(workspaceId, job.datasetId) : [];
    const mayReplace = (name: string) => this.o.metadata.lookup(name)?.owner === workspaceId;
    const r = await registerJobOutput(this.o.chat, job, this.runner!.jobDir(job.id), body, records, mayReplace);
    this.o.jobs.setRegistered(job.id, r.modelName);
    // The model is this workspace's: other workspaces neither see nor call it.
    this.o.metadata.set(r.modelName, { description: `Fine-tuned from ${job.baseModel} by job ${job.id} (${job.trainer}, ${job.hyperparameters.epochs} epochs)`, owner: workspaceId });
    this.runner?.appendLog(
      job.id,
      `registered as ${r.modelName}; smoke test (at most ${r.smoke.maxTokens} tokens) answered ${JSON.stringify(r.smoke.reply.slice(0, 80))} (${r.smoke.completionTokens} tokens, finish ${r.smoke.finishReason})`,
    );
    for (const w of r.warnings) this.runner?.appendLog(job.id, `warning: ${w}`);
    this.o.log.info('fine-tuned model registered', { job: job.id, model: r.modelName, warnings: r.warnings });
    return { job: this.o.jobs.byId(job.id), smoke: r.smoke, warnings: r.warnings };
  }

  /** Log lines after `after` (a line count): clients poll with the returned cursor to tail. */
  log(workspaceId: string, id: string, after: number, limit: number): { lines: string[]; next: number } {
    const job = this.o.jobs.get(workspaceId, id);
    let all: string[] = [];
    try {
      all = readFileSync(this.runner!.logFile(job.id), 'utf8').split('\n');
      all.pop();
    } catch {
      // No log yet: the job never started.
    }
    const lines = all.slice(after, after + limit);
    return { lines, next: after + lines.length };
  }

  /** The runner's prepare step: everything a trainer needs, checked before it starts. */
  async prepare(job: Job, dir: string): Promise<TrainerLaunch> {
    // Switched off while the job waited in the queue: it fails with the reason.
    this.requireActiveBase(job);
    const base = await locateBaseModel(this.o.chat, job.baseModel, this.o.engineModelsDir());
    const records = this.o.datasets.records(job.workspaceId, job.datasetId);
    const unloaded = await this.o.chat.unloadAll().catch((err: unknown) => {
      throw unavailable(`cannot unload the backend's models before training: ${err instanceof Error ? err.message : String(err)}`, 5, 'backend_unavailable');
    });
    if (unloaded.length > 0) this.o.log.info('unloaded models for training', { job: job.id, models: unloaded });
    // The peft trainer's Hugging Face folder, looked up once: checked again here because it may
    // have gone since the job was created; undefined for the llamacpp trainer.
    const hfDir = job.trainer === 'peft' ? hfWeightsDir(this.o.peft, job.baseModel) : undefined;
    const need = hfDir === undefined ? llamaCppMemoryNeed(base) : peftMemoryNeed(hfDir);
    const free = await (this.o.availableMemory ?? (async () => (await si.mem()).available))();
    if (free < need) {
      throw new HearthError('unavailable', `not enough free memory to train: about ${Math.ceil(need / 2 ** 20)} MiB needed, ${Math.floor(free / 2 ** 20)} MiB available`, { code: 'insufficient_memory' });
    }
    if ((hfDir === undefined ? this.o.llamacpp.gpu : this.o.peft.gpu) !== 'off') {
      const vram = await (this.o.availableVram ?? freeVram)();
      if (vram !== undefined && vram < need) {
        throw new HearthError('unavailable', `not enough free GPU memory to train: about ${Math.ceil(need / 2 ** 20)} MiB needed, ${Math.floor(vram / 2 ** 20)} MiB free`, { code: 'insufficient_vram' });
      }
    }
    const { launch, wrapper } =
      hfDir === undefined
        ? await prepareLlamaCpp(job, dir, base, records, this.o.llamacpp)
        : await preparePeft(job, dir, base, records, hfDir, this.o.peft, await needsGgufAdapter(this.o.backendKind(), base.path));
    this.runner?.appendLog(job.id, `dataset: ${records.length} records rendered with the ${wrapper} chat template; base weights ${base.path}`);
    return launch;
  }
}

/** The most free memory any GPU reports (NVIDIA drivers do through nvidia-smi); undefined if none does. */
async function freeVram(): Promise<number | undefined> {
  const { controllers } = await si.graphics();
  const free = controllers.map((c) => c.memoryFree).filter((m): m is number => typeof m === 'number' && m > 0);
  return free.length === 0 ? undefined : Math.max(...free) * 2 ** 20;
}
