import type { ChatResponse, GenerateResponse } from 'ollama';

// What callers of the backend client say and get back (the gateway's vocabulary, OpenAI-like),
// and its translation to and from the fields of Ollama's API.

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface Sampling {
  temperature?: number;
  top_p?: number;
  top_k?: number;
  max_tokens?: number;
  stop?: string | string[];
  seed?: number;
  response_format?: { type: 'text' | 'json_object' | 'json_schema'; json_schema?: { schema?: Record<string, unknown> } };
  format?: 'json' | Record<string, unknown>;
}

export interface Completion {
  text: string;
  finishReason: 'stop' | 'length';
  promptTokens: number;
  completionTokens: number;
}

export interface Embeddings {
  /** One vector per input, in the inputs' order. */
  embeddings: number[][];
  promptTokens: number;
}

/** Stream events: text as it comes, then the totals. */
export type StreamEvent = { type: 'token'; text: string } | { type: 'done'; completion: Completion };

/** Ollama's `options` for the sampling fields. */
export function ollamaOptions(s: Sampling) {
  return {
    temperature: s.temperature,
    top_p: s.top_p,
    top_k: s.top_k,
    num_predict: s.max_tokens,
    stop: s.stop === undefined ? undefined : [s.stop].flat(),
    seed: s.seed,
  };
}

/** Ollama's `format`: its own field if given, else what OpenAI's response_format asks for. */
export function ollamaFormat(s: Sampling): string | Record<string, unknown> | undefined {
  if (s.format !== undefined) return s.format;
  if (s.response_format?.type === 'json_object') return 'json';
  if (s.response_format?.type === 'json_schema') return s.response_format.json_schema?.schema ?? 'json';
  return undefined;
}

export function completionOf(r: ChatResponse | GenerateResponse, text: string): Completion {
  return {
    text,
    finishReason: r.done_reason === 'length' ? 'length' : 'stop',
    promptTokens: r.prompt_eval_count ?? 0,
    completionTokens: r.eval_count ?? 0,
  };
}
