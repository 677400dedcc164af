// koffi bindings to the part of llama.cpp's C API that training needs, in the shared libraries
// node-llama-cpp ships (see bins.ts). The struct layouts below are those of the llama.cpp
// release inside node-llama-cpp 3.22.1 (include/llama.h, ggml/include/ggml-opt.h); a struct
// passed by value with a wrong layout corrupts every field after the mismatch without any error,
// so test/unit/llamacpp-ffi.test.ts pins their sizes and the package version together.
// Only plain C types are used; every handle is an opaque pointer (a BigInt in koffi 3, 0n never
// reaching native code where llama.cpp would dereference it).

import { readdirSync } from 'node:fs';
import { join } from 'node:path';

import koffi, { type LibraryHandle } from 'koffi';

import type { LlamaBins } from './bins.js';

export type Ptr = bigint;

// enum ggml_type values are GGML_TYPE in gguf/writer.ts.
export const LLAMA_LOAD_MODE_NONE = 0; // weights in ordinary writable buffers, not mmap'ed
export const LLAMA_FLASH_ATTN_TYPE_DISABLED = 0; // FLASH_ATTN_EXT has no backward pass
export const GGML_OPT_OPTIMIZER_TYPE_ADAMW = 0;

// Field order and types copied from the headers; enums are C ints.
export const LlamaModelParams = koffi.struct('llama_model_params', {
  devices: 'void *',
  tensor_buft_overrides: 'void *',
  n_gpu_layers: 'int32_t',
  split_mode: 'int',
  load_mode: 'int',
  lazy_mode: 'int',
  main_gpu: 'int32_t',
  tensor_split: 'void *',
  progress_callback: 'void *',
  progress_callback_user_data: 'void *',
  kv_overrides: 'void *',
  vocab_only: 'bool',
  check_tensors: 'bool',
  use_extra_bufts: 'bool',
  no_host: 'bool',
  no_alloc: 'bool',
  load_mtp: 'bool',
});

export const LlamaContextParams = koffi.struct('llama_context_params', {
  n_ctx: 'uint32_t',
  n_batch: 'uint32_t',
  n_ubatch: 'uint32_t',
  n_seq_max: 'uint32_t',
  n_rs_seq: 'uint32_t',
  n_outputs_max: 'uint32_t',
  n_outputs_max_per_seq: 'uint32_t',
  n_threads: 'int32_t',
  n_threads_batch: 'int32_t',
  ctx_type: 'int',
  rope_scaling_type: 'int',
  pooling_type: 'int',
  attention_type: 'int',
  flash_attn_type: 'int',
  rope_freq_base: 'float',
  rope_freq_scale: 'float',
  yarn_ext_factor: 'float',
  yarn_attn_factor: 'float',
  yarn_beta_fast: 'float',
  yarn_beta_slow: 'float',
  yarn_orig_ctx: 'uint32_t',
  defrag_thold: 'float',
  cb_eval: 'void *',
  cb_eval_user_data: 'void *',
  type_k: 'int',
  type_v: 'int',
  abort_callback: 'void *',
  abort_callback_data: 'void *',
  embeddings: 'bool',
  offload_kqv: 'bool',
  no_perf: 'bool',
  op_offload: 'bool',
  swa_full: 'bool',
  kv_unified: 'bool',
  samplers: 'void *',
  n_samplers: 'size_t',
  ctx_other: 'void *',
});

export const GgmlOptOptimizerParams = koffi.struct('ggml_opt_optimizer_params', {
  adamw: koffi.struct({ alpha: 'float', beta1: 'float', beta2: 'float', eps: 'float', wd: 'float' }),
  sgd: koffi.struct({ alpha: 'float', wd: 'float' }),
});

export const LlamaOptParams = koffi.struct('llama_opt_params', {
  n_ctx_train: 'uint32_t',
  param_filter: 'void *',
  param_filter_ud: 'void *',
  get_opt_pars: 'void *',
  get_opt_pars_ud: 'void *',
  optimizer_type: 'int',
});

export const LlamaBatch = koffi.struct('llama_batch', {
  n_tokens: 'int32_t',
  token: 'void *',
  embd: 'void *',
  pos: 'void *',
  n_seq_id: 'void *',
  seq_id: 'void *',
  logits: 'void *',
});

export const LlamaOptParamFilter = koffi.proto('bool llama_opt_param_filter(void *tensor, void *userdata)');
export const GgmlLogCallback = koffi.proto('void ggml_log_callback(int level, const char *text, void *user_data)');
export const GgmlOptGetOptimizerParams = koffi.proto('ggml_opt_optimizer_params ggml_opt_get_optimizer_params(void *userdata)');

export interface OptimizerParams {
  adamw: { alpha: number; beta1: number; beta2: number; eps: number; wd: number };
  sgd: { alpha: number; wd: number };
}

export type ModelParams = Record<string, unknown> & { n_gpu_layers: number; load_mode: number; use_extra_bufts: boolean };
export type ContextParams = Record<string, unknown> & {
  n_ctx: number;
  n_batch: number;
  n_ubatch: number;
  n_threads: number;
  n_threads_batch: number;
  flash_attn_type: number;
  type_k: number;
  type_v: number;
  no_perf: boolean;
};

/** The functions, typed as the trainer uses them. Pointers are BigInts; null pointers are null. */
export interface LlamaTrainingApi {
  ggml_backend_load_all_from_path(dir: string): void;
  llama_backend_init(): void;
  llama_log_set(callback: Ptr | null, userData: null): void;
  llama_model_default_params(): ModelParams;
  llama_context_default_params(): ContextParams;
  llama_model_load_from_file(path: string, params: ModelParams): Ptr | null;
  llama_model_free(model: Ptr): void;
  llama_model_save_to_file(model: Ptr, path: string): void;
  llama_init_from_model(model: Ptr, params: ContextParams): Ptr | null;
  llama_free(ctx: Ptr): void;
  llama_n_ctx(ctx: Ptr): number;
  llama_model_get_vocab(model: Ptr): Ptr;
  llama_vocab_bos(vocab: Ptr): number;
  llama_vocab_eos(vocab: Ptr): number;
  llama_vocab_n_tokens(vocab: Ptr): number;
  llama_tokenize(vocab: Ptr, text: Buffer, textLen: number, tokens: Int32Array, nMax: number, addSpecial: boolean, parseSpecial: boolean): number;
  llama_batch_get_one(tokens: Int32Array, n: number): Record<string, unknown>;
  llama_decode(ctx: Ptr, batch: Record<string, unknown>): number;
  llama_get_memory(ctx: Ptr): Ptr;
  llama_memory_clear(mem: Ptr, data: boolean): void;
  llama_opt_init(ctx: Ptr, model: Ptr, params: Record<string, unknown>): void;
  llama_opt_epoch(ctx: Ptr, dataset: Ptr, resultTrain: Ptr | null, resultEval: Ptr | null, idataSplit: number, cbTrain: null, cbEval: null): void;
  ggml_opt_dataset_init(typeData: number, typeLabel: number, neDatapoint: number, neLabel: number, ndata: number, ndataShard: number): Ptr | null;
  ggml_opt_dataset_free(dataset: Ptr): void;
  ggml_opt_dataset_data(dataset: Ptr): Ptr;
  ggml_opt_dataset_labels(dataset: Ptr): Ptr;
  ggml_opt_result_init(): Ptr;
  ggml_opt_result_free(result: Ptr): void;
  ggml_opt_result_reset(result: Ptr): void;
  ggml_opt_result_loss(result: Ptr, loss: Float64Array, unc: Float64Array): void;
  ggml_opt_get_default_optimizer_params(ud: null): OptimizerParams;
  ggml_get_data(tensor: Ptr): Ptr;
  ggml_get_name(tensor: Ptr): string;
  ggml_n_dims(tensor: Ptr): number;
  ggml_nbytes(tensor: Ptr): number;
}

const LLAMA_SIGNATURES = [
  'void llama_backend_init()',
  'void llama_log_set(void *log_callback, void *user_data)',
  'llama_model_params llama_model_default_params()',
  'llama_context_params llama_context_default_params()',
  'void *llama_model_load_from_file(const char *path, llama_model_params params)',
  'void llama_model_free(void *model)',
  'void llama_model_save_to_file(void *model, const char *path)',
  'void *llama_init_from_model(void *model, llama_context_params params)',
  'void llama_free(void *ctx)',
  'uint32_t llama_n_ctx(void *ctx)',
  'void *llama_model_get_vocab(void *model)',
  'int32_t llama_vocab_bos(void *vocab)',
  'int32_t llama_vocab_eos(void *vocab)',
  'int32_t llama_vocab_n_tokens(void *vocab)',
  'int32_t llama_tokenize(void *vocab, const uint8_t *text, int32_t text_len, _Out_ int32_t *tokens, int32_t n_tokens_max, bool add_special, bool parse_special)',
  'llama_batch llama_batch_get_one(int32_t *tokens, int32_t n_tokens)',
  'int32_t llama_decode(void *ctx, llama_batch batch)',
  'void *llama_get_memory(void *ctx)',
  'void llama_memory_clear(void *mem, bool data)',
  'void llama_opt_init(void *ctx, void *model, llama_opt_params params)',
  'void llama_opt_epoch(void *ctx, void *dataset, void *result_train, void *result_eval, int64_t idata_split, void *callback_train, void *callback_eval)',
];

const GGML_BASE_SIGNATURES = [
  'void *ggml_opt_dataset_init(int type_data, int type_label, int64_t ne_datapoint, int64_t ne_label, int64_t ndata, int64_t ndata_shard)',
  'void ggml_opt_dataset_free(void *dataset)',
  'void *ggml_opt_dataset_data(void *dataset)',
  'void *ggml_opt_dataset_labels(void *dataset)',
  'void *ggml_opt_result_init()',
  'void ggml_opt_result_free(void *result)',
  'void ggml_opt_result_reset(void *result)',
  'void ggml_opt_result_loss(void *result, _Out_ double *loss, _Out_ double *unc)',
  'ggml_opt_optimizer_params ggml_opt_get_default_optimizer_params(void *userdata)',
  'void *ggml_get_data(void *tensor)',
  'const char *ggml_get_name(void *tensor)',
  'int ggml_n_dims(void *tensor)',
  'size_t ggml_nbytes(void *tensor)',
];

const GGML_SIGNATURES = ['void ggml_backend_load_all_from_path(const char *dir_path)'];

function bind(lib: LibraryHandle, signatures: readonly string[], into: Record<string, unknown>): void {
  for (const sig of signatures) {
    const fn = lib.func(sig);
    into[fn.info.name] = fn;
  }
}

/**
 * Loads the libraries and binds the functions. The ggml backends (CPU variants, CUDA, …) are
 * plugins that llama.cpp finds only after ggml_backend_load_all_from_path(bins dir); without it,
 * model loading fails with "no backends are loaded", so this does it, once per process and
 * binaries folder (loading the plugins twice would register every backend twice).
 */
const loaded = new Map<string, LlamaTrainingApi>();

export function loadLlamaTrainingApi(bins: LlamaBins): LlamaTrainingApi {
  const known = loaded.get(bins.dir);
  if (known !== undefined) return known;
  // Runtime libraries of another package (CUDA's, in …-cuda-ext) are not on the plugins' RUNPATH;
  // once loaded, the dynamic linker finds them by soname. A library that fails to load here
  // makes its backend plugin fail to load, which llama.cpp reports, so failures are not fatal.
  for (const dir of bins.extDirs) {
    for (const name of readdirSync(dir).filter((f) => /\.so(\.|$)/.test(f)).sort()) {
      try {
        koffi.load(join(dir, name));
      } catch {
        // reported by llama.cpp when the backend that needs it is loaded
      }
    }
  }
  const ggmlBase = koffi.load(bins.ggmlBaseLib);
  const llama = koffi.load(bins.llamaLib);
  const api: Record<string, unknown> = {};
  bind(llama, LLAMA_SIGNATURES, api);
  bind(ggmlBase, GGML_BASE_SIGNATURES, api);
  // ggml_backend_load_all_from_path lives in libggml (the backend registry), which libllama links.
  bind(llama, GGML_SIGNATURES, api);
  const typed = api as unknown as LlamaTrainingApi;
  typed.ggml_backend_load_all_from_path(bins.dir);
  typed.llama_backend_init();
  loaded.set(bins.dir, typed);
  return typed;
}

// enum ggml_log_level: CONT continues the previous message at its level.
const GGML_LOG_LEVEL_WARN = 3;
const GGML_LOG_LEVEL_CONT = 5;

/**
 * Routes llama.cpp's log to `write`, keeping warnings and errors only: at its default level it
 * prints every tensor and graph buffer, hundreds of lines per run. The callback stays registered
 * for the life of the process, as llama.cpp may log at any time. koffi runs a callback made on
 * another thread only when the main thread's event loop is free, which it is not during a native
 * call; llama.cpp logs from the calling thread, so that does not arise here.
 */
export function filterLlamaLog(api: LlamaTrainingApi, write: (text: string) => void): void {
  let lastLevel = GGML_LOG_LEVEL_WARN;
  const cb = koffi.register((level: number, text: string | null) => {
    if (level !== GGML_LOG_LEVEL_CONT) lastLevel = level;
    if (lastLevel >= GGML_LOG_LEVEL_WARN && text !== null) write(text);
  }, koffi.pointer(GgmlLogCallback));
  api.llama_log_set(cb, null);
}
