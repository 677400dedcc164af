import type { LlamaCompletionGenerationOptions } from 'node-llama-cpp';

/** The Ollama `options` the engine honours (others are accepted and ignored, as Ollama does). */
export interface OllamaOptions {
  temperature?: number;
  top_p?: number;
  top_k?: number;
  min_p?: number;
  repeat_penalty?: number;
  repeat_last_n?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  seed?: number;
  num_predict?: number;
  num_ctx?: number;
  stop?: string[];
}

/** Ollama's defaults, applied under a model's own `parameters` and the request's `options`. */
export const defaultOptions: Readonly<Required<Omit<OllamaOptions, 'seed' | 'num_ctx' | 'stop'>>> = Object.freeze({
  temperature: 0.8,
  top_p: 0.9,
  top_k: 40,
  min_p: 0,
  repeat_penalty: 1.1,
  repeat_last_n: 64,
  presence_penalty: 0,
  frequency_penalty: 0,
  num_predict: -1,
});

/** Layers options: later sources win; `stop` lists are replaced, not merged, as in Ollama. */
export function mergeOptions(...sources: Array<OllamaOptions | undefined>): OllamaOptions {
  const out: OllamaOptions = {};
  for (const s of sources) if (s) for (const [k, v] of Object.entries(s)) if (v !== undefined && v !== null) (out as Record<string, unknown>)[k] = v;
  return out;
}

export type SamplingOptions = Pick<
  LlamaCompletionGenerationOptions,
  'temperature' | 'topP' | 'topK' | 'minP' | 'seed' | 'repeatPenalty' | 'maxTokens'
>;

/**
 * Maps Ollama options onto node-llama-cpp's sampler. `num_predict` ≤ 0 means "until the model
 * stops or the context is full" (callers turn context shift off, so generation is bounded).
 */
export function toSampling(options: OllamaOptions): SamplingOptions {
  const o = { ...defaultOptions, ...options };
  const penaltyOn = o.repeat_penalty !== 1 || o.presence_penalty !== 0 || o.frequency_penalty !== 0;
  return {
    temperature: Math.max(0, o.temperature),
    topP: o.top_p,
    topK: o.top_k,
    minP: o.min_p,
    // Ollama's seed -1 (or none) means random.
    seed: o.seed !== undefined && o.seed >= 0 ? o.seed : undefined,
    maxTokens: o.num_predict > 0 ? o.num_predict : undefined,
    repeatPenalty: penaltyOn
      ? {
          lastTokens: o.repeat_last_n < 0 ? undefined : o.repeat_last_n,
          penalty: o.repeat_penalty,
          presencePenalty: o.presence_penalty || undefined,
          frequencyPenalty: o.frequency_penalty || undefined,
        }
      : false,
  };
}
