// A random GGUF LoRA adapter for the test model. llama.cpp adds
// scale · (alpha / rank) · B(A x) to the output of each adapted matrix W, where (ne0 first)
// W is [n_in, n_out], lora_a is [n_in, rank] and lora_b is [rank, n_out]
// (src/llama-adapter.cpp, which also requires the names "<base tensor name>.lora_a/.lora_b").
// Unlike a freshly initialised PEFT adapter (B = 0), B is random here so the adapter visibly
// changes the model's greedy output.

import { writeGguf, type GgufContents, type GgufMetadataEntry, type GgufTensor } from '../gguf/writer.js';
import { fillNormal, streamFor } from './random.js';
import { resolveTestModelOptions, testModelTensorShapes, type TestModelOptions } from './test-model.js';

export const LORA_TARGETS = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down', 'output'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export interface TestLoraOptions extends TestModelOptions {
  /** Seed of the adapter's own weights (independent of the base `seed`). */
  adapterSeed?: number;
  rank?: number;
  alpha?: number;
  targets?: readonly LoraTarget[];
}

export type ResolvedTestLoraOptions = Required<TestLoraOptions>;

export const DEFAULT_LORA_TARGETS: readonly LoraTarget[] = ['attn_q', 'attn_v', 'ffn_up', 'output'];

/** Std of lora_b; with lora_a ~ N(0, 1/n_in) the update is about as large as the base logits. */
const LORA_B_STD = 0.05;

export function resolveTestLoraOptions(opts: TestLoraOptions = {}): ResolvedTestLoraOptions {
  const base = resolveTestModelOptions(opts);
  const o: ResolvedTestLoraOptions = {
    ...base,
    adapterSeed: opts.adapterSeed ?? 1,
    rank: opts.rank ?? 8,
    alpha: opts.alpha ?? 16,
    targets: [...new Set(opts.targets ?? DEFAULT_LORA_TARGETS)],
  };
  if (!Number.isSafeInteger(o.adapterSeed) || o.adapterSeed < 0) throw new RangeError('adapterSeed must be an integer ≥ 0');
  if (!Number.isSafeInteger(o.rank) || o.rank < 1) throw new RangeError('rank must be an integer ≥ 1');
  if (!Number.isFinite(o.alpha) || o.alpha <= 0) throw new RangeError('alpha must be a positive number');
  if (o.targets.length === 0) throw new RangeError('targets must not be empty');
  for (const t of o.targets) {
    if (!(LORA_TARGETS as readonly string[]).includes(t)) throw new RangeError(`unknown LoRA target "${t}"`);
  }
  return o;
}

function targetTensorNames(o: ResolvedTestLoraOptions): string[] {
  const names: string[] = [];
  for (const t of o.targets) {
    if (t === 'output') names.push('output.weight');
    else for (let i = 0; i < o.nLayer; i++) names.push(`blk.${i}.${t}.weight`);
  }
  return names;
}

/** The adapter's GGUF parts; pure and deterministic. */
export function generateTestLoraAdapter(opts: TestLoraOptions = {}): GgufContents & { options: ResolvedTestLoraOptions } {
  const options = resolveTestLoraOptions(opts);
  const shapes = testModelTensorShapes(options);
  const tensors: GgufTensor[] = [];
  for (const name of targetTensorNames(options)) {
    const [nIn, nOut] = shapes.get(name) as readonly [number, number];
    const aDims = [nIn, options.rank];
    const bDims = [options.rank, nOut];
    const a = fillNormal(new Float32Array(nIn * options.rank), 1 / Math.sqrt(nIn), streamFor(options.adapterSeed, `lora:${name}.lora_a`));
    const b = fillNormal(new Float32Array(options.rank * nOut), LORA_B_STD, streamFor(options.adapterSeed, `lora:${name}.lora_b`));
    tensors.push({ name: `${name}.lora_a`, dims: aDims, type: 'F32', data: a });
    tensors.push({ name: `${name}.lora_b`, dims: bDims, type: 'F32', data: b });
  }
  const metadata: GgufMetadataEntry[] = [
    { key: 'general.architecture', type: 'string', value: 'llama' },
    { key: 'general.type', type: 'string', value: 'adapter' },
    { key: 'general.name', type: 'string', value: 'hearth-test-lora' },
    { key: 'general.alignment', type: 'uint32', value: 32 },
    { key: 'adapter.type', type: 'string', value: 'lora' },
    { key: 'adapter.lora.alpha', type: 'float32', value: options.alpha },
  ];
  return { options, metadata, tensors };
}

/** Writes the adapter to `path` (atomically) and returns the file size in bytes. */
export async function writeTestLoraAdapter(path: string, opts: TestLoraOptions = {}): Promise<number> {
  return writeGguf(path, generateTestLoraAdapter(opts));
}
