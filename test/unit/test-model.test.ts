import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  getLlama,
  JinjaTemplateChatWrapper,
  LlamaChatSession,
  LlamaCompletion,
  LlamaLogLevel,
  readGgufFileInfo,
  resolveChatWrapper,
  type Llama,
  type LlamaContextOptions,
  type LlamaModel,
} from 'node-llama-cpp';

import { encodeGguf } from '../../src/gguf/writer.js';
import { generateTestLoraAdapter } from '../../src/testmodel/test-lora.js';
import { generateTestModel, TEST_CHAT_TEMPLATE, TEST_MODEL_NAME, writeTestModel } from '../../src/testmodel/test-model.js';
import { testLoraPath, testModelPath } from '../helpers/test-model.js';

const N_EMBD = 128;
const PROMPT = 'The secret word is';

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
});

describe('test model in node-llama-cpp', () => {
  let llama: Llama;
  let model: LlamaModel;
  let modelPath: string;
  let loraPath: string;

  // One thread always: the default thread count oversubscribed small machines by 100×.
  const ctxOptions = { contextSize: 512, threads: 1 } as const;

  async function greedy(prompt: string, maxTokens: number, extra: Partial<LlamaContextOptions> = {}): Promise<{ text: string; ms: number }> {
    const context = await model.createContext({ ...ctxOptions, ...extra });
    try {
      const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
      const started = performance.now();
      const text = await completion.generateCompletion(prompt, { maxTokens, temperature: 0 });
      return { text, ms: performance.now() - started };
    } finally {
      await context.dispose();
    }
  }

  before(async () => {
    [modelPath, loraPath] = await Promise.all([testModelPath(), testLoraPath()]);
    llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    model = await llama.loadModel({ modelPath });
  });

  after(async () => {
    await model?.dispose();
    await llama?.dispose();
  });

  it('has the expected metadata and tensors', async () => {
    const info = await readGgufFileInfo(modelPath, { logWarnings: false });
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

  it('round-trips text through its tokenizer', () => {
    for (const text of ['Hello, world! ZEBRA 123 ünïcödé', ' two  spaces\nand a newline', 'The secret word is']) {
      const tokens = model.tokenize(text);
      assert.equal(model.detokenize(tokens), text);
    }
    assert.ok(model.tokenize('The secret word is').length <= 5, 'common words are single tokens');
    assert.equal(model.tokens.bos, 1);
    assert.equal(model.tokens.eos, 2);
  });

  it('generates greedily and deterministically', async (t) => {
    const first = await greedy(PROMPT, 20);
    const second = await greedy(PROMPT, 20);
    assert.equal(first.text, second.text);
    const tokens = model.tokenize(first.text);
    assert.ok(tokens.length >= 15, `generated ${tokens.length} tokens`);
    assert.ok(new Set(tokens).size > 3, `varied output: ${JSON.stringify(first.text)}`);
    t.diagnostic(`20 tokens in ${second.ms.toFixed(1)} ms (${((20 * 1000) / second.ms).toFixed(0)} tokens/s, 1 thread): ${JSON.stringify(second.text)}`);
  });

  it('uses the Jinja chat template, ending assistant turns with EOS', async () => {
    const fileInfo = await readGgufFileInfo(modelPath, { logWarnings: false });
    const wrapper = resolveChatWrapper({ fileInfo, tokenizer: model.tokenizer });
    assert.ok(wrapper instanceof JinjaTemplateChatWrapper);
    const { contextText } = wrapper.generateContextState({
      chatHistory: [
        { type: 'system', text: 'Sys.' },
        { type: 'user', text: 'Hi' },
        { type: 'model', response: ['Hello'] },
        { type: 'user', text: 'Again' },
        { type: 'model', response: [] },
      ],
    });
    const tokens = contextText.tokenize(model.tokenizer, 'trimLeadingSpace');
    assert.equal(
      model.detokenize(tokens, true),
      '### System:\nSys.\n\n### User:\nHi\n\n### Assistant:\nHello</s>\n\n### User:\nAgain\n\n### Assistant:\n',
    );
    assert.equal(tokens.filter((tok) => tok === model.tokens.eos).length, 1, 'EOS is the special token');

    const context = await model.createContext(ctxOptions);
    try {
      const session = new LlamaChatSession({ contextSequence: context.getSequence(), systemPrompt: 'Be brief.' });
      assert.ok(session.chatWrapper instanceof JinjaTemplateChatWrapper);
      const answer = await session.prompt('Hello', { maxTokens: 8, temperature: 0 });
      assert.equal(typeof answer, 'string');
    } finally {
      await context.dispose();
    }
  });

  it('gives embeddings of length n_embd', async () => {
    const context = await model.createEmbeddingContext(ctxOptions);
    try {
      const { vector } = await context.getEmbeddingFor('Hello world');
      assert.equal(vector.length, N_EMBD);
      assert.ok(vector.some((v) => v !== 0));
    } finally {
      await context.dispose();
    }
  });

  it('changes greedy output with the LoRA adapter, and not after it is dropped', async () => {
    const info = await readGgufFileInfo(loraPath, { logWarnings: false });
    assert.equal((info.metadata.general as { type?: string }).type, 'adapter');
    const lora = await greedy(PROMPT, 12, { lora: { adapters: [{ filePath: loraPath }] } });
    const base = await greedy(PROMPT, 12);
    assert.notEqual(lora.text, base.text);
    const baseAgain = await greedy(PROMPT, 12);
    assert.equal(baseAgain.text, base.text);
  });
});
