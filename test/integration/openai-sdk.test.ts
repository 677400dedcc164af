// The official `openai` npm SDK against /v1 of the real daemon, its bundled engine and the demo
// model (random weights: answers are noise, so the tests check shapes, counts and charges).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { AuthenticationError, BadRequestError, NotFoundError, PermissionDeniedError, RateLimitError } from 'openai';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';

const MODEL = 'hearth-demo';
const hi = [{ role: 'user' as const, content: 'Say hi.' }];

interface Credits {
  used: number;
  endpoints: Array<{ endpoint: string; calls: number; credits: number }>;
}
const inFlight = (c: Credits) => c.used - c.endpoints.reduce((n, e) => n + e.credits, 0);

describe('the OpenAI SDK against /v1', () => {
  let d: DaemonProcess;
  /** Each test's key is its own workspace's, so its charges are its own. */
  const clientFor = (apiKey: string, options: ConstructorParameters<typeof OpenAI>[0] = {}) => new OpenAI({ baseURL: `${d.url}/v1`, apiKey, maxRetries: 0, ...options });
  const freshClient = async (plan = 'paid_chat', opts: Parameters<DaemonProcess['keyFor']>[1] = {}) => {
    const k = await d.keyFor(plan, opts);
    return { ...k, client: clientFor(k.key) };
  };
  const creditsOf = async (workspace: string): Promise<Credits> => {
    const r = await d.admin<{ credits: { used: number }; endpoints: Credits['endpoints'] }>('GET', `/api/admin/workspaces/${workspace}/usage`);
    assert.equal(r.status, 200);
    return { used: r.body.credits.used, endpoints: r.body.endpoints };
  };
  /** Polls until `done` holds: waits on the daemon's state, never on a duration. */
  const creditsWhen = async (workspace: string, done: (c: Credits) => boolean, what: string): Promise<Credits> => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const c = await creditsOf(workspace);
      if (done(c)) return c;
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}: ${JSON.stringify(c)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const byEndpoint = (c: Credits) => Object.fromEntries(c.endpoints.map((e) => [e.endpoint, [e.calls, e.credits]]));

  before(async () => {
    d = await startDaemonProcess();
  });
  after(async () => d?.stop());

  test('chat: a chat.completion with usage; developer role, content parts and fields with no effect accepted', async () => {
    const { client } = await freshClient();
    const r = await client.chat.completions.create({
      model: MODEL,
      messages: [
        { role: 'developer', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'Say' }, { type: 'text', text: ' hi.' }] },
      ],
      max_completion_tokens: 6,
      temperature: 0.5,
      top_p: 0.9,
      seed: 7,
      stop: ['\n\n'],
      presence_penalty: 0.1,
      frequency_penalty: 0.1,
      user: 'someone',
      metadata: { a: 'b' },
      store: false,
      service_tier: 'auto',
      stream_options: null,
    });
    assert.equal(r.object, 'chat.completion');
    assert.match(r.id, /^chatcmpl-/);
    assert.equal(r.model, MODEL);
    assert.equal(typeof r.created, 'number');
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0]!.index, 0);
    assert.equal(r.choices[0]!.message.role, 'assistant');
    assert.equal(typeof r.choices[0]!.message.content, 'string');
    assert.ok(['stop', 'length'].includes(r.choices[0]!.finish_reason), r.choices[0]!.finish_reason);
    assert.ok(r.usage!.prompt_tokens > 0);
    assert.ok(r.usage!.completion_tokens >= 1 && r.usage!.completion_tokens <= 6, String(r.usage!.completion_tokens));
    assert.equal(r.usage!.total_tokens, r.usage!.prompt_tokens + r.usage!.completion_tokens);
  });

  test('streamed chat: role first, chunks alike, finish_reason last, then the usage chunk; the counts are those of the same call unstreamed', async () => {
    const { client } = await freshClient();
    const whole = await client.chat.completions.create({ model: MODEL, messages: hi, max_tokens: 8, seed: 1, temperature: 0 });
    const stream = await client.chat.completions.create({ model: MODEL, messages: hi, max_tokens: 8, seed: 1, temperature: 0, stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    assert.ok(chunks.length >= 3, JSON.stringify(chunks));
    for (const c of chunks) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(c.id, chunks[0]!.id);
      assert.equal(c.model, MODEL);
      assert.equal(typeof c.created, 'number');
    }
    assert.deepEqual(chunks[0]!.choices[0]!.delta, { role: 'assistant', content: '' });
    const usageChunk = chunks.at(-1)!;
    assert.deepEqual(usageChunk.choices, []);
    const withChoices = chunks.slice(0, -1);
    for (const c of withChoices) {
      assert.equal(c.usage, null, 'the other chunks carry usage: null');
      assert.equal(c.choices.length, 1);
      assert.equal(c.choices[0]!.index, 0);
    }
    assert.ok(withChoices.slice(0, -1).every((c) => c.choices[0]!.finish_reason === null));
    const last = withChoices.at(-1)!.choices[0]!;
    assert.equal(last.finish_reason, whole.choices[0]!.finish_reason);
    const text = withChoices.map((c) => c.choices[0]!.delta.content ?? '').join('');
    assert.equal(text, whole.choices[0]!.message.content, 'temperature 0 and one seed: the same answer');
    assert.deepEqual(usageChunk.usage, whole.usage);
  });

  test('response_format json_schema: the backend grammar makes the answer parse', async () => {
    const { client } = await freshClient();
    const r = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Answer yes or no, as JSON.' }],
      max_tokens: 64,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'answer', strict: true, schema: { type: 'object', properties: { answer: { type: 'string', enum: ['yes', 'no'] } }, required: ['answer'], additionalProperties: false } },
      },
    });
    assert.equal(r.choices[0]!.finish_reason, 'stop', r.choices[0]!.message.content ?? '');
    const parsed = JSON.parse(r.choices[0]!.message.content!) as { answer: string };
    assert.ok(['yes', 'no'].includes(parsed.answer), JSON.stringify(parsed));
  });

  test('completions: a text_completion, whole and streamed with usage', async () => {
    const { client } = await freshClient();
    const r = await client.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 5 });
    assert.equal(r.object, 'text_completion');
    assert.equal(typeof r.choices[0]!.text, 'string');
    assert.ok(['stop', 'length'].includes(r.choices[0]!.finish_reason));
    assert.equal(r.usage!.total_tokens, r.usage!.prompt_tokens + r.usage!.completion_tokens);
    const stream = await client.completions.create({ model: MODEL, prompt: ['Once upon a time'], max_tokens: 5, stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.Completions.Completion[] = [];
    for await (const c of stream) chunks.push(c);
    assert.deepEqual(chunks.at(-1)!.choices, []);
    assert.equal(chunks.at(-1)!.usage!.prompt_tokens, r.usage!.prompt_tokens);
    assert.ok(['stop', 'length'].includes(chunks.at(-2)!.choices[0]!.finish_reason));
  });

  test("embeddings: the SDK's default (base64) decodes to the model's vectors; floats alike; dimensions kept", async () => {
    const { client } = await freshClient();
    const input = ['a hearth', 'a fire'];
    const b64 = await client.embeddings.create({ model: MODEL, input });
    const floats = await client.embeddings.create({ model: MODEL, input, encoding_format: 'float' });
    assert.equal(b64.object, 'list');
    assert.equal(b64.data.length, 2);
    assert.deepEqual(
      b64.data.map((e) => e.index),
      [0, 1],
    );
    const dim = floats.data[0]!.embedding.length;
    assert.ok(dim > 0);
    for (const [i, e] of b64.data.entries()) {
      assert.equal(e.embedding.length, dim, 'decoded as float32s: one number per dimension');
      e.embedding.forEach((x, j) => assert.ok(Math.abs(x - floats.data[i]!.embedding[j]!) < 1e-6, `${i}/${j}`));
    }
    assert.ok(b64.usage.prompt_tokens > 0);
    const short = await client.embeddings.create({ model: MODEL, input: 'a hearth', dimensions: 4, encoding_format: 'float' });
    assert.equal(short.data[0]!.embedding.length, 4);
    // The raw answer to base64 is a string: the SDK really asked for it.
    const raw = await fetch(`${d.url}/v1/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${client.apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, input: 'x', encoding_format: 'base64' }) });
    const body = (await raw.json()) as { data: Array<{ embedding: string }> };
    assert.equal(Buffer.from(body.data[0]!.embedding, 'base64').length, dim * 4);
    // Token ids cannot go through the backend's API: refused by name, not misread.
    await assert.rejects(client.embeddings.create({ model: MODEL, input: [1, 2, 3] }), (e: unknown) => e instanceof BadRequestError && e.code === 'token_ids_unsupported' && e.param === 'input');
  });

  test('models: list and retrieve what the key may use; an unknown id is a NotFoundError', async () => {
    const { client } = await freshClient();
    const list = await client.models.list();
    const demo = list.data.find((m) => m.id === `${MODEL}:latest`);
    assert.ok(demo, JSON.stringify(list.data));
    assert.equal(demo.object, 'model');
    assert.equal(typeof demo.created, 'number');
    assert.equal(typeof demo.owned_by, 'string');
    assert.deepEqual(await client.models.retrieve(`${MODEL}:latest`), demo);
    assert.deepEqual(await client.models.retrieve(MODEL), demo, 'without its tag, :latest');
    await assert.rejects(client.models.retrieve('no-such-model'), (e: unknown) => e instanceof NotFoundError && e.code === 'model_not_found');
  });

  test('errors: bad key, missing scope, unknown model, n > 1, unsupported options, each the SDK class it must be', async () => {
    const { client } = await freshClient();
    await assert.rejects(clientFor('hth_wrong').chat.completions.create({ model: MODEL, messages: hi, max_tokens: 1 }), AuthenticationError);
    const noChat = clientFor((await d.keyFor('chat_agent', { scopes: ['chat_agent'] })).key);
    await assert.rejects(noChat.chat.completions.create({ model: MODEL, messages: hi, max_tokens: 1 }), (e: unknown) => e instanceof PermissionDeniedError && e.code === 'missing_scope');
    assert.ok((await noChat.models.list()).data.length > 0, 'listing models needs any valid key');
    await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages: hi, max_tokens: 1 }), (e: unknown) => e instanceof NotFoundError && e.code === 'model_not_found' && e.param === 'model');
    await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages: hi, max_tokens: 1, stream: true }), NotFoundError);
    await assert.rejects(client.chat.completions.create({ model: MODEL, messages: hi, max_tokens: 1, n: 2 }), (e: unknown) => e instanceof BadRequestError && e.param === 'n' && /\bn\b/.test(e.message));
    await assert.rejects(client.chat.completions.create({ model: MODEL, messages: hi, max_tokens: 1, logprobs: true }), (e: unknown) => e instanceof BadRequestError && e.param === 'logprobs');
    await assert.rejects(
      client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] }], max_tokens: 1 }),
      (e: unknown) => e instanceof BadRequestError && e.code === 'images_unsupported' && e.param === 'messages[0].content',
    );
    await assert.rejects(
      client.chat.completions.create({ model: MODEL, messages: hi, max_tokens: 1, tools: [{ type: 'function', function: { name: 'now', parameters: { type: 'object', properties: {} } } }] }),
      (e: unknown) => e instanceof BadRequestError && e.code === 'tools_unsupported' && e.param === 'tools',
    );
    await assert.rejects(client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 5 as unknown as string }], max_tokens: 1 }), (e: unknown) => e instanceof BadRequestError && e.param === 'messages[0].content');
  });

  test('spent credits: a RateLimitError with code insufficient_quota, which the SDK does not retry', async () => {
    let calls = 0;
    const k = await d.keyFor('paid_chat', { credits: 1 });
    const counting: typeof fetch = (input, init) => {
      calls++;
      return fetch(input, init);
    };
    // The SDK's own retry policy (2 retries): the answer must tell it not to.
    const client = clientFor(k.key, { maxRetries: 2, fetch: counting });
    await client.chat.completions.create({ model: MODEL, messages: hi, max_tokens: 1 });
    calls = 0;
    await assert.rejects(client.chat.completions.create({ model: MODEL, messages: hi, max_tokens: 1 }), (e: unknown) => e instanceof RateLimitError && e.code === 'insufficient_quota' && e.type === 'insufficient_quota');
    assert.equal(calls, 1, 'not retried');
  });

  test('every call shows in the usage exactly as priced; a refused one costs nothing', async () => {
    const { client, workspace, key } = await freshClient();
    await client.chat.completions.create({ model: MODEL, messages: hi, max_tokens: 2 });
    for await (const _ of await client.chat.completions.create({ model: MODEL, messages: hi, max_tokens: 2, stream: true })) void _;
    await client.completions.create({ model: MODEL, prompt: 'x', max_tokens: 2 });
    await client.embeddings.create({ model: MODEL, input: 'x' });
    await client.models.list();
    await client.models.retrieve(MODEL);
    await assert.rejects(client.chat.completions.create({ model: MODEL, messages: hi, n: 2 }), BadRequestError);
    const c = await creditsWhen(workspace, (x) => inFlight(x) === 0, 'every call is concluded');
    assert.equal(c.used, 4);
    assert.deepEqual(byEndpoint(c), { 'POST /v1/chat/completions': [2, 2], 'POST /v1/completions': [1, 1], 'POST /v1/embeddings': [1, 1] });
    // The key's own view says the same.
    const own = (await (await fetch(`${d.url}/api/v1/usage`, { headers: { authorization: `Bearer ${key}` } })).json()) as Credits & { credits: { used: number } };
    assert.equal(own.credits.used, 4);
  });

  test('a stream abandoned before its first token is not charged', async () => {
    const { client, workspace } = await freshClient('paid_chat', { credits: 100 });
    const controller = new AbortController();
    // A long prompt, about 1,800 tokens, within the context of 2,048 (a longer one is refused):
    // its processing keeps the first token seconds away.
    const long = 'hello world '.repeat(900);
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: long }], max_tokens: 4, stream: true }, { signal: controller.signal });
    const reserved = await creditsOf(workspace);
    assert.deepEqual(reserved, { used: 1, endpoints: [] }, 'the stream is open, its credit reserved, nothing settled');
    controller.abort();
    // The SDK ends (or throws from) an aborted stream, depending on where the abort finds it.
    const seen: unknown[] = [];
    try {
      for await (const c of stream) seen.push(c);
    } catch {
      // aborted
    }
    assert.deepEqual(seen, [], 'no chunk reached the client');
    const concluded = await creditsWhen(workspace, (x) => inFlight(x) === 0, 'the abandoned stream is concluded');
    assert.deepEqual(concluded, { used: 0, endpoints: [] }, 'released, not settled');
  });
});
