import { HearthError } from '../../errors.js';
import type { BackendTool, BackendToolCall, ChatMessage, Completion, Sampling } from '../../backend/inference.js';

// OpenAI's request and answer fields to and from the backend client's (Ollama's) vocabulary.
// Pure functions: the routers in this folder do the I/O.

type Nullable<T> = T | null | undefined;

export type ContentPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string; detail?: string } } | { type: 'refusal'; refusal: string };

export interface OpenAiToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface OpenAiMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  content?: Nullable<string | ContentPart[]>;
  name?: string;
  /** As OpenAI sends them (arguments a JSON string); an object is accepted too. */
  tool_calls?: Nullable<Array<{ id?: string; type?: 'function'; function: { name: string; arguments: string | Record<string, unknown> } }>>;
  tool_call_id?: string;
}

/** The fields both /v1/chat/completions and /v1/completions honour. */
export interface OpenAiSamplingBody {
  model: string;
  temperature?: Nullable<number>;
  top_p?: Nullable<number>;
  max_tokens?: Nullable<number>;
  max_completion_tokens?: Nullable<number>;
  stop?: Nullable<string | string[]>;
  seed?: Nullable<number>;
  presence_penalty?: Nullable<number>;
  frequency_penalty?: Nullable<number>;
  stream?: Nullable<boolean>;
  stream_options?: Nullable<{ include_usage?: Nullable<boolean> }>;
}

export interface OpenAiChatBody extends OpenAiSamplingBody {
  messages: OpenAiMessage[];
  response_format?: Nullable<{ type: 'text' | 'json_object' | 'json_schema'; json_schema?: { name?: string; schema?: Record<string, unknown> } }>;
  tools?: Nullable<BackendTool[]>;
  tool_choice?: Nullable<'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } }>;
}

const defined = <T>(v: Nullable<T>): T | undefined => (v === null ? undefined : v);

/**
 * The backend's sampling fields. `max_completion_tokens` is the newer name of `max_tokens` and
 * wins where both are sent; a null is as if the field were left out (OpenAI's SDKs send some).
 */
export function samplingOf(body: OpenAiSamplingBody & { response_format?: OpenAiChatBody['response_format'] }): Sampling {
  const s: Sampling = {};
  const set = <K extends keyof Sampling>(k: K, v: Nullable<Sampling[K]>) => {
    if (v !== undefined && v !== null) s[k] = v;
  };
  set('temperature', body.temperature);
  set('top_p', body.top_p);
  set('max_tokens', defined(body.max_completion_tokens) ?? body.max_tokens);
  set('stop', body.stop);
  set('seed', body.seed);
  set('presence_penalty', body.presence_penalty);
  set('frequency_penalty', body.frequency_penalty);
  set('response_format', body.response_format);
  return s;
}

/** The sampling of a body, its max tokens bounded by limits.max_tokens as Hearth's own surface's are. */
export function boundedSamplingOf(body: OpenAiSamplingBody & { response_format?: OpenAiChatBody['response_format'] }, maxTokens: number): Sampling {
  const s = samplingOf(body);
  if (s.max_tokens !== undefined && s.max_tokens > maxTokens) {
    const param = defined(body.max_completion_tokens) !== undefined ? 'max_completion_tokens' : 'max_tokens';
    throw new HearthError('invalid_request', `${param}: must be <= ${maxTokens} (limits.max_tokens)`, { code: 'invalid_request', param });
  }
  return s;
}

/** Whether the stream ends with a usage chunk (`stream_options.include_usage`). */
export const includeUsage = (body: OpenAiSamplingBody) => body.stream_options?.include_usage === true;

/** The tools to pass, or none: `tool_choice: "none"` forbids calls, so the model is not offered them. */
export function toolsOf(body: OpenAiChatBody): BackendTool[] | undefined {
  const choice = body.tool_choice;
  if (typeof choice === 'object' && choice !== null) {
    throw new HearthError('invalid_request', 'tool_choice: naming a function to call is not supported by the backend (send "auto" or "none")', {
      code: 'tool_choice_unsupported',
      param: 'tool_choice',
    });
  }
  if (choice === 'required') {
    throw new HearthError('invalid_request', 'tool_choice: "required" is not supported by the backend (send "auto" or "none")', { code: 'tool_choice_unsupported', param: 'tool_choice' });
  }
  if (choice === 'none' || !body.tools || body.tools.length === 0) return undefined;
  return body.tools.map((t) => ({ type: 'function', function: { name: t.function.name, description: t.function.description, parameters: t.function.parameters } }));
}

/** A data: URL's base64 payload (the backend takes images as base64); anything else is refused. */
function imageOf(url: string, param: string): string {
  const m = /^data:image\/[A-Za-z0-9.+-]+;base64,(.+)$/s.exec(url);
  if (m === null) {
    // Fetching a caller's URL from the gateway would let any key make the server reach its own network.
    throw new HearthError('invalid_request', `${param}: only data: URLs (data:image/...;base64,...) are accepted, not links to fetch`, { code: 'invalid_image_url', param });
  }
  return m[1]!;
}

/** Arguments as the backend takes them: an object (OpenAI sends a JSON string; some clients an object). */
function argumentsOf(args: string | Record<string, unknown>, param: string): Record<string, unknown> {
  if (typeof args !== 'string') return args;
  let parsed: unknown;
  try {
    parsed = args.trim() === '' ? {} : JSON.parse(args);
  } catch {
    throw new HearthError('invalid_request', `${param}: not valid JSON`, { code: 'invalid_tool_arguments', param });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HearthError('invalid_request', `${param}: must encode a JSON object`, { code: 'invalid_tool_arguments', param });
  }
  return parsed as Record<string, unknown>;
}

/**
 * The conversation in the backend's terms: `developer` is `system`; content parts are joined
 * text, and image parts become the message's images; assistant tool calls get their arguments
 * as objects; a tool result names its function, found from the call's id earlier in the history.
 */
export function toBackendMessages(messages: OpenAiMessage[]): ChatMessage[] {
  const functionOfCall = new Map<string, string>();
  return messages.map((m, i) => {
    const at = `messages[${i}]`;
    const role: ChatMessage['role'] = m.role === 'developer' ? 'system' : m.role;
    const out: ChatMessage = { role, content: '' };
    if (typeof m.content === 'string') out.content = m.content;
    else if (Array.isArray(m.content)) {
      const texts: string[] = [];
      const images: string[] = [];
      m.content.forEach((p, j) => {
        if (p.type === 'text') texts.push(p.text);
        else if (p.type === 'refusal') texts.push(p.refusal);
        else images.push(imageOf(p.image_url.url, `${at}.content[${j}].image_url.url`));
      });
      out.content = texts.join('');
      if (images.length > 0) out.images = images;
    }
    if (m.tool_calls && m.tool_calls.length > 0) {
      out.tool_calls = m.tool_calls.map((c, j) => {
        if (c.id !== undefined) functionOfCall.set(c.id, c.function.name);
        return { function: { name: c.function.name, arguments: argumentsOf(c.function.arguments, `${at}.tool_calls[${j}].function.arguments`) } };
      });
    }
    if (m.role === 'tool') {
      const name = m.tool_call_id === undefined ? m.name : (functionOfCall.get(m.tool_call_id) ?? m.name);
      if (name !== undefined) out.tool_name = name;
    }
    return out;
  });
}

/** Which messages carry images: the router asks the backend whether the model sees them. */
export const imageMessageIndex = (messages: ChatMessage[]) => messages.findIndex((m) => (m.images?.length ?? 0) > 0);

/** OpenAI's tool calls: an id for each (the backend's where it gave one), arguments as a JSON string. */
export function toOpenAiToolCalls(calls: BackendToolCall[], newCallId: () => string): OpenAiToolCall[] {
  return calls.map((c) => ({ id: c.id ?? newCallId(), type: 'function', function: { name: c.function.name, arguments: JSON.stringify(c.function.arguments ?? {}) } }));
}

/**
 * The same calls as stream deltas: each with its integer `index` (distinct per call, so that
 * accumulating clients keep parallel calls apart) and, on its first (here its only) delta, its id.
 */
export function toolCallDeltas(calls: OpenAiToolCall[]) {
  return calls.map((c, index) => ({ index, id: c.id, type: 'function' as const, function: { name: c.function.name, arguments: c.function.arguments } }));
}

/** `tool_calls` when the answer called a tool, else the backend's reason. */
export const finishReasonOf = (c: Completion): 'stop' | 'length' | 'tool_calls' => ((c.toolCalls?.length ?? 0) > 0 ? 'tool_calls' : c.finishReason);

export const usageOf = (c: Completion) => ({ prompt_tokens: c.promptTokens, completion_tokens: c.completionTokens, total_tokens: c.promptTokens + c.completionTokens });

/** Embedding input as the backend takes it: strings. Token ids cannot be sent through Ollama's API. */
export function embeddingInputs(input: string | string[] | number[] | number[][]): string[] {
  if (typeof input === 'string') return [input];
  if (input.length > 0 && input.every((x) => typeof x === 'string')) return input as string[];
  throw new HearthError('invalid_request', 'input: token ids are not supported (the backend embeds text only); send the text as a string or an array of strings', {
    code: 'token_ids_unsupported',
    param: 'input',
  });
}

/** A vector as OpenAI's `base64` encoding has it: little-endian float32s. */
export function base64Embedding(v: readonly number[]): string {
  const buf = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString('base64');
}

/** The same error, naming the request field at fault (OpenAI's `param`). */
export function withParam(err: unknown, code: string, param: string): unknown {
  if (err instanceof HearthError && err.code === code && err.param === undefined) {
    return new HearthError(err.kind, err.message, { code: err.code, retryAfterS: err.retryAfterS, param, cause: err.cause });
  }
  return err;
}
