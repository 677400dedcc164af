import { randomBytes } from 'node:crypto';
import { Router } from 'express';
import { SseWriter } from '../http/streaming.js';
import { clientGoneSignal } from '../../http/lifecycle.js';
import type { GenerationResult, InferenceService, JsonFormat } from '../service/inference.js';
import type { ChatMessage } from '../service/prompt.js';
import type { ModelStore } from '../store/model-store.js';
import type { OllamaOptions } from '../runtime/options.js';
import { invalidRequest } from '../../errors.js';

type Content = string | null | Array<{ type: string; text?: string }>;

interface CommonBody {
  model: string;
  temperature?: number;
  top_p?: number;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  stop?: string | string[] | null;
  seed?: number;
  frequency_penalty?: number;
  presence_penalty?: number;
  stream?: boolean;
  stream_options?: { include_usage?: boolean } | null;
}

interface OpenAiToolCall {
  id?: string;
  type?: 'function';
  function: { name: string; arguments: string | Record<string, unknown> };
}

interface ChatBody extends CommonBody {
  messages: Array<{ role: string; content?: Content; tool_calls?: OpenAiToolCall[] | null; tool_call_id?: string; name?: string }>;
  tools?: unknown[] | null;
  tool_choice?: unknown;
  response_format?: { type: 'text' | 'json_object' | 'json_schema'; json_schema?: { schema?: Record<string, unknown> } };
}

interface CompletionBody extends CommonBody {
  prompt: string;
  suffix?: string | null;
}

/** OpenAI sampling fields → Ollama options (unset fields keep the model's defaults). */
function toOptions(b: CommonBody): OllamaOptions {
  const stop = b.stop === null || b.stop === undefined ? undefined : [b.stop].flat();
  return {
    temperature: b.temperature,
    top_p: b.top_p,
    seed: b.seed,
    frequency_penalty: b.frequency_penalty,
    presence_penalty: b.presence_penalty,
    num_predict: b.max_completion_tokens ?? b.max_tokens ?? undefined,
    stop,
  };
}

/** Arguments as the templates take them: an object (OpenAI sends a JSON string). */
function argumentsOf(args: string | Record<string, unknown>, param: string): Record<string, unknown> {
  if (typeof args !== 'string') return args;
  try {
    const v: unknown = args.trim() === '' ? {} : JSON.parse(args);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // Answered below.
  }
  throw invalidRequest(`${param}: must be a JSON object`, 'invalid_tool_arguments');
}

function toMessage(m: ChatBody['messages'][number], i: number, functionOfCall: Map<string, string>): ChatMessage {
  const parts = typeof m.content === 'string' || m.content == null ? [{ type: 'text', text: m.content ?? '' }] : m.content;
  const images = parts.filter((p) => p.type === 'image_url');
  if (images.length > 0) throw invalidRequest(`messages[${i}].content: image parts are not supported by this model`, 'images_unsupported');
  const role = m.role === 'developer' ? 'system' : (m.role as ChatMessage['role']);
  const out: ChatMessage = { role, content: parts.map((p) => p.text ?? '').join('') };
  if (m.tool_calls && m.tool_calls.length > 0) {
    out.tool_calls = m.tool_calls.map((c, j) => {
      if (c.id !== undefined) functionOfCall.set(c.id, c.function.name);
      return { function: { name: c.function.name, arguments: argumentsOf(c.function.arguments, `messages[${i}].tool_calls[${j}].function.arguments`) } };
    });
  }
  // A tool result names its function, found from the call's id earlier in the history.
  const toolName = m.tool_call_id === undefined ? m.name : (functionOfCall.get(m.tool_call_id) ?? m.name);
  if (role === 'tool' && toolName !== undefined) out.tool_name = toolName;
  return out;
}

/** The tools to offer: none with `tool_choice: "none"`, as Ollama's compatibility layer does. */
const toolsOf = (b: ChatBody) => (b.tool_choice === 'none' || !b.tools || b.tools.length === 0 ? undefined : b.tools);

/** OpenAI's calls: an id each, arguments as a JSON string. */
const openAiCalls = (calls: GenerationResult['toolCalls']) =>
  calls.map((c) => ({ id: newId('call'), type: 'function' as const, function: { name: c.function.name, arguments: JSON.stringify(c.function.arguments) } }));

function format(b: ChatBody): JsonFormat | undefined {
  if (b.response_format?.type === 'json_object') return 'json';
  if (b.response_format?.type === 'json_schema') return b.response_format.json_schema?.schema ?? 'json';
  return undefined;
}

const finishReason = (r: GenerationResult) => (r.toolCalls.length > 0 ? 'tool_calls' : r.doneReason === 'length' ? 'length' : 'stop');
const usage = (r: GenerationResult) => ({ prompt_tokens: r.promptEvalCount, completion_tokens: r.evalCount, total_tokens: r.promptEvalCount + r.evalCount });
const newId = (prefix: string) => `${prefix}-${randomBytes(12).toString('hex')}`;

/** The OpenAI-compatible routes Ollama serves, as thin adapters over the inference service. */
export function createOpenAiRouter({ inference, store }: { inference: InferenceService; store: ModelStore }): Router {
  const router = Router();

  router.get('/v1/models', async (_req, res) => {
    const models = await store.list();
    res.json({ object: 'list', data: models.map((m) => ({ id: m.fullName, object: 'model', created: Math.floor(m.modifiedAt.getTime() / 1000), owned_by: 'library' })) });
  });

  router.get('/v1/models/:model', async (req, res) => {
    const m = await store.require(req.params.model);
    res.json({ id: m.fullName, object: 'model', created: Math.floor(m.modifiedAt.getTime() / 1000), owned_by: 'library' });
  });

  router.post('/v1/chat/completions', async (req, res) => {
    const body = req.body as ChatBody;
    const id = newId('chatcmpl');
    const created = Math.floor(Date.now() / 1000);
    const functionOfCall = new Map<string, string>();
    const messages = body.messages.map((m, i) => toMessage(m, i, functionOfCall));
    let callIndex = 0;
    const sse = new SseWriter(res);
    const chunk = (delta: Record<string, unknown>, finish: string | null) => ({ id, object: 'chat.completion.chunk', created, model: body.model, system_fingerprint: 'hearth', choices: [{ index: 0, delta, finish_reason: finish }] });
    let first = true;
    const result = await inference.generate({
      model: body.model,
      input: { kind: 'chat', messages },
      tools: toolsOf(body),
      options: toOptions(body),
      format: format(body),
      // OpenAI never cuts a prompt: one longer than the context is a 400 context_length_exceeded.
      truncate: false,
      signal: clientGoneSignal(res),
      onStart: body.stream ? () => sse.start() : undefined,
      onText: body.stream
        ? (content) => {
            sse.write(chunk(first ? { role: 'assistant', content } : { content }, null));
            first = false;
          }
        : undefined,
      // Each call whole, on one delta with its index and id.
      onToolCalls: body.stream
        ? (calls) => {
            const deltas = openAiCalls(calls).map((c) => ({ index: callIndex++, ...c }));
            sse.write(chunk(first ? { role: 'assistant', content: null, tool_calls: deltas } : { tool_calls: deltas }, null));
            first = false;
          }
        : undefined,
    });
    // The client is gone: drop the half-written response so the connection is not kept open.
    if (result.aborted) return void res.destroy();
    if (!body.stream) {
      const calls = result.toolCalls.length > 0 ? { tool_calls: openAiCalls(result.toolCalls) } : {};
      const message = { role: 'assistant', content: calls.tool_calls && result.text === '' ? null : result.text, ...calls };
      res.json({ id, object: 'chat.completion', created, model: body.model, system_fingerprint: 'hearth', choices: [{ index: 0, message, finish_reason: finishReason(result) }], usage: usage(result) });
      return;
    }
    sse.write(chunk(first ? { role: 'assistant', content: '' } : {}, finishReason(result)));
    if (body.stream_options?.include_usage) sse.write({ id, object: 'chat.completion.chunk', created, model: body.model, system_fingerprint: 'hearth', choices: [], usage: usage(result) });
    sse.end();
  });

  router.post('/v1/completions', async (req, res) => {
    const body = req.body as CompletionBody;
    const id = newId('cmpl');
    const created = Math.floor(Date.now() / 1000);
    const sse = new SseWriter(res);
    const chunk = (text: string, finish: string | null) => ({ id, object: 'text_completion', created, model: body.model, system_fingerprint: 'hearth', choices: [{ text, index: 0, logprobs: null, finish_reason: finish }] });
    const result = await inference.generate({
      model: body.model,
      input: { kind: 'prompt', prompt: body.prompt },
      suffix: body.suffix ?? undefined,
      options: toOptions(body),
      // OpenAI never cuts a prompt: one longer than the context is a 400 context_length_exceeded.
      truncate: false,
      signal: clientGoneSignal(res),
      onStart: body.stream ? () => sse.start() : undefined,
      onText: body.stream ? (text) => sse.write(chunk(text, null)) : undefined,
    });
    // The client is gone: drop the half-written response so the connection is not kept open.
    if (result.aborted) return void res.destroy();
    if (!body.stream) {
      res.json({ ...chunk(result.text, finishReason(result)), usage: usage(result) });
      return;
    }
    sse.write(chunk('', finishReason(result)));
    if (body.stream_options?.include_usage) sse.write({ id, object: 'text_completion', created, model: body.model, choices: [], usage: usage(result) });
    sse.end();
  });

  router.post('/v1/embeddings', async (req, res) => {
    const body = req.body as { model: string; input: string | string[]; encoding_format?: 'float' | 'base64'; dimensions?: number };
    const input = typeof body.input === 'string' ? [body.input] : body.input;
    const r = await inference.embed({ model: body.model, input, normalize: true, dimensions: body.dimensions });
    // The official SDKs ask for base64 by default: little-endian float32s.
    const encode = (v: number[]) => (body.encoding_format === 'base64' ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v);
    res.json({
      object: 'list',
      data: r.embeddings.map((embedding, index) => ({ object: 'embedding', embedding: encode(embedding), index })),
      model: body.model,
      usage: { prompt_tokens: r.promptEvalCount, total_tokens: r.promptEvalCount },
    });
  });

  return router;
}
