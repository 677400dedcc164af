// The reference side: node-llama-cpp called directly, set up exactly as the engine sets up a
// model (src/engine/runtime/loaded-model.ts) and a generation (src/engine/service/inference.ts),
// minus everything HTTP.

import { getLlama, LlamaCompletion, LlamaLogLevel, type Llama, type LlamaContext, type LlamaModel, type Token } from 'node-llama-cpp';
import { toSampling } from '../../src/engine/runtime/options.js';
import type { GenerateParams } from './engine-client.js';
import { ollamaOptions } from './engine-client.js';
import type { GenerationTiming } from './stats.js';

export class InProcessModel {
  private constructor(
    private readonly llama: Llama,
    readonly model: LlamaModel,
    private readonly context: LlamaContext,
    // One completion on one sequence for the whole run, as the engine keeps one per slot (it runs
    // with --parallel 1 here). Both therefore reuse the KV cache of the previous round's common
    // prefix the same way; the benchmark's prompts differ from their first tokens on, so that
    // reuse is at most BOS and a digit on either side.
    private readonly completion: LlamaCompletion,
  ) {}

  static async load(modelPath: string, opts: { numCtx: number; threads: number }): Promise<InProcessModel> {
    // The options of the engine's default llama factory (src/engine/runtime/model-pool.ts), CPU only.
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.warn });
    const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
    const context = await model.createContext({ contextSize: opts.numCtx, sequences: 1, threads: opts.threads });
    return new InProcessModel(llama, model, context, new LlamaCompletion({ contextSequence: context.getSequence() }));
  }

  /** Tokens of a raw prompt, tokenized as the engine tokenizes `raw: true` prompts. */
  tokenize(prompt: string): Token[] {
    return this.model.tokenize(prompt, true);
  }

  /** One generation with the engine's sampler for the same Ollama options; timestamps from onToken. */
  async generate(p: Omit<GenerateParams, 'model'>, signal: AbortSignal): Promise<GenerationTiming> {
    const calledAt = performance.now();
    let firstTokenAt: number | undefined;
    let lastTokenAt = 0;
    let tokens = 0;
    let text = '';
    // Timed from before tokenizing: the engine's TTFT includes its tokenization too.
    await this.completion.generateCompletionWithMeta(this.tokenize(p.prompt), {
      ...toSampling(ollamaOptions(p)),
      signal,
      stopOnAbortSignal: true,
      disableContextShift: true,
      onToken: (chunk) => {
        const now = performance.now() - calledAt;
        firstTokenAt ??= now;
        lastTokenAt = now;
        tokens += chunk.length;
      },
      onTextChunk: (chunk) => void (text += chunk),
    });
    if (signal.aborted) throw new Error('in-process generation aborted (timeout or interrupt)');
    if (firstTokenAt === undefined) throw new Error('in-process generation produced no token');
    return { firstTokenAt, lastTokenAt, tokens, text };
  }

  async dispose(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
    await this.llama.dispose();
  }
}
