import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { float32ToFloat16Bits } from '../../src/gguf/f16.js';
import { openGguf, metadataValue } from '../../src/gguf/reader.js';
import { writeGguf } from '../../src/gguf/writer.js';
import { exactLoraPair } from '../../src/finetune/trainers/llamacpp/artifacts.js';
import { parseTrainSpec } from '../../src/finetune/trainers/llamacpp/spec.js';
import { needsUpcast, writeF32Copy } from '../../src/finetune/trainers/llamacpp/upcast.js';
import { buildWindows } from '../../src/finetune/trainers/llamacpp/windows.js';
import { HearthError } from '../../src/errors.js';

describe('training windows', () => {
  it('starts each sample at position 0 and pads with EOS, labels shifted by one', () => {
    const w = buildWindows([Int32Array.of(1, 10, 11, 2), Int32Array.of(1, 20, 2)], 6, 2);
    assert.equal(w.count, 2);
    assert.deepEqual([...w.data], [1, 10, 11, 2, 2, 2, 1, 20, 2, 2, 2, 2]);
    assert.deepEqual([...w.labels], [10, 11, 2, 2, 2, 2, 20, 2, 2, 2, 2, 2]);
    assert.equal(w.realTokens, 7);
  });

  it('continues a sample longer than the window in the next window', () => {
    const w = buildWindows([Int32Array.of(1, 2, 3, 4, 5, 6)], 4, 0);
    assert.equal(w.count, 2);
    assert.deepEqual([...w.data], [1, 2, 3, 4, 5, 6, 0, 0]);
    assert.deepEqual([...w.labels], [2, 3, 4, 5, 6, 0, 0, 0]);
  });
});

/** (A x) then (B ·) as llama.cpp computes them, ne0-first layouts. */
function applyLora(a: Float32Array, aDims: readonly number[], b: Float32Array, bDims: readonly number[], x: number[]): number[] {
  const [nIn, r] = aDims as [number, number];
  const nOut = bDims[1] as number;
  const ax = Array.from({ length: r }, (_, k) => x.reduce((s, xi, i) => s + (a[i + k * nIn] as number) * xi, 0));
  return Array.from({ length: nOut }, (_, j) => ax.reduce((s, v, k) => s + (b[k + j * r] as number) * v, 0));
}

describe('exact LoRA factorisation', () => {
  for (const [nIn, nOut] of [[3, 5], [5, 3]] as const) {
    it(`reproduces Δx for a [${nIn}, ${nOut}] weight`, () => {
      const base = Float32Array.from({ length: nIn * nOut }, (_, i) => Math.sin(i));
      const trained = base.map((v, i) => v + 0.25 * Math.cos(3 * i));
      const pair = exactLoraPair('w', [nIn, nOut], base, trained);
      assert.ok(pair !== undefined);
      const [a, b] = pair as unknown as [{ dims: number[]; data: Float32Array }, { dims: number[]; data: Float32Array }];
      assert.equal(a.dims[0], nIn);
      assert.equal(b.dims[1], nOut);
      assert.equal(a.dims[1], Math.min(nIn, nOut));
      const x = Array.from({ length: nIn }, (_, i) => i - 1.5);
      const got = applyLora(a.data, a.dims, b.data, b.dims, x);
      for (let j = 0; j < nOut; j++) {
        const want = x.reduce((s, xi, i) => s + ((trained[i + j * nIn] as number) - (base[i + j * nIn] as number)) * xi, 0);
        assert.ok(Math.abs((got[j] as number) - want) < 1e-5, `${got[j]} vs ${want}`);
      }
    });
  }

  it('leaves unchanged weights out', () => {
    const w = Float32Array.of(1, 2, 3, 4);
    assert.equal(exactLoraPair('w', [2, 2], w, w.slice()), undefined);
  });
});

describe('GGUF reader and F16 upcast', () => {
  it('reads back what the writer wrote and upcasts F16 to F32', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hearth-gguf-read-'));
    try {
      const src = join(dir, 'f16.gguf');
      const values = Float32Array.of(0.5, -2, 1.25, 3, 0, 65504);
      await writeGguf(src, {
        metadata: [
          { key: 'general.architecture', type: 'string', value: 'llama' },
          { key: 'general.file_type', type: 'uint32', value: 1 },
          { key: 'big', type: 'uint64', value: 2n ** 40n },
          { key: 'names', type: 'array', itemType: 'string', value: ['a', 'b'] },
          { key: 'scores', type: 'array', itemType: 'float32', value: [0.5, 1.5] },
        ],
        tensors: [
          { name: 'w', dims: [3, 2], type: 'F16', data: values },
          { name: 'n', dims: [2], type: 'F32', data: Float32Array.of(7, 8) },
        ],
      });
      const f = await openGguf(src);
      try {
        assert.equal(f.version, 3);
        assert.equal(metadataValue(f.metadata, 'big'), 2n ** 40n);
        assert.deepEqual(metadataValue(f.metadata, 'names'), ['a', 'b']);
        assert.deepEqual(metadataValue(f.metadata, 'scores'), [0.5, 1.5]);
        assert.deepEqual(f.tensors.map((t) => [t.name, t.dims, t.ggmlType, t.byteLength]), [['w', [3, 2], 1, 12], ['n', [2], 0, 8]]);
        const raw = new Uint16Array((await f.readTensorBytes(f.tensors[0]!)).buffer);
        assert.deepEqual([...raw], [...values].map(float32ToFloat16Bits));
        assert.deepEqual([...(await f.readTensorF32(f.tensors[1]!))], [7, 8]);
        assert.equal(needsUpcast(f), true);
      } finally {
        await f.close();
      }
      const dest = join(dir, 'f32.gguf');
      await writeF32Copy(src, dest);
      const g = await openGguf(dest);
      try {
        assert.equal(metadataValue(g.metadata, 'general.file_type'), 0);
        assert.equal(needsUpcast(g), false);
        assert.deepEqual([...(await g.readTensorF32(g.tensors[0]!))], [...values]);
      } finally {
        await g.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a quantized base', () => {
    const file = { tensors: [{ name: 'w', dims: [32], ggmlType: 8, fileOffset: 0, byteLength: 34 }] } as unknown as Parameters<typeof needsUpcast>[0];
    assert.throws(() => needsUpcast(file), (e: unknown) => e instanceof HearthError && e.code === 'quantized_base');
  });
});

describe('train spec', () => {
  const valid = { baseModelPath: '/m.gguf', outputDir: '/o', samples: ['x'], epochs: 1, learningRate: 1e-4, threads: 1 };

  it('fills defaults', () => {
    const s = parseTrainSpec(valid);
    assert.deepEqual([s.contextSize, s.gpu, s.seed, s.output, s.evalSamples], [256, 'off', 0, 'lora', []]);
  });

  it('rejects bad fields with invalid_request', () => {
    for (const bad of [{ samples: [] }, { epochs: 0 }, { learningRate: -1 }, { output: 'qlora' }, { threads: 1.5 }, { gpu: 'cuda' }]) {
      assert.throws(() => parseTrainSpec({ ...valid, ...bad }), (e: unknown) => e instanceof HearthError && e.kind === 'invalid_request', JSON.stringify(bad));
    }
  });
});
