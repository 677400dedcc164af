// The generated test model's bytes: deterministic per seed, shapes checked, cached by options,
// and the metadata and tensors node-llama-cpp's GGUF reader finds in it (a file read; the engine
// itself runs it in test/integration/test-model.test.ts).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { readGgufFileInfo } from 'node-llama-cpp';

import { encodeGguf } from '../../src/gguf/writer.js';
import { generateTestLoraAdapter } from '../../src/testmodel/test-lora.js';
import { generateTestModel, TEST_CHAT_TEMPLATE, TEST_MODEL_NAME, writeTestModel } from '../../src/testmodel/test-model.js';
import { testModelPath } from '../helpers/test-model.js';

const N_EMBD = 128;

const bytesOf = (contents: Parameters<typeof encodeGguf>[0]): Buffer => Buffer.concat(encodeGguf(contents));

describe('test model generation', () => {
  it('is byte-identical for the same seed and differs for another seed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hearth-testmodel-'));
    try {
      await writeTestModel(join(dir, 'a.gguf'), { seed: 7 });
      await writeTestModel(join(dir, 'b.gguf'), { seed: 7 });
      const [a, b] = await Promise.all([readFile(join(dir, 'a.gguf')), readFile(join(dir, 'b.gguf'))]);
      assert.ok(a.equals(b));
      assert.ok(!a.equals(bytesOf(generateTestModel({ seed: 8 }))));
      assert.ok(!a.equals(bytesOf(generateTestModel({ seed: 7, nFf: 128 }))));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('makes LoRA adapters that depend on the adapter seed only through their own weights', () => {
    const a = bytesOf(generateTestLoraAdapter({ adapterSeed: 3 }));
    assert.ok(a.equals(bytesOf(generateTestLoraAdapter({ adapterSeed: 3 }))));
    assert.ok(!a.equals(bytesOf(generateTestLoraAdapter({ adapterSeed: 4 }))));
  });

  it('rejects inconsistent shapes', () => {
    assert.throws(() => generateTestModel({ nEmbd: 130, nHead: 4 }), RangeError);
    assert.throws(() => generateTestModel({ nHead: 4, nHeadKv: 3 }), RangeError);
    assert.throws(() => generateTestLoraAdapter({ rank: 0 }), RangeError);
  });

  it('caches files under a key of the options', async () => {
    const [a, b, c] = await Promise.all([testModelPath(), testModelPath({ seed: 1 }), testModelPath({ seed: 2 })]);
    assert.equal(a, b);
    assert.notEqual(a, c);
  });

  it('has the expected metadata and tensors, as the engine reads them', async () => {
    const info = await readGgufFileInfo(await testModelPath(), { logWarnings: false });
    const { metadata } = info;
    assert.equal(metadata.general.architecture, 'llama');
    assert.equal(metadata.general.name, TEST_MODEL_NAME);
    assert.equal(metadata.general.alignment, 32);
    assert.equal(metadata.general.file_type, 0);
    assert.deepEqual(info.architectureMetadata.attention, { head_count: 4, head_count_kv: 4, layer_norm_rms_epsilon: Math.fround(1e-5) });
    assert.equal(info.architectureMetadata.embedding_length, N_EMBD);
    assert.equal(info.architectureMetadata.block_count, 2);
    assert.equal(info.architectureMetadata.context_length, 2048);
    const tokens = metadata.tokenizer.ggml.tokens;
    assert.equal(info.architectureMetadata.vocab_size, tokens.length);
    assert.deepEqual(tokens.slice(0, 4), ['<unk>', '<s>', '</s>', '<0x00>']);
    assert.equal(tokens[258], '<0xFF>');
    assert.equal(tokens[259], '\u2581');
    assert.equal(metadata.tokenizer.chat_template, TEST_CHAT_TEMPLATE);
    const shapes = new Map(info.tensorInfo?.map((t) => [t.name, t.dimensions.map(Number)]));
    assert.deepEqual(shapes.get('token_embd.weight'), [N_EMBD, tokens.length]);
    assert.deepEqual(shapes.get('output.weight'), [N_EMBD, tokens.length]);
    assert.deepEqual(shapes.get('blk.1.ffn_down.weight'), [256, N_EMBD]);
    assert.equal(shapes.size, 3 + 2 * 9);
  });
});
