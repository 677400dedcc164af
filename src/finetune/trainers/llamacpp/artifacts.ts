// Turning the weights llama.cpp saved after training into Hearth's artifacts.
//
// llama_model_save_to_file writes the trained tensors faithfully but not the metadata: it drops
// tokenizer.chat_template, rewrites context_length to the training context, and writes some keys
// with meaningless values. So the full model takes its tensors from that file and all of its
// metadata from the base it was trained from.
//
// The adapter is the exact difference trained − base of each changed 2-D weight W ([n_in, n_out],
// ne0 first), factorised without loss as llama.cpp's LoRA expects (src/llama-adapter.cpp: lora_a
// [n_in, r], lora_b [r, n_out], output += scale·B(A x)): with r = min(n_in, n_out), one factor is Δ
// itself and the other the r×r identity. That is as large as the changed weights (plus
// identities), fine for the small models trained on CPU; a truncated SVD would be needed to make
// adapters of big models small.

import { metadataValue, withGguf, type GgufTensorInfo } from '../../../gguf/reader.js';
import { GGML_TYPE, writeGguf, type GgufMetadataEntry, type GgufTensor } from '../../../gguf/writer.js';

/** Writes the trained model with the base's metadata; returns the tensor count. */
export async function writeFullModel(basePath: string, trainedPath: string, destPath: string): Promise<number> {
  return withGguf(basePath, (base) =>
    withGguf(trainedPath, async (trained) => {
      const tensors: GgufTensor[] = [];
      for (const t of trained.tensors) {
        tensors.push({ name: t.name, dims: t.dims, type: 'raw', ggmlType: t.ggmlType, data: await trained.readTensorBytes(t) });
      }
      await writeGguf(destPath, { metadata: base.metadata, tensors });
      return tensors.length;
    }),
  );
}

function identity(r: number): Float32Array {
  const m = new Float32Array(r * r);
  for (let i = 0; i < r; i++) m[i * r + i] = 1;
  return m;
}

/** The LoRA pair of Δ = trained − base for one [n_in, n_out] weight, or undefined if Δ = 0. */
export function exactLoraPair(name: string, dims: readonly number[], base: Float32Array, trained: Float32Array): GgufTensor[] | undefined {
  const [nIn, nOut] = dims as [number, number];
  const delta = new Float32Array(base.length);
  let changed = false;
  for (let i = 0; i < delta.length; i++) {
    const d = (trained[i] as number) - (base[i] as number);
    delta[i] = d;
    if (d !== 0) changed = true;
  }
  if (!changed) return undefined;
  // Δ keeps W's memory layout in either role: as lora_b [n_in, n_out] (r = n_in) or as
  // lora_a [n_in, n_out] (r = n_out); the other factor is the identity.
  const [a, b] =
    nIn <= nOut
      ? [{ dims: [nIn, nIn], data: identity(nIn) }, { dims: [nIn, nOut], data: delta }]
      : [{ dims: [nIn, nOut], data: delta }, { dims: [nOut, nOut], data: identity(nOut) }];
  return [
    { name: `${name}.lora_a`, dims: a.dims, type: 'F32', data: a.data },
    { name: `${name}.lora_b`, dims: b.dims, type: 'F32', data: b.data },
  ];
}

function adaptable(t: GgufTensorInfo): boolean {
  // token_embd is looked up, not multiplied, and llama.cpp's training leaves it unchanged anyway.
  return t.ggmlType === GGML_TYPE.F32 && t.dims.length === 2 && t.name.endsWith('.weight') && t.name !== 'token_embd.weight';
}

export interface AdapterSummary {
  tensors: number;
  rank: number | 'mixed';
}

/** Writes the adapter of trained − base; returns how many weights it adapts. */
export async function writeLoraAdapter(basePath: string, trainedPath: string, destPath: string): Promise<AdapterSummary> {
  return withGguf(basePath, (base) =>
    withGguf(trainedPath, async (trained) => {
      const baseByName = new Map(base.tensors.map((t) => [t.name, t]));
      const tensors: GgufTensor[] = [];
      const ranks = new Set<number>();
      for (const t of trained.tensors) {
        const b = baseByName.get(t.name);
        if (!adaptable(t) || b === undefined || b.ggmlType !== GGML_TYPE.F32) continue;
        const pair = exactLoraPair(t.name, t.dims, await base.readTensorF32(b), await trained.readTensorF32(t));
        if (pair === undefined) continue;
        tensors.push(...pair);
        ranks.add(Math.min(t.dims[0] as number, t.dims[1] as number));
      }
      // llama.cpp scales by alpha / rank, and by 1 when alpha is 0. The factorisation is exact at
      // scale 1, so alpha = rank when all ranks agree (the usual reading everywhere), else 0.
      const rank = ranks.size === 1 ? ([...ranks][0] as number) : 'mixed';
      const architecture = metadataValue(base.metadata, 'general.architecture');
      const name = metadataValue(base.metadata, 'general.name');
      const metadata: GgufMetadataEntry[] = [
        { key: 'general.architecture', type: 'string', value: String(architecture) },
        { key: 'general.type', type: 'string', value: 'adapter' },
        { key: 'general.name', type: 'string', value: `${typeof name === 'string' ? name : 'model'} fine-tune` },
        { key: 'general.alignment', type: 'uint32', value: 32 },
        { key: 'adapter.type', type: 'string', value: 'lora' },
        { key: 'adapter.lora.alpha', type: 'float32', value: rank === 'mixed' ? 0 : rank },
      ];
      await writeGguf(destPath, { metadata, tensors });
      return { tensors: tensors.length / 2, rank };
    }),
  );
}
