import { HearthError, invalidRequest, notFound } from '../../errors.js';
import type { BackendResponse } from '../../backend/backend-transport.js';
import { usableBy, type ModelMetadata } from '../../domain/model-metadata.js';
import { checkModelAccess, modelDefaults } from '../../gateway/model-settings.js';

// What the /ollama routers share: Ollama's answers are relayed from the backend as it wrote
// them (its clients parse its fields, and Ollama adds fields often), so these helpers only
// read what Hearth must know (an error, the counts of a final line) and write the rest through.

/** Ollama's wording for a model a caller may not see: the same whether it exists elsewhere or not. */
export const modelNotFound = (model: string) => notFound(`model '${model}' not found`, 'model_not_found');

/** Whether a workspace sees the model in tags and ps: its own or the operator's, and not switched off. */
export function visibleTo(metadata: ModelMetadata, model: string, workspaceId: string): boolean {
  const set = metadata.lookup(model);
  return usableBy(set, workspaceId) && set?.isActive !== false;
}

/** checkModelAccess in Ollama's words: another workspace's model or a switched-off one is "not found". */
export function requireVisible(metadata: ModelMetadata, model: string, workspaceId: string): void {
  try {
    checkModelAccess(metadata, model, workspaceId);
  } catch (err) {
    if (err instanceof HearthError && err.kind === 'not_found') throw modelNotFound(model);
    throw err;
  }
}

/**
 * The backend's error answer as a HearthError with its status, and its own message where the
 * client can act on it (a bad field, an unknown model): the error middleware then writes it in
 * Ollama's shape. A failure of the backend itself keeps its text for the log.
 */
export async function backendFailure(upstream: BackendResponse, model?: string): Promise<HearthError> {
  const text = await upstream.text().catch(() => '');
  let message = text;
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') message = parsed.error;
  } catch {
    // Not JSON: the raw text is the message.
  }
  const status = upstream.status;
  if (status === 404) return model !== undefined ? modelNotFound(model) : notFound(message || 'not found');
  if (status === 400) return invalidRequest(message || 'the backend refused the request', 'backend_rejected');
  if (status === 429 || status === 503) return new HearthError('unavailable', 'the model backend is busy; retry shortly', { code: 'backend_busy', retryAfterS: 2 });
  return new HearthError('internal', 'the model backend failed', { code: 'backend_error', cause: new Error(`backend answered ${status}: ${message}`) });
}

/** The backend's whole JSON answer, or its error as a HearthError. */
export async function backendJson<T = Record<string, unknown>>(upstream: BackendResponse, model?: string): Promise<T> {
  if (!upstream.ok) throw await backendFailure(upstream, model);
  return (await upstream.json()) as T;
}

/** The lines of an NDJSON body as they arrive (a last line without its newline included). */
export async function* ndjsonLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of body) {
    pending += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line !== '') yield line;
    }
  }
  pending += decoder.decode();
  if (pending.trim() !== '') yield pending.trim();
}

/** Whether the backend answered NDJSON (a stream) rather than one JSON object. */
export const isNdjson = (upstream: BackendResponse) => (upstream.headers.get('content-type') ?? '').includes('ndjson');

/**
 * The operator's defaults for the model (PUT /api/admin/models/{model} `parameters`, in Hearth's
 * words) as Ollama `options`, under what the call set itself: a call through /ollama gets the
 * same defaults as one through /api/v1.
 */
export function optionsWithDefaults(options: unknown, parameters: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const d = modelDefaults(parameters);
  const fromDefaults: Record<string, unknown> = {};
  if (d.temperature !== undefined) fromDefaults.temperature = d.temperature;
  if (d.top_p !== undefined) fromDefaults.top_p = d.top_p;
  if (d.top_k !== undefined) fromDefaults.top_k = d.top_k;
  if (d.seed !== undefined) fromDefaults.seed = d.seed;
  if (d.max_tokens !== undefined) fromDefaults.num_predict = d.max_tokens;
  if (d.stop !== undefined) fromDefaults.stop = typeof d.stop === 'string' ? [d.stop] : d.stop;
  const given = typeof options === 'object' && options !== null ? (options as Record<string, unknown>) : undefined;
  if (Object.keys(fromDefaults).length === 0) return given;
  return { ...fromDefaults, ...given };
}

/** What a call on /ollama may ask of the backend's resources (limits.max_tokens, limits.max_context). */
export interface OptionBounds {
  maxTokens: number;
  maxContext: number;
}

/**
 * Ollama's options that configure the server rather than the answer: how the operator runs the
 * backend (threads, GPU layers, memory mapping), not a workspace's to change.
 */
const operatorOptions = new Set(['num_gpu', 'main_gpu', 'num_thread', 'num_batch', 'use_mmap', 'use_mlock', 'numa', 'low_vram', 'vocab_only', 'f16_kv', 'logits_all', 'embedding_only']);

/**
 * A call's options within the operator's bounds: the server's own settings are dropped, and
 * num_ctx and num_predict are lowered to limits.max_context and limits.max_tokens, as Ollama
 * itself lowers a num_ctx past what a model was trained for, rather than refused: Ollama's
 * clients send these from their own configuration and do not expect a 400 for them.
 */
export function boundOptions(options: Record<string, unknown> | undefined, bounds: OptionBounds): Record<string, unknown> | undefined {
  if (options === undefined) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!operatorOptions.has(k)) out[k] = v;
  if (typeof out.num_ctx === 'number' && out.num_ctx > bounds.maxContext) out.num_ctx = bounds.maxContext;
  if (typeof out.num_predict === 'number' && out.num_predict > bounds.maxTokens) out.num_predict = bounds.maxTokens;
  return out;
}
