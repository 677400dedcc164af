// Rate limits, the engine killed mid-stream, and bad input across every route.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';

const MODEL = 'hearth-demo';

/** Health with the admin token: the engine's pid is a detail for the operator only. */
async function health(d: DaemonProcess) {
  return (await d.admin<{ backend: { state: string; pid?: number }; status: string }>('GET', '/api/v1/health')).body;
}

describe('gateway: rate limits and bad input', () => {
  let d: DaemonProcess;
  let key: string;
  before(async () => {
    d = await startDaemonProcess();
    key = (await d.keyFor('paid_chat')).key;
  });
  after(async () => d?.stop());

  test('past the plan limit: 429 rate_limit_exceeded with Retry-After; headers count down', async () => {
    assert.equal((await d.admin('PATCH', '/api/admin/plans/trial_chat', { rpm: 3 })).status, 200);
    const { key: trial } = await d.keyFor('trial_chat');
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${d.url}/api/v1/usage`, { headers: { 'x-api-key': trial } });
      assert.equal(r.status, 200);
      remaining.push(r.headers.get('x-ratelimit-remaining') ?? '');
    }
    assert.deepEqual(remaining, ['2', '1', '0']);
    const over = await fetch(`${d.url}/api/v1/usage`, { headers: { 'x-api-key': trial } });
    assert.equal(over.status, 429);
    assert.match(over.headers.get('retry-after') ?? '', /^\d+$/);
    assert.equal(over.headers.get('x-ratelimit-limit'), '3');
    const e = (await over.json()) as { error: { type: string; code: string } };
    assert.equal(e.error.code, 'rate_limit_exceeded');
    await d.admin('PATCH', '/api/admin/plans/trial_chat', { rpm: 60 });
  });

  test('bad input on every route → 4xx with the error object, never 5xx', async () => {
    const h = { 'x-api-key': key };
    const big = 'x'.repeat(2 * 1024 * 1024);
    const cases: Array<[string, string, string | undefined, number, RegExp]> = [
      ['POST', '/api/v1/chat', '{"model": "x", "messages": [', 400, /JSON/],
      ['POST', '/api/v1/chat', JSON.stringify({ model: MODEL }), 400, /messages/],
      ['POST', '/api/v1/chat', JSON.stringify({ model: MODEL, messages: 'hi' }), 400, /messages/],
      ['POST', '/api/v1/chat', JSON.stringify({ model: MODEL, messages: [{ role: 'robot', content: 'x' }] }), 400, /role/],
      ['POST', '/api/v1/chat', JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }], temperature: 3 }), 400, /temperature/],
      ['POST', '/api/v1/chat', JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 0 }), 400, /max_tokens/],
      ['POST', '/api/v1/chat', JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 20000 }), 400, /max_tokens/],
      ['POST', '/api/v1/chat', JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }], top_p: 'high' }), 400, /top_p/],
      ['POST', '/api/v1/chat', JSON.stringify({ model: '../../etc/passwd', messages: [{ role: 'user', content: 'x' }] }), 400, /model/],
      ['POST', '/api/v1/chat', JSON.stringify({ model: 'ghost', messages: [{ role: 'user', content: 'x' }] }), 404, /ghost/],
      ['POST', '/api/v1/chat', JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: big }] }), 413, /too large/],
      // OpenAI's habit of asking for events with stream: true; here that is /chat/stream.
      ['POST', '/api/v1/chat', JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }], stream: true }), 400, /^stream: .*false/],
      ['POST', '/api/v1/generate', JSON.stringify({ model: MODEL, prompt: 'x', stream: true }), 400, /^stream: .*false/],
      ['POST', '/api/v1/chat/stream', JSON.stringify({ model: 'ghost', messages: [{ role: 'user', content: 'x' }] }), 404, /ghost/],
      ['POST', '/api/v1/chat/stream', JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }], seed: -1 }), 400, /seed/],
      ['POST', '/api/v1/generate', JSON.stringify({ model: MODEL }), 400, /prompt/],
      ['POST', '/api/v1/generate', JSON.stringify({ model: MODEL, prompt: 5 }), 400, /prompt/],
      ['POST', '/api/v1/generate', JSON.stringify({ model: 'ghost', prompt: 'x' }), 404, /ghost/],
      ['GET', '/api/v1/usage?period=bogus', undefined, 400, /period/],
      ['GET', '/api/v1/nothing', undefined, 404, /no route/],
    ];
    for (const [method, path, body, status, message] of cases) {
      const r = await fetch(`${d.url}${path}`, { method, headers: h, body });
      const text = await r.text();
      assert.equal(r.status, status, `${method} ${path} ${body?.slice(0, 80)} → ${text}`);
      const e = JSON.parse(text) as { error: { message: string; type: string; code: string } };
      assert.ok(e.error.type && e.error.code, text);
      assert.match(e.error.message, message, text);
      assert.doesNotMatch(text, /at .*\.js:\d+/);
    }
    // An unknown plan named in a body is a bad request that names it.
    const admin = await d.admin<{ error: { message: string } }>('POST', '/api/admin/workspaces', { name: 'x', plan: 'no_such_plan' });
    assert.equal(admin.status, 400);
    assert.match(admin.body.error.message, /no_such_plan/);
    const unknownField = await d.admin<{ error: { message: string } }>('POST', '/api/admin/workspaces', { name: 'x', plan: 'paid_chat', colour: 'red' });
    assert.equal(unknownField.status, 400);
    assert.match(unknownField.body.error.message, /colour/);
    const u = (await (await fetch(`${d.url}/api/v1/usage`, { headers: h })).json()) as { credits: { used: number } };
    assert.equal(u.credits.used, 0, 'nothing was charged');
  });
});

describe('gateway: the engine dies mid-stream', () => {
  let d: DaemonProcess;
  before(async () => {
    d = await startDaemonProcess();
  });
  after(async () => d?.stop());

  test('error event for the stream, 503 until the supervisor restarts it, then success; failures not charged', async () => {
    const { key } = await d.keyFor('paid_chat');
    const h = { 'x-api-key': key };
    const res = await fetch(`${d.url}/api/v1/chat/stream`, { method: 'POST', headers: h, body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'go' }], max_tokens: 16000 }) });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    // Wait for a real token (not a heartbeat): from then on the stream counts as charged.
    let head = '';
    while (!head.includes('data: {"token"')) head += new TextDecoder().decode((await reader.read()).value);
    const pid = (await health(d)).backend.pid;
    assert.ok(pid, 'health reports the engine pid');
    process.kill(pid, 'SIGKILL');
    let rest = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    assert.match(rest, /event: error\ndata: \{"error":/);
    let saw503 = false;
    let adminSaw503 = false;
    let recovered = false;
    for (let i = 0; i < 300 && !recovered; i++) {
      const r = await fetch(`${d.url}/api/v1/chat`, { method: 'POST', headers: h, body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 1 }) });
      if (r.status === 503) {
        saw503 = true;
        assert.match(r.headers.get('retry-after') ?? '', /^\d+$/);
        assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'backend_unavailable');
        // The operator's model listing needs the backend too: 503 while it is down (or 200 should it be back already).
        const listing = await d.admin<{ error?: { code: string } }>('GET', '/api/admin/models');
        assert.ok(listing.status === 503 || listing.status === 200, `admin models: ${listing.status}`);
        if (listing.status === 503) adminSaw503 = listing.body.error?.code === 'backend_unavailable';
        await new Promise((res2) => setTimeout(res2, 100));
      } else {
        assert.equal(r.status, 200, await r.text());
        recovered = true;
      }
    }
    assert.ok(saw503, 'calls got 503 while the engine was down');
    assert.ok(adminSaw503, 'GET /api/admin/models got 503 backend_unavailable while the engine was down');
    assert.ok(recovered, 'the supervisor restarted the engine');
    const u = (await (await fetch(`${d.url}/api/v1/usage`, { headers: h })).json()) as { credits: { used: number } };
    assert.equal(u.credits.used, 2, 'the stream that had sent tokens and the recovered call; no 503 was charged');
  });
});

describe('gateway: backend.request_timeout', () => {
  let d: DaemonProcess;
  before(async () => {
    // One slot at the engine: calls queue behind each other there, so the later ones outlast the
    // 1 s deadline whatever the machine's speed (each asks for ~2000 tokens, the demo model's
    // context). Hearth's fair queue admits more than that one slot (limits.backend_slots): held
    // in Hearth, a call's deadline would not start until the engine was free, and on a fast
    // machine each would then finish within its own second.
    d = await startDaemonProcess({ configYaml: 'backend:\n  request_timeout: 1s\nengine:\n  parallel: 1\nlimits:\n  backend_slots: 4\n' });
  });
  after(async () => d?.stop());

  test('calls past it get 503 backend_timeout (a started stream, an error event) and are not charged; the backend stays up', async () => {
    const { key } = await d.keyFor('paid_chat');
    const h = { 'x-api-key': key };
    const pid = (await health(d)).backend.pid;
    const short = () => d.api(key, 'POST', '/chat', { model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 2 });
    // The deadline counts a model load too (over 1 s here): retry until the model is loaded.
    let warm = await short();
    for (let i = 0; i < 30 && warm.status === 503; i++) warm = await short();
    assert.equal(warm.status, 200, JSON.stringify(warm.body));
    // ~2000 tokens (the demo model's whole context): 4-6 s on the reference machine, so the
    // stream is cut at 1 s after it has sent tokens; the chats wait behind it for the one slot.
    const long = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4096 });
    const sse = await fetch(`${d.url}/api/v1/chat/stream`, { method: 'POST', headers: h, body: long });
    assert.equal(sse.status, 200);
    const reader = sse.body!.getReader();
    let text = '';
    while (!text.includes('data: {"token"')) text += new TextDecoder().decode((await reader.read()).value);
    const chats = [0, 1, 2].map(() => fetch(`${d.url}/api/v1/chat`, { method: 'POST', headers: h, body: long }));

    for (let c = await reader.read(); !c.done; c = await reader.read()) text += new TextDecoder().decode(c.value);
    assert.match(text, /event: error\ndata: \{"error":\{[^\n]*"code":"backend_timeout"/);
    assert.doesNotMatch(text, /"done":true/);

    let ok = 0;
    let timedOut = 0;
    for (const res of await Promise.all(chats)) {
      if (res.status === 200) {
        ok++;
        continue;
      }
      assert.equal(res.status, 503, await res.clone().text());
      assert.match(res.headers.get('retry-after') ?? '', /^\d+$/);
      const e = ((await res.json()) as { error: { code: string; message: string } }).error;
      assert.equal(e.code, 'backend_timeout');
      assert.match(e.message, /request_timeout/);
      timedOut++;
    }
    assert.ok(timedOut >= 1, 'chats queued behind the stream outlived the deadline');

    const u = await d.api<{ credits: { used: number } }>(key, 'GET', '/usage');
    assert.equal(u.body.credits.used, 1 + 1 + ok, 'the warm-up, the stream (it had sent tokens) and answered chats only');
    const later = await health(d);
    assert.equal(later.backend.state, 'up');
    assert.equal(later.backend.pid, pid, 'a timeout is not a backend failure: no restart');
    const next = await short();
    assert.equal(next.status, 200, JSON.stringify(next.body));
  });
});
