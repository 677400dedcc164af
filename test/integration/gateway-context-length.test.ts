// A prompt longer than the model's context, through the real daemon and its bundled engine: the
// gateway asks the backend not to truncate, and every surface answers 400 context_length_exceeded
// in its own shape (the openai SDK raises BadRequestError with code and param), before any stream
// starts and without a charge. /ollama passes the client's body as it is: Ollama's default cuts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { BadRequestError } from 'openai';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';

const MODEL = 'hearth-demo';
// About 3,000 tokens ("▁hello", "▁world" are pieces of the test model's vocabulary): past the
// engine's default context of 2,048.
const long = 'hello world '.repeat(1500);
const tooLong = /This model's maximum context length is 2048 tokens\. However, your (messages|prompt) resulted in \d+ tokens\./;

interface Credits {
  used: number;
  endpoints: Array<{ endpoint: string; calls: number; credits: number }>;
}

describe('gateway: a prompt longer than the context', () => {
  let d: DaemonProcess;
  const creditsOf = async (workspace: string): Promise<Credits> => {
    const r = await d.admin<{ credits: { used: number }; endpoints: Credits['endpoints'] }>('GET', `/api/admin/workspaces/${workspace}/usage`);
    assert.equal(r.status, 200);
    return { used: r.body.credits.used, endpoints: r.body.endpoints };
  };
  /** A refusal answered before the stream, so before the charge: nothing reserved is left, nothing settled. */
  const assertNothingCharged = async (workspace: string) => assert.deepEqual(await creditsOf(workspace), { used: 0, endpoints: [] });
  const post = async (key: string, path: string, body: unknown) => {
    const res = await fetch(`${d.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.text()) as string };
  };

  before(async () => {
    d = await startDaemonProcess();
  });
  after(async () => d?.stop());

  test('/v1 through the openai SDK: BadRequestError, code context_length_exceeded, param messages or prompt; streamed the same, before any chunk', async () => {
    const { key, workspace } = await d.keyFor('paid_chat');
    const client = new OpenAI({ baseURL: `${d.url}/v1`, apiKey: key, maxRetries: 0 });
    const refused = (param: string) => (err: unknown) => {
      assert.ok(err instanceof BadRequestError, String(err));
      assert.equal(err.status, 400);
      assert.equal(err.code, 'context_length_exceeded');
      assert.equal(err.param, param);
      assert.equal(err.type, 'invalid_request_error');
      assert.match(err.message, tooLong);
      return true;
    };
    const messages = [{ role: 'user' as const, content: long }];
    await assert.rejects(client.chat.completions.create({ model: MODEL, messages, max_tokens: 2 }), refused('messages'));
    await assert.rejects(client.chat.completions.create({ model: MODEL, messages, max_tokens: 2, stream: true }), refused('messages'));
    await assert.rejects(client.completions.create({ model: MODEL, prompt: long, max_tokens: 2 }), refused('prompt'));
    await assert.rejects(client.completions.create({ model: MODEL, prompt: long, max_tokens: 2, stream: true }), refused('prompt'));
    await assertNothingCharged(workspace);
  });

  test('a streamed /v1 chat is refused with the 400 itself, not an event in a stream', async () => {
    const { key, workspace } = await d.keyFor('paid_chat');
    const r = await post(key, '/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: long }], max_tokens: 2, stream: true });
    assert.equal(r.status, 400, r.body);
    assert.match(r.type, /^application\/json/);
    const { error } = JSON.parse(r.body) as { error: { code: string; param: string; type: string; message: string } };
    assert.deepEqual({ code: error.code, param: error.param, type: error.type }, { code: 'context_length_exceeded', param: 'messages', type: 'invalid_request_error' });
    await assertNothingCharged(workspace);
  });

  test("/api/v1: 400 context_length_exceeded in Hearth's shape, for chat, its stream and generate", async () => {
    const { key, workspace } = await d.keyFor('paid_chat');
    const calls: Array<[string, unknown]> = [
      ['/api/v1/chat', { model: MODEL, messages: [{ role: 'user', content: long }], max_tokens: 2 }],
      ['/api/v1/chat/stream', { model: MODEL, messages: [{ role: 'user', content: long }], max_tokens: 2 }],
      ['/api/v1/generate', { model: MODEL, prompt: long, max_tokens: 2 }],
    ];
    for (const [path, body] of calls) {
      const r = await post(key, path, body);
      assert.equal(r.status, 400, `${path}: ${r.body}`);
      assert.match(r.type, /^application\/json/, path);
      const { error } = JSON.parse(r.body) as { error: { code: string; type: string; message: string } };
      assert.equal(error.code, 'context_length_exceeded', path);
      assert.equal(error.type, 'invalid_request_error', path);
      assert.match(error.message, tooLong, path);
    }
    await assertNothingCharged(workspace);
  });

  test("/ollama passes the client's body through: truncate: false is refused in Ollama's shape; without it the prompt is cut, as Ollama does", async () => {
    const { key, workspace } = await d.keyFor('paid_chat');
    const chat = (extra: Record<string, unknown>) => post(key, '/ollama/api/chat', { model: MODEL, messages: [{ role: 'user', content: long }], stream: false, options: { num_predict: 1 }, ...extra });
    const refused = await chat({ truncate: false });
    assert.equal(refused.status, 400, refused.body);
    assert.match((JSON.parse(refused.body) as { error: string }).error, tooLong);
    await assertNothingCharged(workspace);
    const cut = await chat({});
    assert.equal(cut.status, 200, cut.body);
    assert.equal((JSON.parse(cut.body) as { done: boolean }).done, true);
  });
});
