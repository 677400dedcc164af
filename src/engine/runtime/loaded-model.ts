import {
  LlamaCompletion,
  resolveChatWrapper,
  type ChatWrapper,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaEmbeddingContext,
  type LlamaModel,
  type Token,
} from 'node-llama-cpp';
import type { ModelSpec } from './model-spec.js';
import { SlotQueue } from './slot-queue.js';

/** One parallel sequence of a loaded model; a request holds it from first prompt token to last. */
export interface Slot {
  index: number;
  sequence: LlamaContextSequence;
  completion: LlamaCompletion;
}

export interface LoadSettings {
  numCtx: number;
  parallel: number;
  maxQueue: number;
  threads: number;
  /** false: CPU only; 'auto': as many layers as fit on the GPU node-llama-cpp found. */
  gpuLayers: 'auto' | 0;
}

/**
 * A model in memory: its weights, one context of `parallel` sequences (llama.cpp batches them
 * together), a bounded queue for requests waiting for a sequence, and a lazily made embedding
 * context.
 */
export class LoadedModel {
  readonly slots: SlotQueue<Slot>;
  readonly chatWrapper: ChatWrapper;
  private embeddingContext?: Promise<LlamaEmbeddingContext>;
  private embeddingChain: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly spec: ModelSpec,
    readonly model: LlamaModel,
    readonly context: LlamaContext,
    readonly settings: LoadSettings,
    readonly loadDurationMs: number,
    slots: Slot[],
  ) {
    this.slots = new SlotQueue(slots, settings.maxQueue);
    this.chatWrapper = resolveChatWrapper(model);
  }

  static async load(llama: Llama, spec: ModelSpec, settings: LoadSettings): Promise<LoadedModel> {
    const started = performance.now();
    const model = await llama.loadModel({ modelPath: spec.modelPath, gpuLayers: settings.gpuLayers });
    try {
      const context = await model.createContext({
        contextSize: settings.numCtx,
        sequences: settings.parallel,
        threads: settings.threads,
        lora: spec.adapterPaths.length > 0 ? { adapters: spec.adapterPaths.map((filePath) => ({ filePath })) } : undefined,
      });
      const slots: Slot[] = [];
      for (let index = 0; index < settings.parallel; index++) {
        const sequence = context.getSequence();
        slots.push({ index, sequence, completion: new LlamaCompletion({ contextSequence: sequence }) });
      }
      return new LoadedModel(spec, model, context, settings, performance.now() - started, slots);
    } catch (err) {
      await model.dispose();
      throw err;
    }
  }

  /** Tokens a prompt of these tokens really occupies: llama.cpp prepends BOS where the vocabulary wants it. */
  promptTokenCount(tokens: readonly Token[]): number {
    return tokens.length + (this.model.tokens.shouldPrependBosToken && this.model.tokens.bos !== null ? 1 : 0);
  }

  /** Embeddings are computed one input at a time on a separate context. */
  embed(tokens: Token[]): Promise<readonly number[]> {
    this.embeddingContext ??= this.model.createEmbeddingContext({ contextSize: this.settings.numCtx, threads: this.settings.threads });
    const run = this.embeddingChain.then(async () => (await (this.embeddingContext as Promise<LlamaEmbeddingContext>)).getEmbeddingFor(tokens));
    this.embeddingChain = run.catch(() => undefined);
    return run.then((e) => e.vector);
  }

  get gpuLayers(): number {
    return this.model.gpuLayers;
  }

  async dispose(): Promise<void> {
    const embedding = this.embeddingContext;
    this.embeddingContext = undefined;
    if (embedding) await (await embedding.catch(() => undefined))?.dispose();
    await this.context.dispose();
    await this.model.dispose();
  }
}
