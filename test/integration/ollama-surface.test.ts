// Ollama's API at /ollama, through the official `ollama` npm client with a Bearer key, against
// the real daemon, engine and ledger: what a workspace sees, what each call costs, and the
// model-changing routes kept within what a workspace owns.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Ollama } from 'ollama';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';

const MODEL = 'hearth-demo';
const user = [{ role: 'user', content: 'hi' }];

interface Usage {
  credits: { used: number };
  endpoints: Array<{ endpoint: string; calls: number; credits: number }>;
}

/** The ollama client as Open WebUI, Continue or a script would configure it: base URL and a Bearer key. */
const clientFor = (d: DaemonProcess, key: string) => new Ollama({ host: `${d.url}/ollama`, headers: { Authorization: `Bearer ${key}` } });

async function usageOf(d: DaemonProcess, key: string): Promise<Usage> {
  const r = await d.api<Usage>(key, 'GET', '/usage');
  assert.equal(r.status, 200);
  return r.body;
}

/** The catalog's price of each endpoint, as the operator has it now. */
async function prices(d: DaemonProcess): Promise<Map<string, number>> {
  const r = await d.admin<{ endpoints: Array<{ endpoint: string; credits: number }> }>('GET', '/api/admin/endpoints');
  return new Map(r.body.endpoints.map((e) => [e.endpoint, e.credits]));
}

/** The ledger's rows for a workspace, read from the daemon's own database file. */
function ledgerOf(d: DaemonProcess, workspace: string): Array<{ endpoint: string; kind: string; credits: number }> {
  const db = new Database(join(d.dataDir, 'hearth.db'), { readonly: true });
  try {
    return db
      .prepare('SELECT l.endpoint, l.kind, l.credits FROM ledger l JOIN workspaces w ON w.id = l.workspace_id WHERE w.name = ? ORDER BY l.seq')
      .all(workspace) as Array<{ endpoint: string; kind: string; credits: number }>;
  } finally {
    db.close();
  }
}

/** Settled credits per endpoint in the ledger (reserve rows concluded by a settle). */
function settledByEndpoint(rows: ReturnType<typeof ledgerOf>): Record<string, { calls: number; credits: number }> {
  const out: Record<string, { calls: number; credits: number }> = {};
  for (const r of rows.filter((r) => r.kind === 'settle')) {
    const e = (out[r.endpoint] ??= { calls: 0, credits: 0 });
    e.calls += 1;
    e.credits += r.credits;
  }
  return out;
}

/** Polls until `done` holds (the daemon's state, never a duration). */
async function until<T>(read: () => Promise<T> | T, done: (v: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The error an ollama client call raised: its status and Ollama's `error` string. */
async function failure(p: Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { status_code?: number; message?: string };
    return { status: e.status_code ?? 0, message: e.message ?? '' };
  }
  throw new Error('the call succeeded');
}

describe('the Ollama API at /ollama', () => {
  let d: DaemonProcess;
  before(async () => {
    // One generation slot, so that a call can be held waiting behind another (the abort test).
    // One engine slot, two calls admitted by Hearth: the second waits in the engine's own queue,
    // admitted and reserved but without a line yet (the abandoned-stream test needs that state).
    d = await startDaemonProcess({ env: { HEARTH_ENGINE_PARALLEL: '1', HEARTH_LIMITS_BACKEND_SLOTS: '2' } });
  });
  after(async () => d?.stop());
  // Loading and unloading (test 3 does both) can keep the one-thread engine from answering its
  // health check for a moment, and the daemon then reports the backend down until the next one:
  // each test starts with the backend up, as the daemon sees it.
  beforeEach(async () => {
    await until(async () => ((await (await fetch(`${d.url}/api/v1/health`)).json()) as { backend: { state: string } }).backend.state, (s) => s === 'up', 'the backend is up');
  });

  test('the probes: GET and HEAD /ollama answer "Ollama is running" without a key; /api/version needs one', async () => {
    for (const path of ['/ollama', '/ollama/']) {
      const r = await fetch(`${d.url}${path}`);
      assert.equal(r.status, 200, path);
      assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
      assert.equal(await r.text(), 'Ollama is running');
      assert.equal((await fetch(`${d.url}${path}`, { method: 'HEAD' })).status, 200);
    }
    const { key } = await d.keyFor('paid_chat');
    const v = await clientFor(d, key).version();
    assert.match(v.version, /^\d+\.\d+\.\d+$/);
    const [major, minor] = v.version.split('.').map(Number) as [number, number];
    assert.ok(major > 0 || minor >= 1, `an Ollama-like version Open WebUI accepts (≥ 0.1.16): ${v.version}`);
    const anonymous = await fetch(`${d.url}/ollama/api/version`);
    assert.equal(anonymous.status, 401);
    assert.equal(typeof ((await anonymous.json()) as { error: unknown }).error, 'string');
  });

  test('the ollama client: list, show, chat (whole and streamed), generate, embed; each charged as the catalog prices it', async () => {
    const { key, workspace } = await d.keyFor('paid_chat');
    const ollama = clientFor(d, key);
    const names = (await ollama.list()).models.map((m) => m.name);
    assert.ok(names.includes(`${MODEL}:latest`), names.join(', '));
    const shown = await ollama.show({ model: MODEL });
    assert.match(shown.modelfile, /FROM/);
    assert.equal(typeof shown.template, 'string');

    const whole = await ollama.chat({ model: MODEL, messages: user, options: { num_predict: 4 } });
    assert.equal(whole.done, true);
    assert.equal(whole.message.role, 'assistant');
    assert.ok(whole.eval_count > 0 && whole.prompt_eval_count > 0);

    const parts = [];
    for await (const part of await ollama.chat({ model: MODEL, messages: user, stream: true, options: { num_predict: 4 } })) parts.push(part);
    assert.ok(parts.length >= 2, 'a stream of lines');
    assert.equal(parts.at(-1)!.done, true);
    assert.equal(parts.at(-1)!.eval_count, 4);
    assert.ok(parts.slice(0, -1).every((p) => p.done === false));

    const gen = await ollama.generate({ model: MODEL, prompt: 'Once', options: { num_predict: 3 }, stream: false });
    assert.equal(gen.done, true);
    assert.ok(Array.isArray(gen.context) && gen.context.length > 0, 'the fields Ollama adds come through');

    const emb = await ollama.embed({ model: MODEL, input: ['one', 'two'] });
    assert.equal(emb.embeddings.length, 2);
    assert.ok(emb.embeddings[0]!.length > 0);
    const legacy = await ollama.embeddings({ model: MODEL, prompt: 'one' });
    assert.ok(legacy.embedding.length > 0);

    const price = await prices(d);
    const expected: Record<string, { calls: number; credits: number }> = {
      'POST /ollama/api/chat': { calls: 2, credits: 2 * price.get('POST /ollama/api/chat')! },
      'POST /ollama/api/generate': { calls: 1, credits: price.get('POST /ollama/api/generate')! },
      'POST /ollama/api/embed': { calls: 1, credits: price.get('POST /ollama/api/embed')! },
      'POST /ollama/api/embeddings': { calls: 1, credits: price.get('POST /ollama/api/embeddings')! },
    };
    for (const free of ['GET /ollama/api/tags', 'POST /ollama/api/show']) assert.equal(price.get(free), 0, free);
    const usage = await usageOf(d, key);
    const total = Object.values(expected).reduce((n, e) => n + e.credits, 0);
    assert.equal(usage.credits.used, total);
    assert.deepEqual(Object.fromEntries(usage.endpoints.map((e) => [e.endpoint, { calls: e.calls, credits: e.credits }])), expected);
    assert.deepEqual(settledByEndpoint(ledgerOf(d, workspace)), expected, 'the ledger settles exactly these');
  });

  test("Open WebUI's sequence: verify (version), tags, ps, show, a streamed chat, then the unload, which is free", async () => {
    const { key, workspace } = await d.keyFor('paid_chat');
    const headers = { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' };
    const call = (method: string, path: string, body?: unknown) => fetch(`${d.url}/ollama${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    assert.equal((await call('GET', '/api/version')).status, 200);
    const tags = (await (await call('GET', '/api/tags')).json()) as { models: Array<{ name: string }> };
    assert.ok(tags.models.some((m) => m.name === `${MODEL}:latest`));
    assert.equal((await call('GET', '/api/ps')).status, 200);
    assert.equal((await call('POST', '/api/show', { model: MODEL })).status, 200);
    // Open WebUI streams (no `stream` field: Ollama's default is a stream).
    const chat = await call('POST', '/api/chat', { model: MODEL, messages: user, options: { num_predict: 3 } });
    assert.equal(chat.status, 200);
    assert.match(chat.headers.get('content-type') ?? '', /application\/x-ndjson/);
    const lines = (await chat.text()).trim().split('\n').map((l) => JSON.parse(l) as { done: boolean });
    assert.equal(lines.at(-1)!.done, true);
    const ps = (await (await call('GET', '/api/ps')).json()) as { models: Array<{ name: string }> };
    assert.ok(ps.models.some((m) => m.name.startsWith(MODEL)), 'the model is loaded');
    // The unload: /api/generate with keep_alive 0 and no prompt.
    const unload = await call('POST', '/api/generate', { model: MODEL, keep_alive: 0 });
    assert.equal(unload.status, 200);
    assert.equal(((await unload.json()) as { done_reason: string }).done_reason, 'unload');
    // A load (a chat with no messages) is free as well.
    assert.equal((await call('POST', '/api/chat', { model: MODEL, messages: [] })).status, 200);

    const price = await prices(d);
    const usage = await usageOf(d, key);
    assert.equal(usage.credits.used, price.get('POST /ollama/api/chat'));
    assert.deepEqual(usage.endpoints, [{ endpoint: 'POST /ollama/api/chat', calls: 1, credits: price.get('POST /ollama/api/chat') }]);
    const rows = ledgerOf(d, workspace);
    assert.deepEqual(
      rows.filter((r) => r.endpoint === 'POST /ollama/api/generate').map((r) => r.kind),
      ['reserve', 'release'],
      'the unload reserved and released: no charge',
    );
  });

  test("a num_ctx of millions does not reach the backend: it is lowered to limits.max_context, and the call is served", async () => {
    const { key } = await d.keyFor('paid_chat');
    const ollama = clientFor(d, key);
    // Ten million tokens of context would be gigabytes of KV cache for every workspace to lose.
    const r = await ollama.chat({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: false, options: { num_ctx: 10_000_000, num_predict: 2, num_thread: 64 } });
    assert.equal(r.done, true);
    assert.ok(r.eval_count <= 2, `${r.eval_count} tokens`);
    const ps = await ollama.ps();
    const loaded = ps.models.find((m) => m.name.startsWith(MODEL));
    assert.ok(loaded, 'the model is loaded');
    // The engine reports the context it allocated: the bound, not what was asked.
    const ctx = (loaded as unknown as { context_length?: number }).context_length;
    assert.equal(ctx, 32768);
  });

  test('a stream the client abandons before its first line is not charged', async () => {
    // Another workspace holds the engine's one slot with a long generation; the stream waits behind it.
    const blocker = await d.keyFor('paid_chat');
    const { key, workspace } = await d.keyFor('paid_chat');
    const long = clientFor(d, blocker.key).generate({ model: MODEL, prompt: 'Once', options: { num_predict: 1500 }, stream: false });
    await until(() => ledgerOf(d, blocker.workspace), (rows) => rows.some((r) => r.kind === 'reserve'), 'the blocker is in flight');
    const controller = new AbortController();
    const pending = fetch(`${d.url}/ollama/api/chat`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: MODEL, messages: user, options: { num_predict: 4 } }),
      signal: controller.signal,
    }).catch((e: unknown) => e);
    await until(() => ledgerOf(d, workspace), (rows) => rows.some((r) => r.kind === 'reserve'), 'the stream is in flight');
    const before = await usageOf(d, blocker.key);
    assert.equal(before.endpoints.length, 0, 'the blocker is still generating, so the stream has had no line');
    controller.abort();
    assert.ok((await pending) instanceof Error);
    const rows = await until(() => ledgerOf(d, workspace), (r) => r.length >= 2, 'the abandoned stream is concluded');
    assert.deepEqual(rows.map((r) => r.kind), ['reserve', 'release']);
    assert.equal((await usageOf(d, key)).credits.used, 0);
    await long;
  });

  test("errors in Ollama's shape: a bad key 401, a missing scope 403, an unknown model 404", async () => {
    const bad = await failure(clientFor(d, 'hk_not_a_key').list());
    assert.equal(bad.status, 401);
    assert.match(bad.message, /key/i);
    // A Builder key limited to chat_agent: no chat scope.
    const { key } = await d.keyFor('chat_agent', { scopes: ['chat_agent'] });
    const scope = await failure(clientFor(d, key).chat({ model: MODEL, messages: user }));
    assert.equal(scope.status, 403);
    assert.match(scope.message, /"chat" scope/);
    const raw = await fetch(`${d.url}/ollama/api/chat`, { method: 'POST', headers: { Authorization: `Bearer ${key}` }, body: JSON.stringify({ model: MODEL, messages: user }) });
    assert.deepEqual(Object.keys((await raw.json()) as object), ['error'], 'Ollama\'s {"error": "..."}');
    const { key: chatKey } = await d.keyFor('paid_chat');
    const missing = await failure(clientFor(d, chatKey).chat({ model: 'no-such-model', messages: user, stream: false }));
    assert.deepEqual(missing, { status: 404, message: "model 'no-such-model' not found" });
    const field = await fetch(`${d.url}/ollama/api/chat`, { method: 'POST', headers: { Authorization: `Bearer ${chatKey}` }, body: JSON.stringify({ messages: user }) });
    assert.equal(field.status, 400);
    assert.match(((await field.json()) as { error: string }).error, /model/);
    assert.equal((await usageOf(d, chatKey)).credits.used, 0);
  });

  test("another workspace's model is invisible and 404; a switched-off model too", async () => {
    const owner = await d.keyFor('local_agent_train');
    const other = await d.keyFor('paid_chat');
    await clientFor(d, owner.key).copy({ source: MODEL, destination: 'owned-elsewhere' });
    await clientFor(d, owner.key).copy({ source: MODEL, destination: 'switched-off' });
    // The operator gives one model to a third workspace: the copier loses it too.
    const given = await d.keyFor('paid_chat');
    assert.equal((await d.admin('PUT', '/api/admin/models/owned-elsewhere', { workspace: given.workspace })).status, 200);
    assert.equal((await d.admin('PUT', '/api/admin/models/switched-off', { is_active: false })).status, 200);

    const seen = async (key: string) => (await clientFor(d, key).list()).models.map((m) => m.name);
    assert.ok(!(await seen(other.key)).includes('owned-elsewhere:latest'));
    assert.ok(!(await seen(owner.key)).includes('owned-elsewhere:latest'));
    assert.ok((await seen(given.key)).includes('owned-elsewhere:latest'));
    assert.ok(!(await seen(owner.key)).includes('switched-off:latest'));

    const o = clientFor(d, other.key);
    assert.deepEqual(await failure(o.chat({ model: 'owned-elsewhere', messages: user, stream: false })), { status: 404, message: "model 'owned-elsewhere' not found" });
    assert.deepEqual(await failure(o.show({ model: 'owned-elsewhere' })), { status: 404, message: "model 'owned-elsewhere' not found" });
    assert.deepEqual(await failure(o.generate({ model: 'Owned-Elsewhere:latest', prompt: 'x', stream: false })), { status: 404, message: "model 'Owned-Elsewhere:latest' not found" });
    assert.equal((await failure(clientFor(d, owner.key).chat({ model: 'switched-off', messages: user, stream: false }))).status, 404);
    assert.equal((await failure(clientFor(d, owner.key).show({ model: 'switched-off' }))).status, 404);
    const answered = await clientFor(d, given.key).chat({ model: 'owned-elsewhere', messages: user, options: { num_predict: 2 } });
    assert.equal(answered.done, true);
    assert.equal((await usageOf(d, other.key)).credits.used, 0);
  });

  test('model-changing routes: refused (403) for a paid_chat key', async () => {
    const { key } = await d.keyFor('paid_chat');
    const o = clientFor(d, key);
    for (const [what, call] of [
      ['copy', () => o.copy({ source: MODEL, destination: 'mine' })],
      ['create', () => o.create({ model: 'mine', from: MODEL })],
      ['delete', () => o.delete({ model: MODEL })],
      ['pull', () => o.pull({ model: 'llama3' })],
    ] as const) {
      const f = await failure(call());
      assert.equal(f.status, 403, what);
      assert.match(f.message, /local_model_access/, what);
    }
    const blob = await fetch(`${d.url}/ollama/api/blobs/sha256:${'0'.repeat(64)}`, { method: 'HEAD', headers: { Authorization: `Bearer ${key}` } });
    assert.equal(blob.status, 403);
  });

  test('a local_agent_train workspace creates, copies and deletes its own models, and nothing else', async () => {
    const mine = await d.keyFor('local_agent_train');
    const stranger = await d.keyFor('local_agent_train');
    const o = clientFor(d, mine.key);
    const names = async (key: string) => (await clientFor(d, key).list()).models.map((m) => m.name);

    assert.equal((await o.copy({ source: MODEL, destination: 'my-copy' })).status, 'success');
    assert.equal((await o.create({ model: 'my-brief', from: 'my-copy', system: 'Be brief.' })).status, 'success');
    // Streamed, as Open WebUI creates.
    const statuses = [];
    for await (const s of await o.create({ model: 'my-streamed', from: MODEL, stream: true })) statuses.push(s.status);
    assert.equal(statuses.at(-1), 'success');
    for (const n of ['my-copy:latest', 'my-brief:latest', 'my-streamed:latest']) {
      assert.ok((await names(mine.key)).includes(n), n);
      assert.ok(!(await names(stranger.key)).includes(n), `${n} is invisible to another workspace`);
    }
    const system = (await o.show({ model: 'my-brief' })).system;
    assert.equal(system, 'Be brief.');
    assert.equal((await o.chat({ model: 'my-brief', messages: user, options: { num_predict: 2 } })).done, true);

    // A blob, then a model from it (as `ollama create` with a GGUF file does).
    const digest = /FROM (sha256[:-][0-9a-f]{64})/.exec((await o.show({ model: MODEL })).modelfile)![1]!.replace('-', ':');
    const bytes = await readFile(await blobPath(d.dataDir, digest.slice('sha256:'.length)));
    const auth = { Authorization: `Bearer ${mine.key}` };
    assert.equal((await fetch(`${d.url}/ollama/api/blobs/${digest}`, { method: 'HEAD', headers: auth })).status, 200);
    assert.equal((await fetch(`${d.url}/ollama/api/blobs/${digest}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: bytes })).status, 201);
    const wrong = await fetch(`${d.url}/ollama/api/blobs/sha256:${'0'.repeat(64)}`, { method: 'POST', headers: auth, body: bytes });
    assert.equal(wrong.status, 400, 'bytes that do not hash to the digest');
    assert.equal(((await o.create({ model: 'from-blob', files: { 'model.gguf': digest } } as never)) as unknown as { status: string }).status, 'success');
    assert.ok((await names(mine.key)).includes('from-blob:latest'));

    // Names it does not own: the operator's, another workspace's.
    await clientFor(d, stranger.key).copy({ source: MODEL, destination: 'theirs' });
    for (const destination of [MODEL, 'theirs', 'THEIRS:latest']) {
      const f = await failure(o.copy({ source: MODEL, destination }));
      assert.equal(f.status, 409, destination);
    }
    assert.equal((await failure(o.create({ model: MODEL, from: 'my-copy' }))).status, 409);
    assert.deepEqual(await failure(o.copy({ source: 'theirs', destination: 'stolen' })), { status: 404, message: "model 'theirs' not found" });
    assert.deepEqual(await failure(o.create({ model: 'stolen', from: 'theirs' })), { status: 404, message: "model 'theirs' not found" });
    assert.equal((await failure(o.delete({ model: 'theirs' }))).status, 404);
    assert.equal((await failure(o.delete({ model: MODEL }))).status, 403);
    const pull = await failure(o.pull({ model: 'llama3' }));
    assert.equal(pull.status, 400);
    assert.match(pull.message, /api\/create/);
    assert.ok((await names(stranger.key)).includes('theirs:latest'), 'untouched');

    assert.equal((await o.delete({ model: 'my-brief' })).status, 'success');
    assert.ok(!(await names(mine.key)).includes('my-brief:latest'));

    const price = await prices(d);
    const usage = await usageOf(d, mine.key);
    const expected = {
      'POST /ollama/api/copy': { calls: 1, credits: price.get('POST /ollama/api/copy')! },
      'POST /ollama/api/create': { calls: 3, credits: 3 * price.get('POST /ollama/api/create')! },
      'POST /ollama/api/chat': { calls: 1, credits: price.get('POST /ollama/api/chat')! },
      ...(price.get('DELETE /ollama/api/delete')! > 0 ? { 'DELETE /ollama/api/delete': { calls: 1, credits: price.get('DELETE /ollama/api/delete')! } } : {}),
      ...(price.get('POST /ollama/api/blobs/:digest')! > 0 ? { 'POST /ollama/api/blobs/:digest': { calls: 1, credits: price.get('POST /ollama/api/blobs/:digest')! } } : {}),
    };
    assert.deepEqual(Object.fromEntries(usage.endpoints.map((e) => [e.endpoint, { calls: e.calls, credits: e.credits }])), expected);
    assert.deepEqual(settledByEndpoint(ledgerOf(d, mine.workspace)), expected);
  });
});

/** Where the engine keeps a blob under the data dir (found by its hex digest in the file name). */
async function blobPath(dir: string, hex: string): Promise<string> {
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.includes(hex)) return join(entry.parentPath, entry.name);
  }
  throw new Error(`blob ${hex} not found under ${dir}`);
}
