import type { LlamaGrammar, Token } from 'node-llama-cpp';
import { HearthError, invalidRequest } from '../../errors.js';
import type { ModelStore } from '../store/model-store.js';
import { parseKeepAlive } from '../runtime/keep-alive.js';
import type { LoadedModel, Slot } from '../runtime/loaded-model.js';
import type { ModelPool } from '../runtime/model-pool.js';
import { rendersTools, resolveModelSpec, type ModelSpec } from '../runtime/model-spec.js';
import { mergeOptions, toSampling, type OllamaOptions } from '../runtime/options.js';
import { GrammarCache } from './grammars.js';
import { ModelInfoCache } from './model-info.js';
import { renderPrompt, type PromptInput } from './prompt.js';
import { ToolCallParser, type ToolCall, type ToolCallSyntax } from './tool-calls.js';
import { jinjaToolSyntax } from './wrapper-tools.js';

export type JsonFormat = 'json' | Record<string, unknown>;

export interface GenerationRequest {
  model: string;
  input: PromptInput;
  /** Tools the model may call: only a model whose template (Go, or the GGUF's Jinja) renders tools takes them. */
  tools?: unknown[];
  think?: boolean | string;
  /** Fill-in-the-middle: text that must follow the generated text. */
  suffix?: string;
  options?: OllamaOptions;
  format?: JsonFormat;
  keepAlive?: unknown;
  /**
   * Ollama's `truncate` (default true): a prompt that does not fit the context is cut to fit;
   * false: it is refused, 400 context_length_exceeded, before anything is generated.
   */
  truncate?: boolean;
  signal?: AbortSignal;
  /** Receives the text as it is generated (streaming); with tools, only text that is not a call. */
  onText?: (text: string) => void;
  /** With tools: receives each call as soon as the model has written it whole. */
  onToolCalls?: (calls: ToolCall[]) => void;
  /** Called once the request holds a sequence and generation begins (streams send their headers then). */
  onStart?: () => void;
}

export type DoneReason = 'stop' | 'length' | 'load' | 'unload';

export interface GenerationResult {
  model: string;
  /** The answer's text, less any tool calls. */
  text: string;
  /** The calls the model made (only when the request offered tools). */
  toolCalls: ToolCall[];
  doneReason: DoneReason;
  /** True when the client went away and generation stopped early. */
  aborted: boolean;
  promptEvalCount: number;
  evalCount: number;
  totalDurationNs: number;
  loadDurationNs: number;
  promptEvalDurationNs: number;
  evalDurationNs: number;
  /** Prompt and generated tokens, for /api/generate's `context`. */
  context: number[];
}

export interface EmbedResult {
  model: string;
  embeddings: number[][];
  promptEvalCount: number;
  totalDurationNs: number;
  loadDurationNs: number;
}

const msToNs = (ms: number) => Math.round(ms * 1e6);

/**
 * The one implementation of chat, generate and embed behind every HTTP surface of the engine
 * (Ollama's /api routes and the OpenAI-compatible /v1 routes).
 */
export class InferenceService {
  private readonly grammars = new GrammarCache();
  /** Resolved specs by manifest digest: a manifest never changes, so neither do its layers. */
  private readonly specs = new Map<string, Promise<ModelSpec>>();

  constructor(
    private readonly store: ModelStore,
    private readonly pool: ModelPool,
    /** GGUF metadata, for the chat template of a model without a Go template. */
    private readonly infos = new ModelInfoCache(),
  ) {}

  async spec(name: string): Promise<ModelSpec> {
    const stored = await this.store.require(name);
    let spec = this.specs.get(stored.digest);
    if (!spec) {
      spec = resolveModelSpec(this.store, stored, this.infos);
      spec.catch(() => this.specs.delete(stored.digest));
      if (this.specs.size >= 64) this.specs.delete(this.specs.keys().next().value as string);
      this.specs.set(stored.digest, spec);
    }
    return spec;
  }

  /** An empty prompt only loads the model (or, with keep_alive 0, unloads it), as in Ollama. */
  async loadOrUnload(name: string, keepAlive: unknown): Promise<DoneReason> {
    const spec = await this.spec(name);
    const keepAliveMs = keepAlive === undefined ? undefined : parseKeepAlive(keepAlive);
    if (keepAliveMs === 0) {
      await this.pool.unload(spec.name);
      return 'unload';
    }
    await this.pool.withModel(spec, { keepAliveMs }, async () => undefined);
    return 'load';
  }

  async generate(req: GenerationRequest): Promise<GenerationResult> {
    const started = performance.now();
    const spec = await this.spec(req.model);
    const withTools = req.tools !== undefined && req.tools.length > 0;
    if (withTools && !rendersTools(spec)) throw toolsUnsupported(spec.name);
    if (req.think) throw invalidRequest(`model "${spec.name}" does not support thinking`, 'thinking_unsupported');
    if (req.input.kind === 'chat' && req.input.messages.some((m) => (m.images?.length ?? 0) > 0)) {
      throw invalidRequest(`model "${spec.name}" does not support images (messages[].images)`, 'images_unsupported');
    }
    const options = mergeOptions(spec.parameters, req.options);
    const keepAliveMs = req.keepAlive === undefined ? undefined : parseKeepAlive(req.keepAlive);
    const grammar = req.format === undefined ? undefined : await this.grammars.get(await this.pool.getLlama(), req.format);
    return this.pool.use(spec, { numCtx: options.num_ctx, keepAliveMs, signal: req.signal }, (loaded, slot, loadMs) =>
      this.run(loaded, slot, req, options, grammar, started, loadMs),
    );
  }

  private async run(
    loaded: LoadedModel,
    slot: Slot,
    req: GenerationRequest,
    options: OllamaOptions,
    grammar: LlamaGrammar | undefined,
    started: number,
    loadMs: number,
  ): Promise<GenerationResult> {
    const prompt = renderPrompt(loaded, req.input, req.tools);
    const syntax = req.tools && req.tools.length > 0 ? toolCallSyntax(loaded) : undefined;
    // Output that may be a call is held back from the stream until it is decided (Ollama's way).
    const parser = syntax === undefined ? undefined : new ToolCallParser(syntax);
    const toolCalls: ToolCall[] = [];
    let content = '';
    const take = (parsed: { content: string; calls: ToolCall[] }) => {
      content += parsed.content;
      if (parsed.content) req.onText?.(parsed.content);
      if (parsed.calls.length > 0) {
        toolCalls.push(...parsed.calls);
        req.onToolCalls?.(parsed.calls);
      }
    };
    const onText = parser ? (text: string) => take(parser.push(text)) : req.onText;
    if (req.suffix && !slot.completion.infillSupported) {
      throw invalidRequest(`model "${loaded.spec.name}" does not support insert (suffix)`, 'suffix_unsupported');
    }
    // Before onStart: a refusal must still be able to answer with a status, not a stream.
    if (req.truncate === false) refuseOverflow(loaded, slot, prompt.tokens, req);
    req.onStart?.();
    const stop = [...prompt.stopTriggers, ...(options.stop ?? [])];
    const generated: Token[] = [];
    let firstTokenAt: number | undefined;
    const evalStarted = performance.now();
    const common = {
      ...toSampling(options),
      signal: req.signal,
      stopOnAbortSignal: true,
      grammar,
      customStopTriggers: stop.length > 0 ? stop : undefined,
      // Bounded generation: stop when the context is full instead of shifting it forever.
      disableContextShift: true,
      // node-llama-cpp fits the prompt into the context less this many tokens, cutting its start
      // (10% of the context by default). Unless truncation was asked for, a prompt that passed
      // refuseOverflow must go in whole: then only the one token it needs for the answer is kept.
      ...(req.truncate === false ? { contextShiftSize: 1 } : {}),
      onToken: (tokens: Token[]) => {
        firstTokenAt ??= performance.now();
        generated.push(...tokens);
      },
      onTextChunk: onText,
    };
    let result;
    if (req.suffix) {
      result = await slot.completion.generateInfillCompletionWithMeta(prompt.tokens, req.suffix, common);
    } else {
      result = await slot.completion.generateCompletionWithMeta(prompt.tokens, common);
    }
    if (parser) take(parser.finish());
    const ended = performance.now();
    const firstAt = firstTokenAt ?? ended;
    return {
      model: loaded.spec.name,
      text: parser ? content : result.response,
      toolCalls,
      doneReason: result.metadata.stopReason === 'maxTokens' ? 'length' : 'stop',
      aborted: req.signal?.aborted ?? false,
      promptEvalCount: loaded.promptTokenCount(prompt.tokens),
      evalCount: generated.length,
      totalDurationNs: msToNs(ended - started),
      loadDurationNs: msToNs(loadMs),
      promptEvalDurationNs: msToNs(firstAt - evalStarted),
      evalDurationNs: msToNs(ended - firstAt),
      context: [...prompt.tokens, ...generated],
    };
  }

  /**
   * Embeds each input. Inputs longer than the context are cut to fit when `truncate` is true
   * (Ollama's default) and refused otherwise. `normalize` gives unit vectors, as /api/embed does;
   * `dimensions` keeps the leading components (then re-normalized).
   */
  async embed(req: {
    model: string;
    input: string[];
    truncate?: boolean;
    normalize: boolean;
    dimensions?: number;
    options?: OllamaOptions;
    keepAlive?: unknown;
  }): Promise<EmbedResult> {
    const started = performance.now();
    const spec = await this.spec(req.model);
    const options = mergeOptions(spec.parameters, req.options);
    const keepAliveMs = req.keepAlive === undefined ? undefined : parseKeepAlive(req.keepAlive);
    return this.pool.withModel(spec, { numCtx: options.num_ctx, keepAliveMs }, async (loaded, loadMs) => {
      const limit = loaded.settings.numCtx;
      let count = 0;
      const embeddings: number[][] = [];
      for (const [i, text] of req.input.entries()) {
        let tokens = loaded.model.tokenize(text);
        if (tokens.length > limit) {
          if (req.truncate === false) throw invalidRequest(`input[${i}] length (${tokens.length} tokens) exceeds the context length (${limit})`, 'input_too_long');
          tokens = tokens.slice(0, limit);
        }
        count += tokens.length;
        let vector = [...(await loaded.embed(tokens))];
        if (req.dimensions !== undefined) {
          if (req.dimensions > vector.length) throw invalidRequest(`dimensions (${req.dimensions}) exceeds the model's embedding length (${vector.length})`, 'invalid_dimensions');
          vector = vector.slice(0, req.dimensions);
        }
        embeddings.push(req.normalize ? normalize(vector) : vector);
      }
      return { model: loaded.spec.name, embeddings, promptEvalCount: count, totalDurationNs: msToNs(performance.now() - started), loadDurationNs: msToNs(loadMs) };
    });
  }
}

/**
 * Refuses a prompt that leaves the sequence's context no room for a token of the answer: 400
 * context_length_exceeded, its `param` the field that holds the prompt, in the words OpenAI uses
 * (clients such as LangChain recognise "maximum context length" in the message).
 */
function refuseOverflow(loaded: LoadedModel, slot: Slot, tokens: readonly Token[], req: GenerationRequest): void {
  const limit = slot.sequence.contextSize;
  let used = loaded.promptTokenCount(tokens);
  let room = limit;
  // An infill also holds the suffix and up to three marker tokens (counted generously), and
  // node-llama-cpp wants one token more free for it, else it throws instead of answering.
  if (req.suffix) {
    used += loaded.model.tokenize(req.suffix).length + 3;
    room -= 1;
  }
  if (used < room) return;
  const field = req.input.kind === 'chat' ? 'messages' : 'prompt';
  throw new HearthError(
    'invalid_request',
    `This model's maximum context length is ${limit} tokens. However, your ${field} resulted in ${used} tokens. Please reduce the length of the ${field}.`,
    { code: 'context_length_exceeded', param: field },
  );
}

const toolsUnsupported = (model: string) => invalidRequest(`tools: model "${model}" does not support tools`, 'tools_unsupported');

/**
 * How the model writes a tool call. An Ollama template without a call tag is offered tools but
 * its output is not parsed (undefined); a Jinja template is refused when node-llama-cpp's chat
 * wrapper has no call syntax of the model's own for it.
 */
function toolCallSyntax(loaded: LoadedModel): ToolCallSyntax | undefined {
  const { template } = loaded.spec;
  if (template) return template.toolCallTag === undefined ? undefined : { kind: 'object', tag: template.toolCallTag };
  const syntax = jinjaToolSyntax(loaded);
  if (!syntax) throw toolsUnsupported(loaded.spec.name);
  return syntax;
}

function normalize(v: number[]): number[] {
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return norm > 0 ? v.map((x) => x / norm) : v;
}
