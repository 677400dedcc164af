import { Ollama, type ChatRequest, type ChatResponse, type GenerateRequest, type GenerateResponse, type CreateRequest, type ModelResponse, type ShowResponse } from 'ollama';
import { Readable } from 'node:stream';
import { unavailable } from '../errors.js';
import { backendError, rejectErrorAnswer } from './backend-errors.js';
import { createBackendTransport, type BackendResponse, type BackendTransport } from './backend-transport.js';
import { completionOf, ollamaFormat, ollamaOptions, type BackendTool, type BackendToolCall, type ChatMessage, type Completion, type Embeddings, type Sampling, type StreamEvent } from './inference.js';

/** Ollama's /api/create body; the client's typings lack `files` (a GGUF given by digest). */
export type CreateModelRequest = CreateRequest & { files?: Record<string, string> };

/** What the client needs of the backend: where it is and whether it is answering. */
export interface BackendPort {
  readonly url: string;
  /** Sent with every request (the bundled engine's secret as `Authorization`); none by default. */
  readonly headers?: Readonly<Record<string, string>>;
  isUp(): boolean;
}

/**
 * The one client of the model backend: chat and generation behind the gateway's surfaces, and
 * the model management that fine-tuning and the admin API need, speaking to any
 * Ollama-compatible backend through the official client. Each call gets its own ollama client
 * so that a caller going away aborts exactly its own backend request; all of them share one
 * keep-alive connection pool (backend-transport.ts). Chat and generation send `truncate: false`:
 * a prompt longer than the model's context is refused, 400 context_length_exceeded with `param`
 * the field holding it, rather than cut without a word (an Ollama that ignores the field still cuts).
 */
export class BackendClient {
  private readonly transport: BackendTransport;
  /** backend.request_timeout: the longest one chat or generation may take, stream included. */
  private readonly requestTimeoutMs: number | undefined;

  constructor(
    private readonly backend: BackendPort,
    options: { requestTimeoutMs?: number; transport?: BackendTransport } = {},
  ) {
    this.transport = options.transport ?? createBackendTransport({ headers: backend.headers ?? {} });
    this.requestTimeoutMs = options.requestTimeoutMs;
  }

  /** Closes the pooled backend connections. */
  close(): void {
    this.transport.close();
  }

  /** A client for one call; `deadlineMs` bounds inference calls (model management has none). */
  private client(signal?: AbortSignal, deadlineMs?: number): Ollama {
    this.assertUp();
    const transport = this.transport;
    // The client needs only the members BackendResponse has (see backend-transport.ts). An error
    // answer is thrown here, with the backend's code: the client would keep only its text, and
    // passes on what its fetch throws as it is (streamed calls included).
    const clientFetch = async (input: string | URL | Request, init?: RequestInit) => rejectErrorAnswer(await transport.fetch(input, init, signal, deadlineMs));
    return new Ollama({ host: this.backend.url, fetch: clientFetch as unknown as typeof fetch });
  }

  private assertUp(): void {
    if (!this.backend.isUp()) throw unavailable('the model backend is down; retry shortly', 5, 'backend_unavailable');
  }

  /** A chat answered whole; `tools` the model may call (a backend or model without tools refuses them). */
  async chat(model: string, messages: ChatMessage[], s: Sampling, signal?: AbortSignal, tools?: BackendTool[]): Promise<Completion> {
    try {
      const r = await this.client(signal, this.requestTimeoutMs).chat({ model, messages, tools, stream: false, truncate: false, options: ollamaOptions(s), format: ollamaFormat(s) } as ChatRequest & { stream: false });
      return completionOf(r, r.message.content, r.message.tool_calls as BackendToolCall[] | undefined);
    } catch (err) {
      throw backendError(err, model, 'messages');
    }
  }

  /**
   * Opens a streamed chat. Resolves once the backend has accepted the request (unknown model,
   * bad request or a full queue fail here, as plain errors); the generator then yields tokens.
   */
  async openChatStream(model: string, messages: ChatMessage[], s: Sampling, signal?: AbortSignal, tools?: BackendTool[]): Promise<AsyncGenerator<StreamEvent>> {
    let parts;
    try {
      parts = await this.client(signal, this.requestTimeoutMs).chat({ model, messages, tools, stream: true, truncate: false, options: ollamaOptions(s), format: ollamaFormat(s) } as ChatRequest & { stream: true });
    } catch (err) {
      throw backendError(err, model, 'messages');
    }
    // Ollama sends each call whole, in a part before the last: the totals carry them all.
    return relayParts(parts, model, 'messages', (part) => part.message.content, (part) => part.message.tool_calls as BackendToolCall[] | undefined);
  }

  async generate(model: string, prompt: string, system: string | undefined, s: Sampling, signal?: AbortSignal): Promise<Completion> {
    try {
      const r = await this.client(signal, this.requestTimeoutMs).generate({ model, prompt, system, stream: false, truncate: false, options: ollamaOptions(s), format: ollamaFormat(s) } as GenerateRequest & { stream: false });
      return completionOf(r, r.response ?? '');
    } catch (err) {
      throw backendError(err, model, 'prompt');
    }
  }

  /** Opens a streamed generation, as openChatStream does for a chat. */
  async openGenerateStream(model: string, prompt: string, system: string | undefined, s: Sampling, signal?: AbortSignal): Promise<AsyncGenerator<StreamEvent>> {
    let parts;
    try {
      parts = await this.client(signal, this.requestTimeoutMs).generate({ model, prompt, system, stream: true, truncate: false, options: ollamaOptions(s), format: ollamaFormat(s) } as GenerateRequest & { stream: true });
    } catch (err) {
      throw backendError(err, model, 'prompt');
    }
    return relayParts(parts, model, 'prompt', (part) => part.response, () => undefined);
  }

  /**
   * Embeddings of each input, in order (unit vectors, as Ollama's /api/embed gives them), and the
   * tokens the backend read. `truncate: false` makes an input longer than the context an error
   * instead of cutting it; `dimensions` shortens each vector where the model allows it.
   */
  async embed(model: string, input: string[], opts: { truncate?: boolean; dimensions?: number } = {}, signal?: AbortSignal): Promise<Embeddings> {
    try {
      const r = await this.client(signal, this.requestTimeoutMs).embed({ model, input, truncate: opts.truncate, dimensions: opts.dimensions });
      return { embeddings: r.embeddings, promptTokens: r.prompt_eval_count ?? 0 };
    } catch (err) {
      throw backendError(err, model);
    }
  }

  /**
   * Sends one request of Ollama's API to the backend as its client sent it (the /ollama surface),
   * so that every field Ollama knows reaches the backend, including those Hearth has no word for.
   * Resolves once the backend's headers arrive, whatever its status: the caller relays the answer
   * (a stream line by line, as it comes). Aborting `signal` (the client gone) cuts the backend
   * call; `inference` bounds it by backend.request_timeout, stream included.
   */
  async forward(method: 'GET' | 'HEAD' | 'POST' | 'DELETE', path: string, body?: unknown, options: { signal?: AbortSignal; inference?: boolean } = {}): Promise<BackendResponse> {
    this.assertUp();
    const init: RequestInit = body === undefined ? { method } : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
    try {
      return await this.transport.fetch(`${this.backend.url.replace(/\/+$/, '')}${path}`, init, options.signal, options.inference ? this.requestTimeoutMs : undefined);
    } catch (err) {
      throw backendError(err);
    }
  }

  /**
   * Streams a blob's bytes to the backend (POST /api/blobs/:digest, the /ollama surface's upload)
   * without holding them; the backend checks the digest. Resolves with its answer.
   */
  async putBlob(digest: string, body: Readable, size: number | undefined, signal?: AbortSignal): Promise<{ status: number; text: string }> {
    this.assertUp();
    try {
      const res = await fetch(`${this.backend.url.replace(/\/+$/, '')}/api/blobs/${encodeURIComponent(digest)}`, {
        method: 'POST',
        body: Readable.toWeb(body) as ReadableStream<Uint8Array>,
        headers: { 'content-type': 'application/octet-stream', ...(size === undefined ? {} : { 'content-length': String(size) }), ...this.backendHeaders },
        duplex: 'half',
        signal,
      } as RequestInit & { duplex: 'half' });
      return { status: res.status, text: await res.text() };
    } catch (err) {
      throw backendError(err);
    }
  }

  async models(): Promise<ModelResponse[]> {
    try {
      return (await this.client().list()).models;
    } catch (err) {
      throw backendError(err);
    }
  }

  /**
   * The models the backend holds in memory now (/api/ps). `expiresAt` is the JSON's text as
   * sent (the client's typing says Date, but it does not parse it).
   */
  async loadedModels(): Promise<Array<{ name: string; size: number; sizeVram: number; expiresAt: string | undefined }>> {
    try {
      const { models } = await this.client().ps();
      return models.map((m) => ({ name: m.name, size: m.size, sizeVram: m.size_vram ?? 0, expiresAt: m.expires_at === undefined ? undefined : String(m.expires_at as unknown) }));
    } catch (err) {
      throw backendError(err);
    }
  }

  /** The backend's own version (/api/version: Ollama's, or the bundled engine's, which is Hearth's). */
  async version(): Promise<string> {
    try {
      return (await this.client().version()).version;
    } catch (err) {
      throw backendError(err);
    }
  }

  /** The backend's description of a model (/api/show): its Modelfile names the weights. */
  async show(model: string): Promise<ShowResponse> {
    try {
      return await this.client().show({ model });
    } catch (err) {
      throw backendError(err, model);
    }
  }

  /** Unloads every model the backend holds (keep_alive 0), so a trainer gets the memory. */
  async unloadAll(): Promise<string[]> {
    try {
      const client = this.client();
      const loaded = (await client.ps()).models.map((m) => m.name);
      for (const model of loaded) await client.generate({ model, prompt: '', keep_alive: 0, stream: false });
      return loaded;
    } catch (err) {
      throw backendError(err);
    }
  }

  /** Creates (or replaces) a model from blobs already on the backend (/api/create). */
  async createModel(request: CreateModelRequest): Promise<void> {
    try {
      await this.client().create({ ...request, stream: false } as CreateRequest & { stream: false });
    } catch (err) {
      throw backendError(err, request.model);
    }
  }

  async deleteModel(model: string): Promise<void> {
    try {
      await this.client().delete({ model });
    } catch (err) {
      throw backendError(err, model);
    }
  }

  /** The backend's base URL (for blob uploads, which the client does not do). */
  get backendUrl(): string {
    return this.backend.url;
  }

  /** The headers every backend request carries (for blob uploads, which the client does not do). */
  get backendHeaders(): Readonly<Record<string, string>> {
    return this.backend.headers ?? {};
  }
}

/**
 * The tokens of a streamed chat or generation as they come, then its totals. A stream the backend
 * cuts becomes a Hearth error (`param`: the field that held the prompt), and the backend call is
 * aborted however the consumer stops reading.
 */
async function* relayParts<P extends ChatResponse | GenerateResponse>(
  parts: AsyncIterable<P> & { abort(): void },
  model: string,
  param: 'messages' | 'prompt',
  textOf: (part: P) => string | undefined,
  callsOf: (part: P) => BackendToolCall[] | undefined,
): AsyncGenerator<StreamEvent> {
  let text = '';
  const toolCalls: BackendToolCall[] = [];
  try {
    for await (const part of parts) {
      const piece = textOf(part);
      if (piece) {
        text += piece;
        yield { type: 'token', text: piece } as const;
      }
      const calls = callsOf(part);
      if (calls !== undefined) toolCalls.push(...calls);
      if (part.done) yield { type: 'done', completion: completionOf(part, text, toolCalls) } as const;
    }
  } catch (err) {
    throw backendError(err, model, param);
  } finally {
    parts.abort();
  }
}
