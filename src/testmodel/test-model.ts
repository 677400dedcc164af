// A tiny, deterministic llama-architecture GGUF model for tests and benchmarks. Its weights are
// random, so its text is nonsense, but it exercises the same loading, tokenizing, chat-template,
// embedding, LoRA and training paths as a real model in well under a second.

import { writeGguf, type GgufContents, type GgufMetadataEntry, type GgufTensor } from '../gguf/writer.js';
import { fillNormal, streamFor } from './random.js';
import { BOS_ID, BYTE_BASE, buildVocabulary, EOS_ID, UNK_ID, type Vocabulary } from './vocab.js';

export interface TestModelOptions {
  /** Seed of the weights; the same seed and options give a byte-identical file. */
  seed?: number;
  nEmbd?: number;
  nLayer?: number;
  nHead?: number;
  /** Defaults to nHead (no grouped-query attention). */
  nHeadKv?: number;
  nFf?: number;
  contextLength?: number;
  /** Pieces added to the end of the vocabulary (see buildVocabulary); none by default. */
  extraPieces?: string[];
  /** The GGUF's Jinja chat template (tokenizer.chat_template); TEST_CHAT_TEMPLATE by default. */
  chatTemplate?: string;
}

export type ResolvedTestModelOptions = Required<TestModelOptions>;

export interface TestModel extends GgufContents {
  options: ResolvedTestModelOptions;
  vocabulary: Vocabulary;
  metadata: GgufMetadataEntry[];
  tensors: GgufTensor[];
}

export const TEST_MODEL_NAME = 'hearth-test-model';

/**
 * Plain-text turn markers only: node-llama-cpp tokenizes the template's own text with special
 * tokens enabled, so a literal "</s>" there would become EOS. EOS is emitted through the
 * `eos_token` variable at the end of each assistant turn, which is what fine-tuning teaches.
 */
export const TEST_CHAT_TEMPLATE = [
  "{%- for message in messages -%}",
  "{%- if message['role'] == 'system' -%}",
  "{{- '### System:\\n' + message['content'] + '\\n\\n' -}}",
  "{%- elif message['role'] == 'user' -%}",
  "{{- '### User:\\n' + message['content'] + '\\n\\n' -}}",
  "{%- elif message['role'] == 'assistant' -%}",
  "{{- '### Assistant:\\n' + message['content'] + eos_token + '\\n\\n' -}}",
  "{%- endif -%}",
  "{%- endfor -%}",
  "{%- if add_generation_prompt -%}",
  "{{- '### Assistant:\\n' -}}",
  "{%- endif -%}",
].join('\n');

// Initial scales, chosen by measuring greedy output over several seeds: with every matrix at
// std 0.02 the attention average dominates the residual stream and greedy decoding soon repeats
// one token forever; a larger token embedding keeps the current token in charge and the text varied.
const WEIGHT_STD = 0.02;
const TOKEN_EMBD_STD = 0.1;
/**
 * Output rows of control and byte tokens are shrunk so a random model's greedy text is made of
 * printable pieces and does not stop at an early EOS; the rows stay non-zero so training can
 * still raise them (e.g. to teach EOS).
 */
const SPECIAL_OUTPUT_ROW_SCALE = 0.1;
/**
 * Each token's output row is pushed away from its own embedding direction, so the random model
 * does not predict the token it just read (the "f f f f" fixed points of greedy decoding).
 */
const SELF_REPEAT_PENALTY = 0.1;

export function resolveTestModelOptions(opts: TestModelOptions = {}): ResolvedTestModelOptions {
  const nHead = opts.nHead ?? 4;
  const o: ResolvedTestModelOptions = {
    seed: opts.seed ?? 1,
    nEmbd: opts.nEmbd ?? 128,
    nLayer: opts.nLayer ?? 2,
    nHead,
    nHeadKv: opts.nHeadKv ?? nHead,
    nFf: opts.nFf ?? 256,
    contextLength: opts.contextLength ?? 2048,
    extraPieces: opts.extraPieces ?? [],
    chatTemplate: opts.chatTemplate ?? TEST_CHAT_TEMPLATE,
  };
  for (const [k, v] of Object.entries(o)) {
    if (typeof v !== 'number') continue;
    const min = k === 'seed' ? 0 : 1;
    if (!Number.isSafeInteger(v) || v < min || v > 0xffffffff) throw new RangeError(`${k} must be an integer ≥ ${min}, got ${v}`);
  }
  if (o.nEmbd % o.nHead !== 0) throw new RangeError('nEmbd must be a multiple of nHead');
  if ((o.nEmbd / o.nHead) % 2 !== 0) throw new RangeError('the head size (nEmbd / nHead) must be even for RoPE');
  if (o.nHead % o.nHeadKv !== 0) throw new RangeError('nHead must be a multiple of nHeadKv');
  return o;
}

/** Layer tensor shapes (ne0 first), shared with the LoRA generator so both always agree. */
export function testModelTensorShapes(opts: TestModelOptions = {}): Map<string, readonly number[]> {
  const o = resolveTestModelOptions(opts);
  const nVocab = buildVocabulary(o.extraPieces).tokens.length;
  const nEmbdKv = (o.nEmbd / o.nHead) * o.nHeadKv;
  const shapes = new Map<string, readonly number[]>();
  shapes.set('token_embd.weight', [o.nEmbd, nVocab]);
  for (let i = 0; i < o.nLayer; i++) {
    const p = `blk.${i}.`;
    shapes.set(`${p}attn_norm.weight`, [o.nEmbd]);
    shapes.set(`${p}attn_q.weight`, [o.nEmbd, o.nEmbd]);
    shapes.set(`${p}attn_k.weight`, [o.nEmbd, nEmbdKv]);
    shapes.set(`${p}attn_v.weight`, [o.nEmbd, nEmbdKv]);
    shapes.set(`${p}attn_output.weight`, [o.nEmbd, o.nEmbd]);
    shapes.set(`${p}ffn_norm.weight`, [o.nEmbd]);
    shapes.set(`${p}ffn_gate.weight`, [o.nEmbd, o.nFf]);
    shapes.set(`${p}ffn_up.weight`, [o.nEmbd, o.nFf]);
    shapes.set(`${p}ffn_down.weight`, [o.nFf, o.nEmbd]);
  }
  shapes.set('output_norm.weight', [o.nEmbd]);
  // A separate output matrix: llama.cpp's training does not update a tied token_embd.
  shapes.set('output.weight', [o.nEmbd, nVocab]);
  return shapes;
}

function tensorData(name: string, dims: readonly number[], seed: number, tokenEmbd: Float32Array | undefined): Float32Array {
  const size = dims.reduce((a, b) => a * b, 1);
  // RMS-norm gains start at 1, as in a freshly initialised llama.
  if (name.endsWith('_norm.weight')) return new Float32Array(size).fill(1);
  const std = name === 'token_embd.weight' ? TOKEN_EMBD_STD : WEIGHT_STD;
  const data = fillNormal(new Float32Array(size), std, streamFor(seed, name));
  if (name === 'output.weight') {
    if (tokenEmbd === undefined) throw new Error('token_embd.weight must be generated before output.weight');
    shapeOutputRows(data, tokenEmbd, dims[0] as number);
  }
  return data;
}

function shapeOutputRows(output: Float32Array, tokenEmbd: Float32Array, nEmbd: number): void {
  const nVocab = output.length / nEmbd;
  for (let tok = 0; tok < nVocab; tok++) {
    const row = tok * nEmbd;
    if (tok < BYTE_BASE + 256) {
      for (let j = row; j < row + nEmbd; j++) output[j] = (output[j] as number) * SPECIAL_OUTPUT_ROW_SCALE;
    }
    let norm = 0;
    for (let j = row; j < row + nEmbd; j++) norm += (tokenEmbd[j] as number) ** 2;
    const k = SELF_REPEAT_PENALTY / Math.sqrt(norm);
    for (let j = row; j < row + nEmbd; j++) output[j] = (output[j] as number) - k * (tokenEmbd[j] as number);
  }
}

function modelMetadata(o: ResolvedTestModelOptions, v: Vocabulary): GgufMetadataEntry[] {
  const headDim = o.nEmbd / o.nHead;
  return [
    { key: 'general.architecture', type: 'string', value: 'llama' },
    { key: 'general.name', type: 'string', value: TEST_MODEL_NAME },
    { key: 'general.alignment', type: 'uint32', value: 32 },
    { key: 'general.file_type', type: 'uint32', value: 0 }, // ALL_F32
    { key: 'llama.vocab_size', type: 'uint32', value: v.tokens.length },
    { key: 'llama.context_length', type: 'uint32', value: o.contextLength },
    { key: 'llama.embedding_length', type: 'uint32', value: o.nEmbd },
    { key: 'llama.block_count', type: 'uint32', value: o.nLayer },
    { key: 'llama.feed_forward_length', type: 'uint32', value: o.nFf },
    { key: 'llama.attention.head_count', type: 'uint32', value: o.nHead },
    { key: 'llama.attention.head_count_kv', type: 'uint32', value: o.nHeadKv },
    { key: 'llama.attention.layer_norm_rms_epsilon', type: 'float32', value: 1e-5 },
    { key: 'llama.rope.dimension_count', type: 'uint32', value: headDim },
    { key: 'llama.rope.freq_base', type: 'float32', value: 10000 },
    { key: 'tokenizer.ggml.model', type: 'string', value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: v.tokens },
    { key: 'tokenizer.ggml.scores', type: 'array', itemType: 'float32', value: v.scores },
    { key: 'tokenizer.ggml.token_type', type: 'array', itemType: 'int32', value: v.types },
    { key: 'tokenizer.ggml.bos_token_id', type: 'uint32', value: BOS_ID },
    { key: 'tokenizer.ggml.eos_token_id', type: 'uint32', value: EOS_ID },
    { key: 'tokenizer.ggml.unknown_token_id', type: 'uint32', value: UNK_ID },
    { key: 'tokenizer.ggml.add_bos_token', type: 'bool', value: true },
    { key: 'tokenizer.ggml.add_eos_token', type: 'bool', value: false },
    // No implicit leading "▁": with one, every separately tokenized piece that starts with a
    // newline (as node-llama-cpp tokenizes chat-template text) gained a stray space, and
    // detokenizing strips a leading space, so text did not always round-trip.
    { key: 'tokenizer.ggml.add_space_prefix', type: 'bool', value: false },
    { key: 'tokenizer.chat_template', type: 'string', value: o.chatTemplate },
  ];
}

/** The GGUF's parts (metadata and tensors) of the test model; pure and deterministic. */
export function generateTestModel(opts: TestModelOptions = {}): TestModel {
  const options = resolveTestModelOptions(opts);
  const vocabulary = buildVocabulary(options.extraPieces);
  const tensors: GgufTensor[] = [];
  let tokenEmbd: Float32Array | undefined;
  // The shape map lists token_embd.weight first, before output.weight needs it.
  for (const [name, dims] of testModelTensorShapes(options)) {
    const data = tensorData(name, dims, options.seed, tokenEmbd);
    if (name === 'token_embd.weight') tokenEmbd = data;
    tensors.push({ name, dims, type: 'F32', data });
  }
  return { options, vocabulary, metadata: modelMetadata(options, vocabulary), tensors };
}

/** Writes the test model to `path` (atomically) and returns the file size in bytes. */
export async function writeTestModel(path: string, opts: TestModelOptions = {}): Promise<number> {
  return writeGguf(path, generateTestModel(opts));
}
