// The real daemon on a temp data dir with the bundled engine and its demo model.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { waitUntil } from '../helpers/processes.js';

const MODEL = 'hearth-demo';
/** The demo model's default max_tokens, as the README gives it. */
const DEMO_MODEL_MAX_TOKENS = 64;

describe('gateway: /api/v1 surface', () => {
  let d: DaemonProcess;
  let key: string;
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${d.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key, ...headers }, body: JSON.stringify(body) });

  before(async () => {
    d = await startDaemonProcess();
    key = (await d.keyFor('paid_chat')).key;
  });
  after(async () => d?.stop());

  test('health needs no key and tells everyone the states; the details only to the admin token', async () => {
    const res = await fetch(`${d.url}/api/v1/health`);
    assert.equal(res.status, 200);
    const h = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(h).sort(), ['backend', 'database', 'status', 'version']);
    assert.deepEqual(h.backend, { state: 'up' }, "no kind, address or pid of the backend for anyone who reaches the port");
    assert.equal(h.status, 'ok');
    assert.equal(h.database, 'ok');
    assert.equal(typeof h.version, 'string');
    assert.equal(res.headers.get('x-ratelimit-limit'), null, 'no key, no rate-limit headers');
    assert.match(res.headers.get('vary') ?? '', /authorization/i, 'a cache must not give the admin answer to others');

    const admin = await d.admin<{ status: string; backend: { kind: string; url: string; state: string; pid: number; restarts: number }; uptime_s: number }>('GET', '/api/v1/health');
    assert.equal(admin.status, 200);
    assert.equal(admin.body.backend.kind, 'engine');
    assert.equal(admin.body.backend.state, 'up');
    assert.match(admin.body.backend.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(typeof admin.body.backend.pid, 'number');
    assert.equal(admin.body.backend.restarts, 0);
    assert.equal(typeof admin.body.uptime_s, 'number');

    // Another Bearer token (a workspace key, which clients send on every call, or a wrong admin
    // token) is the public answer, not a 401.
    for (const token of [key, `${d.adminToken}x`, 'hth_admin_wrong']) {
      const other = await fetch(`${d.url}/api/v1/health`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(other.status, 200, token);
      assert.deepEqual(((await other.json()) as { backend: unknown }).backend, { state: 'up' }, token);
    }
  });

  test('models lists the demo model, described as untrained', async () => {
    const res = await fetch(`${d.url}/api/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200);
    const { models } = (await res.json()) as { models: Array<Record<string, unknown>> };
    const demo = models.find((m) => m.id === `${MODEL}:latest`);
    assert.ok(demo, JSON.stringify(models));
    assert.match(String(demo.description), /untrained/i);
    for (const k of ['id', 'name', 'description', 'is_active', 'parameters', 'size', 'family', 'quantization', 'modified_at']) assert.ok(k in demo, k);
  });

  test("a chat on the demo model that leaves out max_tokens stops at the demo's default, which /models shows", async () => {
    // The README's first call as a newcomer may type it, without max_tokens: without a default the
    // untrained model generates to the end of its context (half a minute of noise on a CPU).
    const res = await post('/api/v1/chat', { model: MODEL, messages: [{ role: 'user', content: 'Hello' }] });
    assert.equal(res.status, 200);
    const c = (await res.json()) as { choices: Array<{ finish_reason: string }>; usage: { completion_tokens: number } };
    assert.equal(c.choices[0]?.finish_reason, 'length');
    assert.equal(c.usage.completion_tokens, DEMO_MODEL_MAX_TOKENS);
    const streamed = await (await post('/api/v1/chat/stream', { model: MODEL, messages: [{ role: 'user', content: 'Hello' }] })).text();
    assert.match(streamed, new RegExp(`"completion_tokens":${DEMO_MODEL_MAX_TOKENS}\\b`), 'the stream too');
    const listed = (await (await fetch(`${d.url}/api/v1/models`, { headers: { 'x-api-key': key } })).json()) as { models: Array<{ id: string; parameters: Record<string, unknown> }> };
    assert.deepEqual(listed.models.find((m) => m.id === `${MODEL}:latest`)?.parameters, { max_tokens: DEMO_MODEL_MAX_TOKENS });
  });

  test('chat answers in the chat.completion shape with usage', async () => {
    const res = await post('/api/v1/chat', { model: MODEL, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8, temperature: 0 });
    assert.equal(res.status, 200);
    const c = (await res.json()) as { id: string; object: string; created: number; model: string; choices: Array<{ index: number; message: { role: string; content: string }; finish_reason: string }>; usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } };
    assert.match(c.id, /^chatcmpl-/);
    assert.equal(c.object, 'chat.completion');
    assert.equal(c.model, MODEL);
    assert.equal(c.choices[0]?.message.role, 'assistant');
    assert.equal(c.choices[0]?.finish_reason, 'length');
    assert.equal(c.usage.completion_tokens, 8);
    assert.equal(c.usage.total_tokens, c.usage.prompt_tokens + 8);
    for (const h of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']) assert.match(res.headers.get(h) ?? '', /^\d+$/, h);
    assert.equal(res.headers.get('x-ratelimit-limit'), '300');
  });

  test('generate answers in the text_completion shape', async () => {
    const res = await post('/api/v1/generate', { model: MODEL, prompt: 'Summarize: hello', system: 'Be brief.', max_tokens: 5 });
    assert.equal(res.status, 200);
    const c = (await res.json()) as { object: string; choices: Array<{ text: string; index: number; finish_reason: string }>; usage: { completion_tokens: number } };
    assert.equal(c.object, 'text_completion');
    assert.equal(typeof c.choices[0]?.text, 'string');
    assert.equal(c.usage.completion_tokens, 5);
  });

  test('chat/stream: token events, then done with usage, then [DONE]', async () => {
    const res = await post('/api/v1/chat/stream', { model: MODEL, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 6, temperature: 0 });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const text = await res.text();
    const data = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
    assert.equal(data.at(-1), '[DONE]');
    const done = JSON.parse(data.at(-2)!) as { done: boolean; finish_reason: string; usage: { completion_tokens: number } };
    assert.equal(done.done, true);
    assert.equal(done.finish_reason, 'length');
    assert.equal(done.usage.completion_tokens, 6);
    const tokens = data.slice(0, -2).map((x) => (JSON.parse(x) as { token: string }).token);
    assert.ok(tokens.length >= 1 && tokens.every((t) => typeof t === 'string'));
    const whole = (await (await post('/api/v1/chat', { model: MODEL, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 6, temperature: 0 })).json()) as { choices: Array<{ message: { content: string } }> };
    assert.equal(tokens.join(''), whole.choices[0]?.message.content, 'streamed tokens make the same text');
  });

  test('usage reports plan, period, credits and the per-endpoint breakdown', async () => {
    // A workspace of its own: what the other tests spent is not this one's.
    const { key: own } = await d.keyFor('paid_chat');
    const call = async (path: string, body: unknown) => {
      const r = await post(path, body, { 'x-api-key': own });
      assert.equal(r.status, 200, path);
      await r.arrayBuffer();
    };
    const messages = [{ role: 'user', content: 'Hello' }];
    await call('/api/v1/chat', { model: MODEL, messages, max_tokens: 1 });
    await call('/api/v1/chat', { model: MODEL, messages, max_tokens: 1 });
    await call('/api/v1/chat/stream', { model: MODEL, messages, max_tokens: 1 });
    await call('/api/v1/generate', { model: MODEL, prompt: 'Hello', max_tokens: 1 });
    const res = await fetch(`${d.url}/api/v1/usage`, { headers: { 'x-api-key': own } });
    assert.equal(res.status, 200);
    const u = (await res.json()) as { plan: { id: string }; period: { id: string }; credits: { limit: number; used: number; remaining: number }; endpoints: Array<{ endpoint: string; calls: number; credits: number }> };
    assert.equal(u.plan.id, 'paid_chat');
    assert.match(u.period.id, /^\d{4}-\d{2}$/);
    assert.deepEqual(u.credits, { limit: 600_000, used: 4, remaining: 599_996 });
    assert.deepEqual(u.endpoints, [
      { endpoint: 'POST /chat', calls: 2, credits: 2 },
      { endpoint: 'POST /chat/stream', calls: 1, credits: 1 },
      { endpoint: 'POST /generate', calls: 1, credits: 1 },
    ]);
  });

  test('X-Request-Id is echoed; the access log has the key id and never the key', async () => {
    const res = await fetch(`${d.url}/api/v1/usage`, { headers: { 'x-api-key': key, 'x-request-id': 'trace-123' } });
    assert.equal(res.headers.get('x-request-id'), 'trace-123');
    await waitUntil(() => d.logs.some((l) => l.request_id === 'trace-123'), 10_000, 'the access line is written');
    const line = d.logs.find((l) => l.request_id === 'trace-123');
    assert.ok(line, 'access line written');
    assert.match(String(line.key_id), /^[a-z0-9]{16}$/);
    assert.equal(line.status, 200);
    const secret = key.split('_').slice(2).join('_');
    assert.ok(!d.stdout.some((l) => l.includes(secret)), 'the key never appears in the logs');
  });

  test('access lines give the path as sent and the operation it is, the same way on every surface', async () => {
    const { key: trainKey } = await d.keyFor('chat_agent_train');
    const calls: Array<[string, string, string, string | undefined]> = [
      // [request id, method, path, expected route]
      ['acc-chat', 'POST', '/api/v1/chat', '/api/v1/chat'],
      ['acc-usage', 'GET', '/api/v1/usage', '/api/v1/usage'],
      ['acc-health', 'GET', '/api/v1/health', '/api/v1/health'],
      ['acc-job', 'GET', '/api/v1/finetune/jobs/ftjob_0000000000000000', '/api/v1/finetune/jobs/:id'],
      // Refused by the contract (the id's pattern), but that operation all the same.
      ['acc-job-bad', 'GET', '/api/v1/finetune/jobs/ftjob_nope', '/api/v1/finetune/jobs/:id'],
      // HEAD is logged as sent, as the GET operation it is.
      ['acc-head', 'HEAD', '/api/v1/usage', '/api/v1/usage'],
      ['acc-admin', 'GET', '/api/admin/plans', '/api/admin/plans'],
      ['acc-none', 'GET', '/api/v1/nothing-here', undefined],
      ['acc-case', 'GET', '/api/v1/USAGE', undefined],
    ];
    for (const [id, method, path] of calls) {
      const auth: Record<string, string> = path.startsWith('/api/admin') ? { authorization: `Bearer ${d.adminToken}` } : { 'x-api-key': path.includes('finetune') ? trainKey : key };
      const body = method === 'POST' ? JSON.stringify({ model: 'hearth-demo', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 }) : undefined;
      await (await fetch(`${d.url}${path}`, { method, headers: { ...auth, 'x-request-id': id }, body })).arrayBuffer();
    }
    await waitUntil(() => calls.every(([id]) => d.logs.some((l) => l.request_id === id)), 10_000, 'every access line is written');
    for (const [id, method, path, route] of calls) {
      const line = d.logs.find((l) => l.request_id === id);
      assert.ok(line, id);
      assert.equal(line.method, method, id);
      assert.equal(line.path, path, id);
      assert.equal(line.route, route, id);
    }
  });

  test('the OpenAPI document and an offline Swagger UI are served', async () => {
    const spec = (await (await fetch(`${d.url}/api/v1/openapi.json`)).json()) as { openapi: string; servers: unknown; paths: Record<string, unknown> };
    assert.equal(spec.openapi, '3.1.0');
    assert.deepEqual(spec.servers, [{ url: '/' }], 'no public_base_url: the address the page came from');
    for (const p of ['/api/v1/health', '/api/v1/models', '/api/v1/chat', '/api/v1/chat/stream', '/api/v1/generate', '/api/v1/usage']) assert.ok(p in spec.paths, p);
    const page = await fetch(`${d.url}/docs/`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /swagger-ui/);
    assert.doesNotMatch(html, /https?:\/\/(?!localhost)[a-z]/i, 'no external asset');
    const init = await (await fetch(`${d.url}/docs/swagger-initializer.js`)).text();
    assert.match(init, /\/api\/v1\/openapi\.json/);
    assert.equal((await fetch(`${d.url}/docs/swagger-ui-bundle.js`)).status, 200);
  });
});

describe('gateway: public_base_url and request limits from config', () => {
  let d: DaemonProcess;
  before(async () => {
    d = await startDaemonProcess({ env: { HEARTH_PUBLIC_BASE_URL: 'https://ai.example.lan/hearth/' }, configYaml: 'limits:\n  max_messages: 2\n  max_tokens: 4\n' });
  });
  after(async () => d?.stop());

  test('the served contract names it as the server, and requests without its prefix still validate', async () => {
    const spec = (await (await fetch(`${d.url}/api/v1/openapi.json`)).json()) as { servers: Array<{ url: string }> };
    assert.deepEqual(spec.servers.map((s) => s.url), ['https://ai.example.lan/hearth']);
    const { key } = await d.keyFor('paid_chat');
    const res = await d.api(key, 'POST', '/chat', { model: MODEL, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 2 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const bad = await d.api(key, 'POST', '/chat', { model: MODEL, messages: [], max_tokens: 2 });
    assert.equal(bad.status, 400, 'the contract still applies');
  });

  test('limits.max_tokens and limits.max_messages bound requests, and the served contract states them', async () => {
    const { key } = await d.keyFor('paid_chat');
    type ErrorBody = { error: { type: string; message: string } };
    const chat = (body: unknown) => d.api<ErrorBody>(key, 'POST', '/chat', body);
    const msg = { role: 'user', content: 'Hello' };
    assert.equal((await chat({ model: MODEL, messages: [msg, msg], max_tokens: 4 })).status, 200);
    const tokens = await chat({ model: MODEL, messages: [msg], max_tokens: 5 });
    assert.equal(tokens.status, 400);
    assert.equal(tokens.body.error.type, 'invalid_request_error');
    assert.match(tokens.body.error.message, /max_tokens/);
    const messages = await chat({ model: MODEL, messages: [msg, msg, msg], max_tokens: 1 });
    assert.equal(messages.status, 400);
    assert.match(messages.body.error.message, /messages/);
    const spec = (await (await fetch(`${d.url}/api/v1/openapi.json`)).json()) as {
      components: { schemas: { Sampling: { properties: { max_tokens: { maximum: number } } }; ChatRequest: { allOf: Array<{ properties?: { messages?: { maxItems: number } } }> } } };
    };
    assert.equal(spec.components.schemas.Sampling.properties.max_tokens.maximum, 4);
    assert.equal(spec.components.schemas.ChatRequest.allOf.find((p) => p.properties?.messages)?.properties?.messages?.maxItems, 2);
    const usage = await d.api<{ credits: { used: number } }>(key, 'GET', '/usage');
    assert.equal(usage.body.credits.used, 1, 'only the call that passed was charged');
  });
});
