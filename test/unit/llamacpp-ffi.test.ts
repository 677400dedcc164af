import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import koffi from 'koffi';

import { installedNodeLlamaCppVersion, PINNED_NODE_LLAMA_CPP_VERSION, resolveLlamaBins } from '../../src/finetune/trainers/llamacpp/bins.js';
import { GgmlOptOptimizerParams, LlamaBatch, LlamaContextParams, LlamaModelParams, LlamaOptParams, loadLlamaTrainingApi } from '../../src/finetune/trainers/llamacpp/ffi.js';

// Sizes on x86-64 / arm64 (LP64: pointers and size_t 8 bytes, int and enums 4, bool 1), derived
// from include/llama.h and ggml/include/ggml-opt.h of the llama.cpp release inside
// node-llama-cpp 3.22.1 (its llama/gitRelease.bundle), and confirmed by compiling
// `sizeof(...)` against those headers with gcc:
// - llama_model_params: 2 pointers (16) + 5 int32/enums (20, padded to 24) + 4 pointers (32)
//   + 6 bools (6, padded to 8) = 80
// - llama_context_params: 9 uint32 (36) + 5 enums (20) + 8 floats/uint32 (32) = 88;
//   2 pointers (16) = 104; type_k, type_v (8) = 112; 2 pointers (16) = 128; 6 bools (padded to 8)
//   = 136; samplers, n_samplers, ctx_other (24) = 160
// - llama_opt_params: uint32 (padded to 8) + 4 pointers (32) + enum (padded to 8) = 48
// - ggml_opt_optimizer_params: adamw 5 floats (20) + sgd 2 floats (8) = 28
// - llama_batch: int32 (padded to 8) + 6 pointers (48) = 56
const EXPECTED_SIZES = {
  llama_model_params: 80,
  llama_context_params: 160,
  llama_opt_params: 48,
  ggml_opt_optimizer_params: 28,
  llama_batch: 56,
} as const;

describe('llama.cpp training FFI', () => {
  it('is written for the pinned node-llama-cpp version', () => {
    assert.equal(PINNED_NODE_LLAMA_CPP_VERSION, '3.22.1');
    assert.equal(installedNodeLlamaCppVersion(), PINNED_NODE_LLAMA_CPP_VERSION);
  });

  it('declares structs of the sizes of the pinned release', () => {
    const actual = {
      llama_model_params: koffi.sizeof(LlamaModelParams),
      llama_context_params: koffi.sizeof(LlamaContextParams),
      llama_opt_params: koffi.sizeof(LlamaOptParams),
      ggml_opt_optimizer_params: koffi.sizeof(GgmlOptOptimizerParams),
      llama_batch: koffi.sizeof(LlamaBatch),
    };
    assert.deepEqual(actual, EXPECTED_SIZES);
  });

  it('reads llama.cpp defaults that match the headers field by field', async () => {
    // A shifted field shows up as nonsense in the defaults the library returns by value.
    const api = loadLlamaTrainingApi(await resolveLlamaBins('off'));
    const mp = api.llama_model_default_params();
    assert.equal(mp.n_gpu_layers, -1);
    assert.equal(mp.use_extra_bufts, true);
    assert.equal(mp['load_mtp'], false);
    const cp = api.llama_context_default_params();
    assert.equal(cp.n_ctx, 512);
    assert.equal(cp.n_batch, 2048);
    assert.equal(cp.n_ubatch, 512);
    assert.equal(cp.type_k, 1); // GGML_TYPE_F16
    assert.equal(cp['offload_kqv'], true);
    assert.equal(cp['samplers'], null);
    const opt = api.ggml_opt_get_default_optimizer_params(null);
    assert.equal(opt.adamw.alpha, Math.fround(0.001));
    assert.equal(opt.adamw.beta2, Math.fround(0.999));
  });
});
