// The training loop over llama.cpp's training API, in the calling process. The worker runs it in
// a child (a failed GGML_ASSERT aborts the whole process); the benchmark runs it bare.
//
// One optimizer step is one llama_opt_epoch call on a one-window dataset. llama_opt_epoch is a
// blocking native call; stepping it window by window gives the loop a point between steps where
// the event loop runs (SIGTERM handlers, stdout flushes) and where the loss of each step is known.
// The optimizer state lives in the context, so splitting the epoch changes nothing else.

import koffi from 'koffi';

import { HearthError } from '../../../errors.js';
import {
  GGML_OPT_OPTIMIZER_TYPE_ADAMW,
  GgmlOptGetOptimizerParams,
  LLAMA_FLASH_ATTN_TYPE_DISABLED,
  LLAMA_LOAD_MODE_NONE,
  LlamaOptParamFilter,
  type LlamaTrainingApi,
  type OptimizerParams,
  type Ptr,
} from './ffi.js';
import { GGML_TYPE } from '../../../gguf/writer.js';
import type { ProgressEvent } from '../protocol.js';
import { buildWindows, type TokenWindows } from './windows.js';

export interface TrainLoopOptions extends SessionOptions {
  samples: readonly string[];
  evalSamples: readonly string[];
  epochs: number;
  seed: number;
  /** Where to save the trained weights (metadata not yet restored); skipped when stopped. */
  savePath: string;
  onProgress(e: ProgressEvent): void;
  log(line: string): void;
  /** Polled between steps; true ends training without saving. */
  shouldStop(): boolean;
}

export interface TrainLoopResult {
  steps: number;
  /** Train loss of each step, in order. */
  losses: number[];
  stopped: boolean;
  /**
   * Training tokens per wall-clock second from the end of the first step to the end of the last:
   * every per-step cost counts (window copies, progress reports, evaluation), the first step's
   * one-off graph allocation does not. Null with fewer than two steps.
   */
  tokensPerS: number | null;
}

/** llama.cpp rounds the context up to a multiple of 256 (its smallest training window). */
export const roundContext = (n: number): number => Math.ceil(n / 256) * 256;

/** mulberry32: a small seeded generator, so a seed gives the same window order everywhere. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled(n: number, next: () => number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function tokenize(api: LlamaTrainingApi, vocab: Ptr, text: string): Int32Array {
  const bytes = Buffer.from(text, 'utf8');
  // Special tokens are parsed because the chat template renders EOS/BOS as their text.
  let out = new Int32Array(bytes.length + 8);
  let n = api.llama_tokenize(vocab, bytes, bytes.length, out, out.length, true, true);
  if (n < 0) {
    out = new Int32Array(-n);
    n = api.llama_tokenize(vocab, bytes, bytes.length, out, out.length, true, true);
  }
  if (n < 0) throw new HearthError('internal', 'tokenization failed');
  let tokens = out.subarray(0, n);
  // A template that writes "<s>" itself plus add_special would start with two BOS.
  const bos = api.llama_vocab_bos(vocab);
  if (tokens.length >= 2 && tokens[0] === bos && tokens[1] === bos) tokens = tokens.subarray(1);
  return tokens;
}

/** A dataset whose token and label tensors are views of llama.cpp's memory, written in place. */
export interface StepDataset {
  handle: Ptr;
  data: Int32Array;
  labels: Int32Array;
}

export function createDataset(api: LlamaTrainingApi, n: number, ndata: number): StepDataset {
  const handle = api.ggml_opt_dataset_init(GGML_TYPE.I32, GGML_TYPE.I32, n, n, ndata, 1);
  if (handle === null) throw new HearthError('internal', 'ggml_opt_dataset_init failed');
  const view = (tensor: Ptr): Int32Array => new Int32Array(koffi.view(api.ggml_get_data(tensor), n * ndata * 4));
  return { handle, data: view(api.ggml_opt_dataset_data(handle)), labels: view(api.ggml_opt_dataset_labels(handle)) };
}

export function meanLoss(api: LlamaTrainingApi, result: Ptr): number {
  const loss = new Float64Array(1);
  const unc = new Float64Array(1);
  api.ggml_opt_result_loss(result, loss, unc);
  return loss[0] as number;
}

export interface SessionOptions {
  /** An all-F32 GGUF (see upcast.ts). */
  modelPath: string;
  learningRate: number;
  contextSize: number;
  threads: number;
  gpu: boolean;
  /** Only 2-D weights (what a LoRA adapter can express) or every tensor llama.cpp trains. */
  trainable: 'matrices' | 'all';
}

/** A model and context ready for llama_opt_epoch; dispose() frees them in reverse order. */
export interface TrainingSession {
  model: Ptr;
  ctx: Ptr;
  vocab: Ptr;
  /** Tokens per window: the context size as llama.cpp rounded it. */
  n: number;
  tokenize(text: string): Int32Array;
  /** Registers something to free with the session, before its context and model. */
  onDispose(fn: () => void): void;
  dispose(): void;
}

/** Loads the model and sets up training the way both the worker and the benchmark need it. */
export function openTrainingSession(api: LlamaTrainingApi, o: SessionOptions): TrainingSession {
  const disposers: (() => void)[] = [];
  const dispose = (): void => {
    for (const d of disposers.splice(0).reverse()) d();
  };
  try {
    const mp = api.llama_model_default_params();
    mp.load_mode = LLAMA_LOAD_MODE_NONE; // training writes the weights: no read-only mmap
    mp.use_extra_bufts = false; // repacked layouts are for inference only
    mp.n_gpu_layers = o.gpu ? -1 : 0;
    const model = api.llama_model_load_from_file(o.modelPath, mp);
    if (model === null) throw new HearthError('internal', `llama.cpp could not load ${o.modelPath}`, { code: 'model_load_failed' });
    disposers.push(() => api.llama_model_free(model));

    const cp = api.llama_context_default_params();
    const nCtx = roundContext(o.contextSize);
    // One window is one physical batch, so one llama_opt_epoch step is one optimizer step.
    cp.n_ctx = cp.n_batch = cp.n_ubatch = nCtx;
    cp.n_threads = cp.n_threads_batch = o.threads;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.type_k = cp.type_v = GGML_TYPE.F32; // OUT_PROD, in the backward pass, has no F16 support
    cp.no_perf = true;
    const ctx = api.llama_init_from_model(model, cp);
    if (ctx === null) throw new HearthError('internal', 'llama.cpp could not create a context', { code: 'context_failed' });
    disposers.push(() => api.llama_free(ctx));
    const vocab = api.llama_model_get_vocab(model);

    // The training path never sets the CPU backend's thread count; one decode does, and without
    // it training ran 25–400× slower.
    const one = Int32Array.of(api.llama_vocab_bos(vocab));
    if (api.llama_decode(ctx, api.llama_batch_get_one(one, 1)) !== 0) throw new HearthError('internal', 'warm-up decode failed');
    api.llama_memory_clear(api.llama_get_memory(ctx), true);

    // Both callbacks are stored by llama.cpp and called during every step, so they stay
    // registered until the context is freed.
    const optParams: OptimizerParams = api.ggml_opt_get_default_optimizer_params(null);
    optParams.adamw.alpha = o.learningRate;
    optParams.sgd.alpha = o.learningRate;
    const getOptPars = koffi.register(() => optParams, koffi.pointer(GgmlOptGetOptimizerParams));
    const filter = koffi.register(
      (tensor: Ptr) => o.trainable === 'all' || api.ggml_n_dims(tensor) >= 2,
      koffi.pointer(LlamaOptParamFilter),
    );
    // Disposers run last-in first-out; at the front, these run after the context is freed.
    disposers.unshift(() => {
      koffi.unregister(getOptPars);
      koffi.unregister(filter);
    });
    api.llama_opt_init(ctx, model, {
      n_ctx_train: 0,
      param_filter: filter,
      param_filter_ud: null,
      get_opt_pars: getOptPars,
      get_opt_pars_ud: null,
      optimizer_type: GGML_OPT_OPTIMIZER_TYPE_ADAMW,
    });
    return {
      model,
      ctx,
      vocab,
      n: api.llama_n_ctx(ctx),
      tokenize: (text) => tokenize(api, vocab, text),
      onDispose: (fn) => disposers.push(fn),
      dispose,
    };
  } catch (err) {
    dispose();
    throw err;
  }
}

export async function runTrainLoop(api: LlamaTrainingApi, o: TrainLoopOptions): Promise<TrainLoopResult> {
  const session = openTrainingSession(api, o);
  try {
    const { ctx, model, n } = session;
    const eos = api.llama_vocab_eos(session.vocab);
    const train = buildWindows(o.samples.map(session.tokenize), n, eos);
    const evalWindows: TokenWindows | undefined =
      o.evalSamples.length > 0 ? buildWindows(o.evalSamples.map(session.tokenize), n, eos) : undefined;
    o.log(`training ${train.count} window(s) of ${n} tokens × ${o.epochs} epoch(s), ${o.threads} thread(s)`);

    const step = createDataset(api, n, 1);
    session.onDispose(() => api.ggml_opt_dataset_free(step.handle));
    const result = api.ggml_opt_result_init();
    session.onDispose(() => api.ggml_opt_result_free(result));
    let evalSet: StepDataset | undefined;
    if (evalWindows !== undefined) {
      const ds = createDataset(api, n, evalWindows.count);
      session.onDispose(() => api.ggml_opt_dataset_free(ds.handle));
      ds.data.set(evalWindows.data);
      ds.labels.set(evalWindows.labels);
      evalSet = ds;
    }

    const totalSteps = o.epochs * train.count;
    const losses: number[] = [];
    const next = rng(o.seed);
    const loopStart = performance.now();
    let firstStepEnd = 0;
    let stopped = false;
    for (let epoch = 1; epoch <= o.epochs && !stopped; epoch++) {
      const order = shuffled(train.count, next);
      for (let i = 0; i < order.length; i++) {
        const w = order[i] as number;
        step.data.set(train.data.subarray(w * n, (w + 1) * n));
        step.labels.set(train.labels.subarray(w * n, (w + 1) * n));
        api.llama_opt_epoch(ctx, step.handle, result, null, 1, null, null);
        const loss = meanLoss(api, result);
        api.ggml_opt_result_reset(result);
        if (!Number.isFinite(loss)) throw new HearthError('internal', `training diverged (loss ${loss}); lower the learning rate`, { code: 'diverged' });
        losses.push(loss);

        let evalLoss: number | null = null;
        if (evalSet !== undefined && i === order.length - 1) {
          api.llama_opt_epoch(ctx, evalSet.handle, null, result, 0, null, null);
          evalLoss = meanLoss(api, result);
          api.ggml_opt_result_reset(result);
        }
        const done = losses.length;
        const now = performance.now();
        if (done === 1) firstStepEnd = now;
        // Wall time, so the rate and the ETA hold what the operator waits for.
        const secPerStep = (now - loopStart) / 1000 / done;
        o.onProgress({
          type: 'progress',
          step: done,
          totalSteps,
          epoch,
          loss,
          evalLoss,
          tokensPerS: n / secPerStep,
          etaS: (totalSteps - done) * secPerStep,
        });
        await yieldToEventLoop();
        if (o.shouldStop()) {
          stopped = true;
          break;
        }
      }
    }
    const lastStepEnd = performance.now();
    if (!stopped) api.llama_model_save_to_file(model, o.savePath);
    const timed = losses.length - 1;
    return { steps: losses.length, losses, stopped, tokensPerS: timed > 0 ? (timed * n) / ((lastStepEnd - firstStepEnd) / 1000) : null };
  } finally {
    session.dispose();
  }
}
