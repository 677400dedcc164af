import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { readGgufFileInfo } from 'node-llama-cpp';

import { float16BitsToFloat32, float32ToFloat16Bits } from '../../src/gguf/f16.js';
import { encodeGguf, writeGguf, type GgufContents } from '../../src/gguf/writer.js';

type Nested = { [key: string]: unknown };

/** Looks up a dotted key in node-llama-cpp's nested metadata object. */
function metaAt(metadata: object, key: string): unknown {
  let cur: unknown = metadata;
  for (const part of key.split('.')) cur = (cur as Nested | undefined)?.[part];
  return cur;
}

const sample: GgufContents = {
  metadata: [
    { key: 'general.architecture', type: 'string', value: 'llama' },
    { key: 'general.alignment', type: 'uint32', value: 64 },
    { key: 'test.u32', type: 'uint32', value: 4_000_000_000 },
    { key: 'test.i32', type: 'int32', value: -7 },
    { key: 'test.f32', type: 'float32', value: 0.5 },
    { key: 'test.bool', type: 'bool', value: true },
    { key: 'test.u64', type: 'uint64', value: 2n ** 40n },
    { key: 'test.str', type: 'string', value: 'ünïcödé ▁' },
    { key: 'test.strs', type: 'array', itemType: 'string', value: ['a', '', '<0x0A>'] },
    { key: 'test.f32s', type: 'array', itemType: 'float32', value: [1.5, -2] },
    { key: 'test.i32s', type: 'array', itemType: 'int32', value: new Int32Array([1, -1, 6]) },
  ],
  tensors: [
    { name: 'a', dims: [3], type: 'F32', data: new Float32Array([1, 2, 3]) },
    { name: 'b', dims: [2, 3], type: 'F16', data: new Float32Array([0, 1, -2, 0.5, 65504, 1e-8]) },
    { name: 'c', dims: [4], type: 'raw', ggmlType: 0, data: new Uint8Array(16).fill(0x3f) },
  ],
};

describe('GGUF writer', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'hearth-gguf-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('writes metadata and tensors that node-llama-cpp reads back', async () => {
    const path = join(dir, 'sample.gguf');
    const size = await writeGguf(path, sample);
    assert.deepEqual(await readdir(dir), ['sample.gguf'], 'no temporary file is left behind');
    const bytes = await readFile(path);
    assert.equal(bytes.length, size);
    assert.equal(bytes.subarray(0, 4).toString('latin1'), 'GGUF');
    assert.equal(bytes.readUInt32LE(4), 3);

    const info = await readGgufFileInfo(path, { logWarnings: false });
    const m = info.metadata;
    assert.equal(metaAt(m, 'test.u32'), 4_000_000_000);
    assert.equal(metaAt(m, 'test.i32'), -7);
    assert.equal(metaAt(m, 'test.f32'), 0.5);
    assert.equal(metaAt(m, 'test.bool'), true);
    assert.equal(BigInt(metaAt(m, 'test.u64') as bigint), 2n ** 40n);
    assert.equal(metaAt(m, 'test.str'), 'ünïcödé ▁');
    assert.deepEqual(metaAt(m, 'test.strs'), ['a', '', '<0x0A>']);
    assert.deepEqual(metaAt(m, 'test.f32s'), [1.5, -2]);
    assert.deepEqual(metaAt(m, 'test.i32s'), [1, -1, 6]);

    const tensors = info.tensorInfo ?? [];
    assert.deepEqual(tensors.map((t) => [t.name, t.dimensions.map(Number), t.ggmlType]), [
      ['a', [3], 0],
      ['b', [2, 3], 1],
      ['c', [4], 0],
    ]);
    for (const t of tensors) assert.equal(Number(t.fileOffset) % 64, 0, `${t.name} is aligned to general.alignment`);

    const at = (name: string): number => Number(tensors.find((t) => t.name === name)?.fileOffset);
    assert.deepEqual([0, 1, 2].map((i) => bytes.readFloatLE(at('a') + 4 * i)), [1, 2, 3]);
    const halves = [0, 1, 2, 3, 4, 5].map((i) => float16BitsToFloat32(bytes.readUInt16LE(at('b') + 2 * i)));
    assert.deepEqual(halves, [0, 1, -2, 0.5, 65504, 0]);
    assert.equal(bytes[at('c')], 0x3f);
  });

  it('is deterministic', () => {
    const a = Buffer.concat(encodeGguf(sample));
    const b = Buffer.concat(encodeGguf(sample));
    assert.ok(a.equals(b));
  });

  it('rejects duplicate keys, duplicate tensors and size mismatches', () => {
    const key = { key: 'k', type: 'uint32', value: 1 } as const;
    assert.throws(() => encodeGguf({ metadata: [key, key], tensors: [] }), /duplicate metadata key/);
    const t = { name: 't', dims: [2], type: 'F32', data: new Float32Array(2) } as const;
    assert.throws(() => encodeGguf({ metadata: [], tensors: [t, t] }), /duplicate tensor/);
    assert.throws(() => encodeGguf({ metadata: [], tensors: [{ ...t, dims: [3] }] }), /2 values/);
  });

  it('converts float32 to float16 with round-to-nearest-even', () => {
    assert.equal(float32ToFloat16Bits(1), 0x3c00);
    assert.equal(float32ToFloat16Bits(-2), 0xc000);
    assert.equal(float32ToFloat16Bits(65504), 0x7bff);
    assert.equal(float32ToFloat16Bits(65520), 0x7c00); // rounds up to Inf
    assert.equal(float32ToFloat16Bits(2 ** -24), 0x0001); // smallest subnormal
    assert.equal(float32ToFloat16Bits(1 + 2 ** -11), 0x3c00); // tie → even
    assert.equal(float32ToFloat16Bits(1 + 3 * 2 ** -11), 0x3c02); // tie → even (up)
    assert.ok(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN))));
  });
});
