// The engine's OpenAI-compatible routes through the official `openai` SDK.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createModelFromFile, startEngineProcess, type EngineProcess } from '../helpers/engine-process.js';
import { testModelPath } from '../helpers/test-model.js';

describe('engine: OpenAI-compatible API through the official SDK', () => {
  let engine: EngineProcess;
  let openai: OpenAI;

  before(async () => {
    engine = await startEngineProcess();
    await createModelFromFile(engine.url, 'tiny', await testModelPath());
    openai = new OpenAI({ baseURL: `${engine.url}/v1`, apiKey: 'unused-by-the-engine', maxRetries: 0 });
  });
  after(async () => engine?.stop());

  test('models lists and retrieves the model', async () => {
    const list = await openai.models.list();
    assert.ok(list.data.some((m) => m.id === 'tiny:latest'));
    const one = await openai.models.retrieve('tiny');
    assert.equal(one.id, 'tiny:latest');
    await assert.rejects(openai.models.retrieve('missing'), (err: unknown) => err instanceof OpenAI.NotFoundError);
  });

  test('chat completion', async () => {
    const r = await openai.chat.completions.create({ model: 'tiny', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }], temperature: 0, max_tokens: 10, seed: 1 });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices[0]?.message.role, 'assistant');
    assert.ok((r.choices[0]?.message.content ?? '').length > 0);
    assert.equal(r.choices[0]?.finish_reason, 'length');
    assert.equal(r.usage?.completion_tokens, 10);
    assert.ok((r.usage?.prompt_tokens ?? 0) > 3);
    assert.equal(r.usage?.total_tokens, (r.usage?.prompt_tokens ?? 0) + 10);
  });

  test('streamed chat ends with a usage chunk and matches the unstreamed text', async () => {
    const params = { model: 'tiny', messages: [{ role: 'user' as const, content: [{ type: 'text' as const, text: 'Count' }] }], temperature: 0, max_tokens: 10 };
    const whole = await openai.chat.completions.create(params);
    const stream = await openai.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      if (chunk.choices.length === 0) usage = chunk.usage;
      for (const c of chunk.choices) {
        text += c.delta.content ?? '';
        finish = c.finish_reason ?? finish;
      }
    }
    assert.equal(text, whole.choices[0]?.message.content);
    assert.equal(finish, 'length');
    assert.equal(usage?.completion_tokens, 10);
  });

  test('text completion, streamed and not', async () => {
    const r = await openai.completions.create({ model: 'tiny', prompt: 'Once upon a time', temperature: 0, max_tokens: 8 });
    assert.equal(r.object, 'text_completion');
    assert.ok((r.choices[0]?.text ?? '').length > 0);
    assert.equal(r.usage?.completion_tokens, 8);
    let text = '';
    for await (const chunk of await openai.completions.create({ model: 'tiny', prompt: 'Once upon a time', temperature: 0, max_tokens: 8, stream: true })) {
      text += chunk.choices[0]?.text ?? '';
    }
    assert.equal(text, r.choices[0]?.text);
  });

  test('embeddings, in the SDK default (base64) and as floats', async () => {
    const r = await openai.embeddings.create({ model: 'tiny', input: ['hello', 'world'] });
    assert.equal(r.data.length, 2);
    assert.equal(r.data[0]?.embedding.length, 128);
    const floats = await openai.embeddings.create({ model: 'tiny', input: 'hello', encoding_format: 'float' });
    const a = r.data[0]?.embedding as number[];
    const b = floats.data[0]?.embedding as number[];
    assert.ok(a.every((x, i) => Math.abs(x - (b[i] as number)) < 1e-6), 'base64 decodes to the same vector');
    assert.ok((r.usage.prompt_tokens ?? 0) > 0);
  });

  test('errors come back in OpenAI shape', async () => {
    await assert.rejects(openai.chat.completions.create({ model: 'missing', messages: [{ role: 'user', content: 'x' }] }), (err: unknown) => err instanceof OpenAI.NotFoundError && /missing/.test(err.message));
    await assert.rejects(
      openai.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'x' }], temperature: 7 }),
      (err: unknown) => err instanceof OpenAI.BadRequestError && /temperature/.test(err.message),
    );
  });
});
