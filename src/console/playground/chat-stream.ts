import { ApiError, errorOf } from '../api/http.js';
import { readSse } from '../api/sse.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** The body of POST /v1/chat/completions as the playground sends it (and the snippets repeat). */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  stream: true;
  stream_options: { include_usage: true };
  temperature?: number;
  max_tokens?: number;
}

export interface Answer {
  content: string;
  finishReason: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  /** From sending to the first token of content, in milliseconds. */
  firstTokenMs: number | null;
  totalMs: number;
  /** Completion tokens per second after the first token (the generation speed, without the prompt's processing). */
  tokensPerSecond: number | null;
  stopped: boolean;
}

interface Chunk {
  choices?: Array<{ delta?: { content?: string | null }; finish_reason?: string | null }>;
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
  error?: { message?: string; code?: string | null };
}

/**
 * Sends one streamed chat with a workspace key and reports each piece of text as it comes.
 * Aborting `signal` (Stop) ends it with what came so far; the daemon charges a stream at its
 * first chunk.
 */
export async function streamChat(key: string, body: ChatRequest, signal: AbortSignal, onText: (soFar: string) => void, now: () => number = () => performance.now()): Promise<Answer> {
  const started = now();
  const answer: Answer = { content: '', finishReason: null, promptTokens: null, completionTokens: null, firstTokenMs: null, totalMs: 0, tokensPerSecond: null, stopped: false };
  let firstAt: number | undefined;
  try {
    const res = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      body: JSON.stringify(body),
      signal,
      credentials: 'omit',
    });
    if (!res.ok || !res.body) throw await errorOf(res);
    for await (const { data } of readSse(res.body)) {
      if (data === '[DONE]') break;
      const chunk = JSON.parse(data) as Chunk;
      if (chunk.error) throw new ApiError(res.status, chunk.error.code ?? null, chunk.error.message ?? 'the stream failed');
      const choice = chunk.choices?.[0];
      const text = choice?.delta?.content;
      if (text) {
        firstAt ??= now();
        answer.content += text;
        onText(answer.content);
      }
      if (choice?.finish_reason) answer.finishReason = choice.finish_reason;
      if (chunk.usage) {
        answer.promptTokens = chunk.usage.prompt_tokens;
        answer.completionTokens = chunk.usage.completion_tokens;
      }
    }
  } catch (e) {
    if (!signal.aborted) throw e;
    answer.stopped = true;
  }
  const ended = now();
  answer.totalMs = ended - started;
  if (firstAt !== undefined) {
    answer.firstTokenMs = firstAt - started;
    const generating = (ended - firstAt) / 1000;
    if (answer.completionTokens !== null && answer.completionTokens > 1 && generating > 0) answer.tokensPerSecond = (answer.completionTokens - 1) / generating;
  }
  return answer;
}

/** The models the key may use (GET /v1/models), which also tells whether the key works. */
export async function listModels(key: string): Promise<string[]> {
  const res = await fetch('/v1/models', { headers: { Authorization: `Bearer ${key}`, Accept: 'application/json' }, credentials: 'omit' });
  if (!res.ok) throw await errorOf(res);
  const body = (await res.json()) as { data: Array<{ id: string }> };
  return body.data.map((m) => m.id);
}
