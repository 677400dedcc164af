import { HearthError, unavailable } from '../errors.js';
import type { Logger } from '../log.js';
import type { BackendClient } from '../backend/backend-client.js';
import type { ModelMetadata } from '../domain/model-metadata.js';
import type { Datasets } from './datasets.js';
import type { Job } from './jobs.js';
import type { JobFiles } from './job-files.js';
import { requireActiveBase } from './active-base.js';
import { locateBaseModel } from './base-model.js';
import { requireTrainingMemory, systemMemoryProbes, type MemoryProbes } from './memory-check.js';
import type { TrainerLaunch } from './trainers/process.js';
import { llamaCppMemoryNeed, prepareLlamaCpp, type LlamaCppSettings } from './trainers/llamacpp/prepare.js';
import { hfWeightsDir, needsGgufAdapter, peftMemoryNeed, preparePeft, type PeftSettings } from './trainers/peft/prepare.js';

// The runner's prepare step: everything a trainer needs, checked just before it starts (a job
// may have waited in the queue for hours): the base still switched on and on this machine, the
// backend's models unloaded, memory for the run, and the trainer's input written.

export interface JobPreparationOptions {
  /** What of the backend a trainer needs: where the base's weights are, and its models unloaded. */
  chat: Pick<BackendClient, 'show' | 'unloadAll'>;
  datasets: Datasets;
  metadata: ModelMetadata;
  files: JobFiles;
  log: Logger;
  /** The bundled engine's model store, when the backend is the engine. */
  engineModelsDir: () => string | undefined;
  llamacpp: LlamaCppSettings;
  peft: PeftSettings;
  /** The backend's kind ('engine', 'ollama', 'external'): the bundled engine takes GGUF adapters only. */
  backendKind: () => string;
  /** Free memory and VRAM; the machine's by default. */
  memory?: MemoryProbes;
}

export class JobPreparation {
  constructor(private readonly o: JobPreparationOptions) {}

  /** Throws a HearthError whose message becomes the job's error. */
  async prepare(job: Job, dir: string): Promise<TrainerLaunch> {
    // Switched off while the job waited in the queue: it fails with the reason.
    requireActiveBase(this.o.metadata, job);
    const base = await locateBaseModel(this.o.chat, job.baseModel, this.o.engineModelsDir());
    const records = this.o.datasets.records(job.workspaceId, job.datasetId);
    const unloaded = await this.o.chat.unloadAll().catch((err: unknown) => {
      // The backend's own refusal (busy, down, timed out) is kept: it says when to try again.
      const reason = err instanceof Error ? err.message : String(err);
      if (err instanceof HearthError && err.kind === 'unavailable') {
        throw new HearthError('unavailable', `cannot unload the backend's models before training: ${reason}`, { code: err.code, retryAfterS: err.retryAfterS, cause: err });
      }
      throw unavailable(`cannot unload the backend's models before training: ${reason}`, 5, 'backend_unavailable');
    });
    if (unloaded.length > 0) this.o.log.info('unloaded models for training', { job: job.id, models: unloaded });
    // The peft trainer's Hugging Face folder, looked up once: checked again here because it may
    // have gone since the job was created; undefined for the llamacpp trainer.
    const hfDir = job.trainer === 'peft' ? hfWeightsDir(this.o.peft, job.baseModel) : undefined;
    const need = hfDir === undefined ? llamaCppMemoryNeed(base) : peftMemoryNeed(hfDir);
    const gpu = hfDir === undefined ? this.o.llamacpp.gpu : this.o.peft.gpu;
    await requireTrainingMemory(need, gpu !== 'off', this.o.memory ?? systemMemoryProbes);
    const { launch, wrapper } =
      hfDir === undefined
        ? await prepareLlamaCpp(job, dir, base, records, this.o.llamacpp)
        : await preparePeft(job, dir, base, records, hfDir, this.o.peft, await needsGgufAdapter(this.o.backendKind(), base.path));
    this.o.files.appendLog(job.id, `dataset: ${records.length} records rendered with the ${wrapper} chat template; base weights ${base.path}`);
    return launch;
  }
}
