import { modelKey } from '../domain/model-metadata.js';

/** Distinct models labelled before further ones share "other": far more than one machine serves. */
const MAX_MODELS = 100;

/**
 * The `model` label of an inference call. It is asked only for calls the backend served (it
 * reported tokens, or a stream's first token), so the name is one of the backend's models, under
 * the key the backend resolves it by ("Llama3" and "llama3:latest" are one series). A bound
 * stands behind that all the same: past MAX_MODELS distinct models, the rest are "other".
 */
export class ModelLabels {
  private readonly seen = new Set<string>();

  constructor(private readonly max = MAX_MODELS) {}

  of(name: string | undefined): string {
    if (name === undefined) return 'other';
    const key = modelKey(name);
    if (this.seen.has(key)) return key;
    if (this.seen.size >= this.max) return 'other';
    this.seen.add(key);
    return key;
  }
}
