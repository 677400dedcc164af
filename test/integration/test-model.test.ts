// The generated test model in the real engine (node-llama-cpp, which starts a process to test
// its native binding): tokenizer, greedy generation, chat template, embeddings and a LoRA
// adapter. Its bytes and metadata are checked without the engine in test/unit/test-model-generation.
import assert from 'node:assert/strict';
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

import { testLoraPath, testModelPath } from '../helpers/test-model.js';

const N_EMBD = 128;
const PROMPT = 'The secret word is';

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
