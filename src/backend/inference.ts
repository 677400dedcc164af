import type { ChatResponse, GenerateResponse } from 'ollama';

// What callers of the backend client say and get back (the gateway's vocabulary, OpenAI-like),
// and its translation to and from the fields of Ollama's API.

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  /** Base64 images, for a model with vision. */
  images?: string[];
  /** An assistant turn's calls, in Ollama's shape (arguments as an object). */
  tool_calls?: BackendToolCall[];
  /** A tool turn: the function whose result `content` is. */
  tool_name?: string;
}

/** A tool call as Ollama's API carries it; `id` where the backend gives one. */
export interface BackendToolCall {
  id?: string;
  function: { index?: number; name: string; arguments: Record<string, unknown> };
}

/** A tool the model may call, as Ollama's API (and OpenAI's) declares it. */
export interface BackendTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

export interface Sampling {
  temperature?: number;
  top_p?: number;
  top_k?: number;
  max_tokens?: number;
  stop?: string | string[];
  seed?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  response_format?: { type: 'text' | 'json_object' | 'json_schema'; json_schema?: { schema?: Record<string, unknown> } };
  format?: 'json' | Record<string, unknown>;
}

export interface Completion {
  text: string;
  finishReason: 'stop' | 'length';
  promptTokens: number;
  completionTokens: number;
  /** The calls a chat answer made (Ollama's shape), where it made any. */
  toolCalls?: BackendToolCall[];
}

export interface Embeddings {
  /** One vector per input, in the inputs' order. */
  embeddings: number[][];
  promptTokens: number;
}

/** Stream events: text as it comes, then the totals (with the tool calls, which Ollama sends whole). */
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
    // Only when asked: Hearth's own surface never sends them, and its calls stay as they were.
    ...(s.presence_penalty !== undefined ? { presence_penalty: s.presence_penalty } : {}),
    ...(s.frequency_penalty !== undefined ? { frequency_penalty: s.frequency_penalty } : {}),
  };
}

/** Ollama's `format`: its own field if given, else what OpenAI's response_format asks for. */
export function ollamaFormat(s: Sampling): string | Record<string, unknown> | undefined {
  if (s.format !== undefined) return s.format;
  if (s.response_format?.type === 'json_object') return 'json';
  if (s.response_format?.type === 'json_schema') return s.response_format.json_schema?.schema ?? 'json';
  return undefined;
}

export function completionOf(r: ChatResponse | GenerateResponse, text: string, toolCalls?: BackendToolCall[]): Completion {
  return {
    text,
    finishReason: r.done_reason === 'length' ? 'length' : 'stop',
    promptTokens: r.prompt_eval_count ?? 0,
    completionTokens: r.eval_count ?? 0,
    ...(toolCalls !== undefined && toolCalls.length > 0 ? { toolCalls } : {}),
  };
}
