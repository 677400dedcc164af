// A small, generic GGUF v3 writer (little-endian). It writes models, LoRA adapters and
// re-assembled training outputs, so it knows nothing about architectures: the caller supplies
// every metadata entry and tensor. Format reference: ggml's docs/gguf.md.

import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { endianness } from 'node:os';

import { float32ToFloat16Bits } from './f16.js';

export type GgufScalarType =
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'uint32'
  | 'int32'
  | 'float32'
  | 'bool'
  | 'uint64'
  | 'int64'
  | 'float64';

type NumericScalarType = Exclude<GgufScalarType, 'bool'>;

export type GgufMetadataEntry =
  | { key: string; type: Exclude<NumericScalarType, 'uint64' | 'int64'>; value: number }
  | { key: string; type: 'uint64' | 'int64'; value: bigint | number }
  | { key: string; type: 'bool'; value: boolean }
  | { key: string; type: 'string'; value: string }
  | { key: string; type: 'array'; itemType: 'string'; value: readonly string[] }
  | { key: string; type: 'array'; itemType: 'bool'; value: readonly boolean[] }
  | {
      key: string;
      type: 'array';
      itemType: NumericScalarType;
      value: readonly number[] | readonly bigint[] | ArrayLike<number>;
    };

/** Tensor data. `dims` are listed ne0 first (the fastest-varying dimension), as ggml does. */
export type GgufTensor =
  | { name: string; dims: readonly number[]; type: 'F32' | 'F16'; data: Float32Array }
  /** Pre-encoded bytes of any ggml type (e.g. copied from another file); `ggmlType` is the ggml_type id. */
  | { name: string; dims: readonly number[]; type: 'raw'; ggmlType: number; data: Uint8Array };

export interface GgufContents {
  metadata: readonly GgufMetadataEntry[];
  tensors: readonly GgufTensor[];
}

export const GGUF_DEFAULT_ALIGNMENT = 32;

const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
const GGUF_VERSION = 3;

const VALUE_TYPE_ID: Readonly<Record<GgufScalarType | 'string' | 'array', number>> = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
};

/** ggml tensor type ids (ggml.h's enum ggml_type) that Hearth names: in GGUF files and in llama.cpp's training API. */
export const GGML_TYPE = { F32: 0, F16: 1, I32: 26, BF16: 30 } as const;

const littleEndianHost = endianness() === 'LE';

/** Growable little-endian byte sink for the header; tensor data is never copied into it. */
class ByteSink {
  private buf = Buffer.alloc(64 * 1024);
  private len = 0;

  get length(): number {
    return this.len;
  }

  private reserve(n: number): number {
    if (this.len + n > this.buf.length) {
      const next = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
      this.buf.copy(next, 0, 0, this.len);
      this.buf = next;
    }
    const at = this.len;
    this.len += n;
    return at;
  }

  u8(v: number): void { this.buf.writeUInt8(v, this.reserve(1)); }
  i8(v: number): void { this.buf.writeInt8(v, this.reserve(1)); }
  u16(v: number): void { this.buf.writeUInt16LE(v, this.reserve(2)); }
  i16(v: number): void { this.buf.writeInt16LE(v, this.reserve(2)); }
  u32(v: number): void { this.buf.writeUInt32LE(v, this.reserve(4)); }
  i32(v: number): void { this.buf.writeInt32LE(v, this.reserve(4)); }
  f32(v: number): void { this.buf.writeFloatLE(v, this.reserve(4)); }
  f64(v: number): void { this.buf.writeDoubleLE(v, this.reserve(8)); }
  u64(v: bigint | number): void { this.buf.writeBigUInt64LE(BigInt(v), this.reserve(8)); }
  i64(v: bigint | number): void { this.buf.writeBigInt64LE(BigInt(v), this.reserve(8)); }

  str(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    bytes.copy(this.buf, this.reserve(bytes.length));
  }

  zeros(n: number): void {
    this.buf.fill(0, this.reserve(n), this.len);
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

function writeScalar(sink: ByteSink, type: GgufScalarType, v: number | bigint | boolean): void {
  switch (type) {
    case 'bool': return sink.u8(v ? 1 : 0);
    case 'uint8': return sink.u8(Number(v));
    case 'int8': return sink.i8(Number(v));
    case 'uint16': return sink.u16(Number(v));
    case 'int16': return sink.i16(Number(v));
    case 'uint32': return sink.u32(Number(v));
    case 'int32': return sink.i32(Number(v));
    case 'float32': return sink.f32(Number(v));
    case 'float64': return sink.f64(Number(v));
    case 'uint64': return sink.u64(typeof v === 'boolean' ? Number(v) : v);
    case 'int64': return sink.i64(typeof v === 'boolean' ? Number(v) : v);
  }
}

function writeEntry(sink: ByteSink, e: GgufMetadataEntry): void {
  sink.str(e.key);
  sink.u32(VALUE_TYPE_ID[e.type]);
  if (e.type === 'string') {
    sink.str(e.value);
  } else if (e.type === 'array') {
    sink.u32(VALUE_TYPE_ID[e.itemType]);
    sink.u64(e.value.length);
    if (e.itemType === 'string') {
      for (const s of e.value) sink.str(s);
    } else {
      const items = e.value as ArrayLike<number | bigint | boolean>;
      for (let i = 0; i < items.length; i++) writeScalar(sink, e.itemType, items[i] as number | bigint | boolean);
    }
  } else {
    writeScalar(sink, e.type, e.value);
  }
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

function elementCount(t: GgufTensor): number {
  if (t.dims.length < 1 || t.dims.length > 4) throw new Error(`tensor ${t.name}: 1 to 4 dims expected, got ${t.dims.length}`);
  let n = 1;
  for (const d of t.dims) {
    if (!Number.isSafeInteger(d) || d < 1) throw new Error(`tensor ${t.name}: bad dimension ${d}`);
    n *= d;
  }
  return n;
}

/** The tensor's bytes as stored in the file, without copying when the host is little-endian. */
function tensorBytes(t: GgufTensor): Uint8Array {
  const n = elementCount(t);
  if (t.type === 'raw') return t.data;
  if (t.data.length !== n) throw new Error(`tensor ${t.name}: ${t.data.length} values for dims [${t.dims.join(', ')}]`);
  if (t.type === 'F32') {
    if (littleEndianHost) return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const out = Buffer.alloc(n * 4);
    for (let i = 0; i < n; i++) out.writeFloatLE(t.data[i] as number, i * 4);
    return out;
  }
  const out = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) out.writeUInt16LE(float32ToFloat16Bits(t.data[i] as number), i * 2);
  return out;
}

function ggmlTypeOf(t: GgufTensor): number {
  if (t.type === 'raw') return t.ggmlType;
  return t.type === 'F32' ? GGML_TYPE.F32 : GGML_TYPE.F16;
}

function alignmentOf(metadata: readonly GgufMetadataEntry[]): number {
  const e = metadata.find((m) => m.key === 'general.alignment');
  if (e === undefined) return GGUF_DEFAULT_ALIGNMENT;
  if (e.type !== 'uint32' || !Number.isInteger(e.value) || e.value <= 0 || e.value % 8 !== 0) {
    throw new Error('general.alignment must be a uint32 multiple of 8');
  }
  return e.value;
}

/**
 * Encodes a GGUF file as a list of chunks in file order. Tensor chunks alias the callers'
 * arrays (on little-endian hosts), so a model is never held twice in memory.
 */
export function encodeGguf(contents: GgufContents): Uint8Array[] {
  const { metadata, tensors } = contents;
  const seenKeys = new Set<string>();
  for (const m of metadata) {
    if (seenKeys.has(m.key)) throw new Error(`duplicate metadata key ${m.key}`);
    seenKeys.add(m.key);
  }
  const seenNames = new Set<string>();
  for (const t of tensors) {
    if (seenNames.has(t.name)) throw new Error(`duplicate tensor ${t.name}`);
    seenNames.add(t.name);
  }
  const alignment = alignmentOf(metadata);

  const head = new ByteSink();
  head.u32(GGUF_MAGIC);
  head.u32(GGUF_VERSION);
  head.u64(tensors.length);
  head.u64(metadata.length);
  for (const m of metadata) writeEntry(head, m);

  const datas = tensors.map(tensorBytes);
  let offset = 0; // relative to the start of the data section
  tensors.forEach((t, i) => {
    head.str(t.name);
    head.u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    head.u32(ggmlTypeOf(t));
    head.u64(offset);
    offset = alignUp(offset + (datas[i] as Uint8Array).byteLength, alignment);
  });
  head.zeros(alignUp(head.length, alignment) - head.length);

  const chunks: Uint8Array[] = [head.bytes()];
  for (const d of datas) {
    chunks.push(d);
    const pad = alignUp(d.byteLength, alignment) - d.byteLength;
    // gguf-py pads after every tensor, the last one included; readers accept either.
    if (pad > 0) chunks.push(new Uint8Array(pad));
  }
  return chunks;
}

/**
 * Writes a GGUF file atomically: the bytes go to a temporary sibling that is renamed into place,
 * so a reader (or a parallel writer of the same file) never sees a partial file under `path`.
 */
export async function writeGguf(path: string, contents: GgufContents): Promise<number> {
  const chunks = encodeGguf(contents);
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  let size = 0;
  try {
    const fh = await open(tmp, 'w');
    try {
      // writev has a per-call vector limit (IOV_MAX); batches keep well under it.
      for (let i = 0; i < chunks.length; i += 256) {
        const batch = chunks.slice(i, i + 256);
        const expected = batch.reduce((s, c) => s + c.byteLength, 0);
        const { bytesWritten } = await fh.writev(batch);
        if (bytesWritten !== expected) throw new Error(`short write to ${tmp}`);
        size += bytesWritten;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return size;
}
