// llama.cpp's training updates F32 tensors only and silently skips every other type, so a base
// stored in F16 or BF16 is first rewritten with those tensors as F32. Quantized tensors cannot be
// turned back into trainable weights and are refused.

import { float16BitsToFloat32 } from '../../../gguf/f16.js';
import { withGguf, type GgufFile, type GgufTensorInfo } from '../../../gguf/reader.js';
import { GGML_TYPE, writeGguf, type GgufMetadataEntry, type GgufTensor } from '../../../gguf/writer.js';
import { HearthError } from '../../../errors.js';

/** Integer tensors (e.g. position ids) are not weights and stay as they are. */
const PASS_THROUGH = new Set<number>([GGML_TYPE.F32, 24, 25, 26, 27, 28]);

const isHalf = (t: GgufTensorInfo): boolean => t.ggmlType === GGML_TYPE.F16 || t.ggmlType === GGML_TYPE.BF16;

function toF32(t: GgufTensorInfo, bytes: Uint8Array): Float32Array {
  const n = bytes.byteLength / 2;
  const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
  const out = new Float32Array(n);
  if (t.ggmlType === GGML_TYPE.F16) {
    for (let i = 0; i < n; i++) out[i] = float16BitsToFloat32(halves[i] as number);
  } else {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) bits[i] = (halves[i] as number) << 16; // BF16 is the top half of an F32
  }
  return out;
}

/** Whether the file needs an F32 copy before training; throws for quantized weights. */
export function needsUpcast(file: GgufFile): boolean {
  let needed = false;
  for (const t of file.tensors) {
    if (isHalf(t)) needed = true;
    else if (!PASS_THROUGH.has(t.ggmlType)) {
      throw new HearthError('invalid_request', `tensor ${t.name} is quantized (ggml type ${t.ggmlType}); only F32, F16 and BF16 models can be fine-tuned`, {
        code: 'quantized_base',
      });
    }
  }
  return needed;
}

/** Writes an all-F32 copy of `srcPath` to `destPath`. */
export async function writeF32Copy(srcPath: string, destPath: string): Promise<void> {
  await withGguf(srcPath, async (src) => {
    const tensors: GgufTensor[] = [];
    for (const t of src.tensors) {
      const bytes = await src.readTensorBytes(t);
      tensors.push(
        isHalf(t)
          ? { name: t.name, dims: t.dims, type: 'F32', data: toF32(t, bytes) }
          : { name: t.name, dims: t.dims, type: 'raw', ggmlType: t.ggmlType, data: bytes },
      );
    }
    const metadata: GgufMetadataEntry[] = src.metadata.map((m) =>
      m.key === 'general.file_type' ? { key: m.key, type: 'uint32', value: 0 /* LLAMA_FTYPE_ALL_F32 */ } : m,
    );
    await writeGguf(destPath, { metadata, tensors });
  });
}
