// A prompt longer than the loaded context, on the engine's own routes: Ollama's /api/chat and
// /api/generate cut it by default and refuse it with `truncate: false`; the OpenAI routes always
// refuse it. The engine runs as a real process with the test model, at a 256-token context.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { BadRequestError } from 'openai';
import { createModelFromFile, startEngineProcess, type EngineProcess } from '../helpers/engine-process.js';
import { testModelPath } from '../helpers/test-model.js';

const NUM_CTX = 256;
// About two tokens per repetition ("▁hello", "▁world" are pieces of the test model's vocabulary).
const long = 'hello world '.repeat(300);
const message = /This model's maximum context length is 256 tokens\. However, your (messages|prompt) resulted in \d+ tokens\./;

describe('engine: a prompt longer than the context', () => {
  let engine: EngineProcess;
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${engine.url}${path}`, { method: 'POST', body: JSON.stringify(body) });
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
  };

  before(async () => {
    engine = await startEngineProcess(['--num-ctx', String(NUM_CTX)]);
    await createModelFromFile(engine.url, 'tiny', await testModelPath());
  });
  after(async () => engine?.stop());

  test('/api/chat with truncate: false is a 400 context_length_exceeded, streamed or not, before any stream starts', async () => {
    for (const stream of [false, true]) {
      const r = await post('/api/chat', { model: 'tiny', messages: [{ role: 'user', content: long }], truncate: false, stream, options: { num_predict: 2 } });
      assert.equal(r.status, 400, r.text);
      assert.match(r.type, /^application\/json/, 'an error answer, not an NDJSON stream');
      const body = JSON.parse(r.text) as { error: string; code: string };
      assert.equal(body.code, 'context_length_exceeded');
      assert.match(body.error, message);
      assert.match(body.error, /your messages resulted/);
    }
  });

  test('/api/generate with truncate: false: the same, naming the prompt', async () => {
    const r = await post('/api/generate', { model: 'tiny', prompt: long, truncate: false, stream: false, options: { num_predict: 2 } });
    assert.equal(r.status, 400, r.text);
    const body = JSON.parse(r.text) as { error: string; code: string };
    assert.equal(body.code, 'context_length_exceeded');
    assert.match(body.error, /your prompt resulted in \d+ tokens/);
  });

  test("without truncate (Ollama's default) or with truncate: true the prompt is cut to fit: 200", async () => {
    for (const truncate of [undefined, true]) {
      const r = await post('/api/chat', { model: 'tiny', messages: [{ role: 'user', content: long }], truncate, stream: false, options: { num_predict: 2, temperature: 0 } });
      assert.equal(r.status, 200, r.text);
      assert.equal((JSON.parse(r.text) as { done: boolean }).done, true);
    }
  });

  test('truncate: false at the boundary: a prompt one token short of the context is read whole, one token more is refused', async () => {
    // A raw prompt grows by exactly one token per " hello".
    const count = async (prompt: string) => {
      const r = await post('/api/generate', { model: 'tiny', prompt, raw: true, stream: false, options: { num_predict: 1 } });
      assert.equal(r.status, 200, r.text);
      return (JSON.parse(r.text) as { prompt_eval_count: number }).prompt_eval_count;
    };
    const base = await count('hello');
    assert.equal(await count(`hello${' hello'.repeat(10)}`), base + 10, 'one token per " hello"');
    const sized = (tokens: number) => `hello${' hello'.repeat(tokens - base)}`;
    const fits = await post('/api/generate', { model: 'tiny', prompt: sized(NUM_CTX - 1), raw: true, truncate: false, stream: false, options: { num_predict: 8, temperature: 0 } });
    assert.equal(fits.status, 200, fits.text);
    const answer = JSON.parse(fits.text) as { prompt_eval_count: number; eval_count: number; done_reason: string };
    assert.equal(answer.prompt_eval_count, NUM_CTX - 1);
    // Read whole, the prompt leaves the context room for one token: cut (as node-llama-cpp cuts
    // by default, to 90% of the context) it would have left room for all eight.
    assert.ok(answer.eval_count <= 1, `eval_count ${answer.eval_count}`);
    const over = await post('/api/generate', { model: 'tiny', prompt: sized(NUM_CTX), raw: true, truncate: false, stream: false, options: { num_predict: 8 } });
    assert.equal(over.status, 400, over.text);
    assert.match((JSON.parse(over.text) as { error: string }).error, /your prompt resulted in 256 tokens/);
  });

  test('the OpenAI routes never cut: BadRequestError with the code and param, streamed or not', async () => {
    const openai = new OpenAI({ baseURL: `${engine.url}/v1`, apiKey: 'unused-by-the-engine', maxRetries: 0 });
    const refused = (param: string) => (err: unknown) => {
      assert.ok(err instanceof BadRequestError, String(err));
      assert.equal(err.code, 'context_length_exceeded');
      assert.equal(err.param, param);
      assert.match(err.message, /maximum context length is 256 tokens/);
      return true;
    };
    const messages = [{ role: 'user' as const, content: long }];
    await assert.rejects(openai.chat.completions.create({ model: 'tiny', messages, max_tokens: 2 }), refused('messages'));
    await assert.rejects(openai.chat.completions.create({ model: 'tiny', messages, max_tokens: 2, stream: true }), refused('messages'));
    await assert.rejects(openai.completions.create({ model: 'tiny', prompt: long, max_tokens: 2 }), refused('prompt'));
  });
});
