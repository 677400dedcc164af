// A small GGUF v2/v3 reader: header, metadata (in the writer's GgufMetadataEntry form, so a file
// can be re-written with changed metadata or tensors) and tensor infos; tensor data is read on
// demand from the open file, so a model is never held in memory as a whole.
// Format reference: ggml's docs/gguf.md.

import { open, type FileHandle } from 'node:fs/promises';

import type { GgufMetadataEntry, GgufScalarType } from './writer.js';
import { GGML_TYPE, GGUF_DEFAULT_ALIGNMENT } from './writer.js';

export interface GgufTensorInfo {
  name: string;
  /** ne0 first, as in the file. */
  dims: number[];
  ggmlType: number;
  /** Offset of the data from the start of the file. */
  fileOffset: number;
  byteLength: number;
}

export interface GgufFile {
  path: string;
  version: number;
  metadata: GgufMetadataEntry[];
  tensors: GgufTensorInfo[];
  /** The tensor's stored bytes (a fresh, 8-byte-aligned copy). */
  readTensorBytes(t: GgufTensorInfo): Promise<Uint8Array>;
  /** An F32 tensor's values; throws for other types. */
  readTensorF32(t: GgufTensorInfo): Promise<Float32Array>;
  close(): Promise<void>;
}

const GGUF_MAGIC = 0x46554747;

const SCALAR_BY_ID: readonly (GgufScalarType | 'string' | 'array')[] = [
  'uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'bool', 'string', 'array', 'uint64', 'int64', 'float64',
];

/** [elements per block, bytes per block] of the ggml types a GGUF may hold (ggml/src/ggml.c type_traits). */
const GGML_TYPE_BLOCK: Readonly<Record<number, readonly [number, number]>> = {
  0: [1, 4], // F32
  1: [1, 2], // F16
  2: [32, 18], // Q4_0
  3: [32, 20], // Q4_1
  6: [32, 22], // Q5_0
  7: [32, 24], // Q5_1
  8: [32, 34], // Q8_0
  9: [32, 36], // Q8_1
  10: [256, 84], // Q2_K
  11: [256, 110], // Q3_K
  12: [256, 144], // Q4_K
  13: [256, 176], // Q5_K
  14: [256, 210], // Q6_K
  15: [256, 292], // Q8_K
  24: [1, 1], // I8
  25: [1, 2], // I16
  26: [1, 4], // I32
  27: [1, 8], // I64
  28: [1, 8], // F64
  30: [1, 2], // BF16
};

export function ggmlTensorBytes(ggmlType: number, dims: readonly number[]): number {
  const block = GGML_TYPE_BLOCK[ggmlType];
  if (block === undefined) throw new Error(`unsupported ggml type ${ggmlType}`);
  const n = dims.reduce((a, b) => a * b, 1);
  return (n / block[0]) * block[1];
}

/** Thrown by the cursor when the header extends past the bytes read so far. */
class NeedMoreBytes extends Error {}

class Cursor {
  pos = 0;
  constructor(private readonly buf: Buffer) {}

  private take(n: number): number {
    if (this.pos + n > this.buf.length) throw new NeedMoreBytes();
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(): number { return this.buf.readUInt8(this.take(1)); }
  i8(): number { return this.buf.readInt8(this.take(1)); }
  u16(): number { return this.buf.readUInt16LE(this.take(2)); }
  i16(): number { return this.buf.readInt16LE(this.take(2)); }
  u32(): number { return this.buf.readUInt32LE(this.take(4)); }
  i32(): number { return this.buf.readInt32LE(this.take(4)); }
  f32(): number { return this.buf.readFloatLE(this.take(4)); }
  f64(): number { return this.buf.readDoubleLE(this.take(8)); }
  u64(): bigint { return this.buf.readBigUInt64LE(this.take(8)); }
  i64(): bigint { return this.buf.readBigInt64LE(this.take(8)); }

  /** A 64-bit count or size that must fit a JS number. */
  size(): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('GGUF size field out of range');
    return Number(v);
  }

  str(): string {
    const n = this.size();
    const at = this.take(n);
    return this.buf.toString('utf8', at, at + n);
  }
}

function readScalar(c: Cursor, type: GgufScalarType): number | bigint | boolean {
  switch (type) {
    case 'uint8': return c.u8();
    case 'int8': return c.i8();
    case 'uint16': return c.u16();
    case 'int16': return c.i16();
    case 'uint32': return c.u32();
    case 'int32': return c.i32();
    case 'float32': return c.f32();
    case 'float64': return c.f64();
    case 'bool': return c.u8() !== 0;
    case 'uint64': return c.u64();
    case 'int64': return c.i64();
  }
}

function typeById(id: number): GgufScalarType | 'string' | 'array' {
  const t = SCALAR_BY_ID[id];
  if (t === undefined) throw new Error(`unknown GGUF value type ${id}`);
  return t;
}

function readEntry(c: Cursor): GgufMetadataEntry {
  const key = c.str();
  const type = typeById(c.u32());
  if (type === 'string') return { key, type, value: c.str() };
  if (type === 'array') {
    const itemType = typeById(c.u32());
    const n = c.size();
    if (itemType === 'array') throw new Error(`${key}: nested arrays are not supported`);
    if (itemType === 'string') {
      const value: string[] = [];
      for (let i = 0; i < n; i++) value.push(c.str());
      return { key, type, itemType, value };
    }
    if (itemType === 'bool') {
      const value: boolean[] = [];
      for (let i = 0; i < n; i++) value.push(c.u8() !== 0);
      return { key, type, itemType, value };
    }
    const value: (number | bigint)[] = [];
    for (let i = 0; i < n; i++) value.push(readScalar(c, itemType) as number | bigint);
    return { key, type, itemType, value: value as number[] | bigint[] };
  }
  if (type === 'bool') return { key, type, value: readScalar(c, type) as boolean };
  if (type === 'uint64' || type === 'int64') return { key, type, value: readScalar(c, type) as bigint };
  return { key, type, value: readScalar(c, type) as number };
}

interface ParsedHeader {
  version: number;
  metadata: GgufMetadataEntry[];
  tensors: Omit<GgufTensorInfo, 'fileOffset'>[];
  relOffsets: number[];
  headerEnd: number;
}

function parseHeader(buf: Buffer): ParsedHeader {
  const c = new Cursor(buf);
  if (c.u32() !== GGUF_MAGIC) throw new Error('not a GGUF file');
  const version = c.u32();
  if (version !== 2 && version !== 3) throw new Error(`unsupported GGUF version ${version}`);
  const nTensors = c.size();
  const nKv = c.size();
  const metadata: GgufMetadataEntry[] = [];
  for (let i = 0; i < nKv; i++) metadata.push(readEntry(c));
  const tensors: ParsedHeader['tensors'] = [];
  const relOffsets: number[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = c.str();
    const nDims = c.u32();
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(c.size());
    const ggmlType = c.u32();
    relOffsets.push(c.size());
    tensors.push({ name, dims, ggmlType, byteLength: ggmlTensorBytes(ggmlType, dims) });
  }
  return { version, metadata, tensors, relOffsets, headerEnd: c.pos };
}

export function metadataValue(metadata: readonly GgufMetadataEntry[], key: string): GgufMetadataEntry['value'] | undefined {
  return metadata.find((m) => m.key === key)?.value;
}

async function readHeader(fh: FileHandle, fileSize: number): Promise<ParsedHeader> {
  // The header's size is unknown until parsed (vocabularies make it megabytes), so parse a
  // prefix and retry with twice as much on running out.
  for (let len = Math.min(fileSize, 1 << 20); ; len = Math.min(fileSize, len * 2)) {
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, 0);
    try {
      return parseHeader(buf);
    } catch (err) {
      if (!(err instanceof NeedMoreBytes)) throw err;
      if (len === fileSize) throw new Error('truncated GGUF header');
    }
  }
}

export async function openGguf(path: string): Promise<GgufFile> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const h = await readHeader(fh, size);
    const alignment = Number(metadataValue(h.metadata, 'general.alignment') ?? GGUF_DEFAULT_ALIGNMENT);
    const dataStart = Math.ceil(h.headerEnd / alignment) * alignment;
    const tensors: GgufTensorInfo[] = h.tensors.map((t, i) => ({ ...t, fileOffset: dataStart + (h.relOffsets[i] as number) }));
    for (const t of tensors) {
      if (t.fileOffset + t.byteLength > size) throw new Error(`tensor ${t.name} extends past the end of ${path}`);
    }
    const readTensorBytes = async (t: GgufTensorInfo): Promise<Uint8Array> => {
      // A fresh ArrayBuffer (offset 0) so any typed-array view of it is aligned.
      const out = new Uint8Array(new ArrayBuffer(t.byteLength));
      const { bytesRead } = await fh.read(out, 0, t.byteLength, t.fileOffset);
      if (bytesRead !== t.byteLength) throw new Error(`short read of tensor ${t.name}`);
      return out;
    };
    return {
      path,
      version: h.version,
      metadata: h.metadata,
      tensors,
      readTensorBytes,
      async readTensorF32(t) {
        if (t.ggmlType !== GGML_TYPE.F32) throw new Error(`tensor ${t.name} is not F32`);
        const bytes = await readTensorBytes(t);
        return new Float32Array(bytes.buffer, 0, bytes.byteLength / 4);
      },
      close: () => fh.close(),
    };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/** Opens the GGUF at `path` for `fn` and closes it whatever `fn` does. */
export async function withGguf<T>(path: string, fn: (f: GgufFile) => Promise<T> | T): Promise<T> {
  const f = await openGguf(path);
  try {
    return await fn(f);
  } finally {
    await f.close();
  }
}
