import { conflict } from '../errors.js';
import type { ModelMetadata } from '../domain/model-metadata.js';
import type { Job } from './jobs.js';

/**
 * 409 base_model_inactive when the operator has switched the job's base off since the job was
 * created: a switched-off model is no more trained on, nor served through a fine-tune of it,
 * than it is chatted with.
 */
export function requireActiveBase(metadata: ModelMetadata, job: Job): void {
  if (metadata.lookup(job.baseModel)?.isActive === false) {
    throw conflict(`job '${job.id}': its baseModel '${job.baseModel}' has been switched off by the operator of this server`, 'base_model_inactive');
  }
}
