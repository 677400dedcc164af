// What the console's pages read and change through the admin API (issue 19), on a real daemon
// whose responses are validated against the contract: the request log behind the charts and the
// daily usage (with its CSV), the overview, a key's expiry, and importing and deleting a model.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { testModelPath } from '../helpers/test-model.js';

type ErrorBody = { error: { message: string; type: string; code: string } };
interface Bucket {
  start: string;
  requests: number;
  errors: number;
  credits: number;
  prompt_tokens: number;
  completion_tokens: number;
}
interface DailyRow {
  day: string;
  workspace_id: string;
  key_id: string | null;
  model: string | null;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  credits: number;
}
interface Key {
  id: string;
  name: string;
  expires_at: string | null;
  last_used_at: string | null;
}

const sum = (buckets: Bucket[], field: keyof Omit<Bucket, 'start'>) => buckets.reduce((n, b) => n + b[field], 0);

describe('admin API for the console', () => {
  let d: DaemonProcess;
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'hearth-console-api-'));
    d = await startDaemonProcess({ dataDir });
  });
  after(async () => {
    await d?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const post = (path: string, key: string, body: unknown) =>
    fetch(`${d.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const messages = [{ role: 'user', content: 'hi' }];

  test('calls on every customer surface show in the charts and the daily usage, with model, tokens and credits (and as CSV)', async () => {
    const { key, id: keyId, workspace } = await d.keyFor('paid_chat');
    const workspaceId = (await d.admin<{ workspaces: Array<{ id: string; name: string }> }>('GET', '/api/admin/workspaces')).body.workspaces.find((w) => w.name === workspace)!.id;
    const before = (await d.admin<{ buckets: Bucket[] }>('GET', '/api/admin/stats?window=hour')).body.buckets;

    // Hearth's own API, OpenAI's (streamed) and Ollama's, each answered, and one refused key.
    const own = await d.api<{ usage: { prompt_tokens: number; completion_tokens: number } }>(key, 'POST', '/chat', { model: 'hearth-demo', messages, max_tokens: 3 });
    assert.equal(own.status, 200);
    const streamed = await post('/v1/chat/completions', key, { model: 'Hearth-Demo', messages, max_tokens: 3, stream: true, stream_options: { include_usage: true } });
    assert.equal(streamed.status, 200);
    const chunks = (await streamed.text()).split('\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)) as { usage?: { prompt_tokens: number; completion_tokens: number } });
    const streamedUsage = chunks.find((c) => c.usage)!.usage!;
    const ollama = await post('/ollama/api/chat', key, { model: 'hearth-demo:latest', messages, stream: false, options: { num_predict: 3 } });
    assert.equal(ollama.status, 200);
    const ollamaCounts = (await ollama.json()) as { prompt_eval_count: number; eval_count: number };
    assert.equal((await d.api('hth_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'GET', '/usage')).status, 401);
    const prompt = own.body.usage.prompt_tokens + streamedUsage.prompt_tokens + ollamaCounts.prompt_eval_count;
    const completion = own.body.usage.completion_tokens + streamedUsage.completion_tokens + ollamaCounts.eval_count;

    const hour = await d.admin<{ window: string; bucket_seconds: number; buckets: Bucket[] }>('GET', '/api/admin/stats?window=hour');
    assert.equal(hour.status, 200);
    assert.equal(hour.body.window, 'hour');
    assert.equal(hour.body.bucket_seconds, 60);
    assert.equal(hour.body.buckets.length, 60, 'the whole hour, empty minutes included');
    const starts = hour.body.buckets.map((b) => Date.parse(b.start));
    assert.ok(starts.every((s, i) => s % 60_000 === 0 && (i === 0 || s - starts[i - 1]! === 60_000)), 'whole minutes, oldest first, no gap');
    assert.ok(starts.at(-1)! <= Date.now() && Date.now() < starts.at(-1)! + 60_000 + 5_000, 'the last bucket is the present minute');
    // The window may have moved on by a minute since `before`: only what this test added counts.
    const added = (field: keyof Omit<Bucket, 'start'>) => sum(hour.body.buckets, field) - sum(before.filter((b) => Date.parse(b.start) >= starts[0]!), field);
    assert.equal(added('requests'), 4, 'three answered calls and one refused key (admin calls are not counted)');
    assert.equal(added('errors'), 1);
    assert.equal(added('credits'), 3);
    assert.equal(added('prompt_tokens'), prompt);
    assert.equal(added('completion_tokens'), completion);

    const day = await d.admin<{ bucket_seconds: number; buckets: Bucket[] }>('GET', '/api/admin/stats?window=day');
    assert.equal(day.body.bucket_seconds, 3600);
    assert.equal(day.body.buckets.length, 24);
    assert.ok(sum(day.body.buckets, 'requests') >= 4);
    const badWindow = await d.admin<ErrorBody>('GET', '/api/admin/stats?window=week');
    assert.equal(badWindow.status, 400);
    assert.match(badWindow.body.error.message, /window/);

    const daily = await d.admin<{ period: string; rows: DailyRow[] }>('GET', `/api/admin/usage/daily?workspace=${workspace}`);
    assert.equal(daily.status, 200);
    assert.match(daily.body.period, /^\d{4}-\d{2}$/);
    assert.deepEqual(
      daily.body.rows.map((r) => ({ ...r, day: undefined })),
      [{ day: undefined, workspace_id: workspaceId, key_id: keyId, model: 'hearth-demo:latest', requests: 3, prompt_tokens: prompt, completion_tokens: completion, credits: 3 }],
      'every spelling of the model is one model; the refused call is nobody’s',
    );
    const ledger = await d.admin<{ credits: { used: number } }>('GET', `/api/admin/workspaces/${workspace}/usage`);
    assert.equal(ledger.body.credits.used, daily.body.rows[0]!.credits, 'the credits match the ledger');

    const csv = await fetch(`${d.url}/api/admin/usage/daily?workspace=${workspace}&format=csv`, { headers: { authorization: `Bearer ${d.adminToken}` } });
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get('content-type')!, /^text\/csv; charset=utf-8/);
    assert.equal(csv.headers.get('content-disposition'), `attachment; filename="hearth-usage-${daily.body.period}-${workspaceId}.csv"`);
    const r = daily.body.rows[0]!;
    assert.equal(
      await csv.text(),
      `day,workspace_id,key_id,model,requests,prompt_tokens,completion_tokens,credits\r\n${[r.day, r.workspace_id, r.key_id, r.model, r.requests, r.prompt_tokens, r.completion_tokens, r.credits].join(',')}\r\n`,
    );
    assert.equal((await d.admin<ErrorBody>('GET', '/api/admin/usage/daily?workspace=nobody')).status, 404);
    const badPeriod = await d.admin<ErrorBody>('GET', '/api/admin/usage/daily?period=2025-13');
    assert.equal(badPeriod.status, 400);
    assert.match(badPeriod.body.error.message, /period/);
  });

  test('the overview: backend state and version, loaded models, the machine, jobs, the admin token’s age', async () => {
    const { key } = await d.keyFor('paid_chat');
    assert.equal((await d.api(key, 'POST', '/chat', { model: 'hearth-demo', messages, max_tokens: 1 })).status, 200);
    const o = await d.admin<{
      backend: { state: string; kind: string; version: string | null; protected: boolean };
      models_loaded: Array<{ name: string; size_bytes: number; size_vram_bytes: number; expires_at: string | null }>;
      system: { cpu: { model: string; cores: number; load_percent: number }; memory: { total_bytes: number; used_bytes: number }; gpus: unknown[] };
      jobs: { running: number; queued: number };
      admin_token: { created_at: string; age_days: number };
    }>('GET', '/api/admin/overview');
    assert.equal(o.status, 200);
    assert.deepEqual({ ...o.body.backend, version: typeof o.body.backend.version }, { state: 'up', kind: 'engine', version: 'string', protected: true });
    const demo = o.body.models_loaded.find((m) => m.name === 'hearth-demo:latest');
    assert.ok(demo, 'the model just used is loaded');
    assert.ok(demo.size_bytes > 0);
    assert.ok(o.body.system.cpu.cores > 0);
    assert.ok(o.body.system.cpu.load_percent >= 0 && o.body.system.cpu.load_percent <= 100);
    assert.ok(o.body.system.memory.total_bytes > 0 && o.body.system.memory.used_bytes > 0);
    assert.ok(o.body.system.memory.used_bytes <= o.body.system.memory.total_bytes);
    assert.ok(Array.isArray(o.body.system.gpus));
    assert.deepEqual(o.body.jobs, { running: 0, queued: 0 });
    assert.equal(o.body.admin_token.created_at, (await stat(join(dataDir, 'admin-token'))).mtime.toISOString());
    assert.equal(o.body.admin_token.age_days, 0);
  });

  test('a key: renamed, expired now (a past time), refused from then on; given back its life; a revoked key is final', async () => {
    const { key, id } = await d.keyFor('paid_chat');
    assert.equal((await d.api(key, 'GET', '/usage')).status, 200);
    const renamed = await d.admin<Key>('PATCH', `/api/admin/keys/${id}`, { name: 'laptop' });
    assert.equal(renamed.status, 200);
    assert.equal(renamed.body.name, 'laptop');
    const later = new Date(Date.now() + 86_400_000).toISOString();
    assert.equal((await d.admin<Key>('PATCH', `/api/admin/keys/${id}`, { expires_at: later })).body.expires_at, later);
    assert.equal((await d.api(key, 'GET', '/usage')).status, 200, 'an expiry to come leaves the key working');

    const asked = Date.now();
    const expired = await d.admin<Key>('PATCH', `/api/admin/keys/${id}`, { expires_at: '2020-01-01T00:00:00Z' });
    assert.equal(expired.status, 200);
    assert.ok(Date.parse(expired.body.expires_at!) >= asked - 1000, 'a past time expires the key at the time of the change');
    const refused = await d.api<ErrorBody>(key, 'GET', '/usage');
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 'expired_api_key');

    assert.equal((await d.admin<Key>('PATCH', `/api/admin/keys/${id}`, { expires_at: null })).body.expires_at, null);
    assert.equal((await d.api(key, 'GET', '/usage')).status, 200);
    // last_used_at is written in batches, about a second after the use.
    let listed: Key | undefined;
    for (let tries = 0; tries < 100 && !(listed?.last_used_at && Date.parse(listed.last_used_at) >= asked - 1000); tries++) {
      if (tries > 0) await new Promise((r) => setTimeout(r, 100));
      listed = (await d.admin<{ keys: Key[] }>('GET', '/api/admin/keys')).body.keys.find((k) => k.id === id);
    }
    assert.ok(listed?.last_used_at && Date.parse(listed.last_used_at) >= asked - 1000, 'the listing shows the last use');

    const bad = await d.admin<ErrorBody>('PATCH', `/api/admin/keys/${id}`, { expires_at: 'tomorrow' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /expires_at/);
    assert.equal((await d.admin<ErrorBody>('PATCH', `/api/admin/keys/${id}`, {})).status, 400);
    assert.equal((await d.admin<ErrorBody>('PATCH', '/api/admin/keys/0000000000000000', { name: 'x' })).status, 404);
    assert.equal((await d.admin('POST', `/api/admin/keys/${id}/revoke`)).status, 200);
    const final = await d.admin<ErrorBody>('PATCH', `/api/admin/keys/${id}`, { expires_at: null });
    assert.equal(final.status, 409);
    assert.equal(final.body.error.code, 'key_revoked');
  });

  test('import a GGUF the server can read under a new name: listed and chattable; then deleted', async () => {
    const { key } = await d.keyFor('paid_chat');
    const path = await testModelPath();
    const imported = await d.admin<{ id: string; on_backend: boolean; workspace_id: string | null }>('POST', '/api/admin/models/import', { path, name: 'Console-Import' });
    assert.equal(imported.status, 201, JSON.stringify(imported.body));
    assert.deepEqual({ id: imported.body.id, on_backend: imported.body.on_backend, workspace_id: imported.body.workspace_id }, { id: 'console-import:latest', on_backend: true, workspace_id: null });
    const listed = await d.admin<{ models: Array<{ id: string; on_backend: boolean }> }>('GET', '/api/admin/models');
    assert.ok(listed.body.models.some((m) => m.id === 'console-import:latest' && m.on_backend));
    const customer = await d.api<{ models: Array<{ id: string }> }>(key, 'GET', '/models');
    assert.ok(customer.body.models.some((m) => m.id === 'console-import:latest'));
    assert.equal((await d.api(key, 'POST', '/chat', { model: 'console-import', messages, max_tokens: 2 })).status, 200);

    const again = await d.admin<ErrorBody>('POST', '/api/admin/models/import', { path, name: 'console-import:latest' });
    assert.equal(again.status, 409);
    assert.match(again.body.error.message, /^name: /);
    for (const [body, field, code] of [
      [{ path: 'model.gguf', name: 'x' }, 'path', 'invalid_model_path'],
      [{ path: '/nonexistent/model.gguf', name: 'x' }, 'path', 'model_file_unreadable'],
      [{ path: dataDir, name: 'x' }, 'path', 'model_file_not_regular'],
      [{ path: join(dataDir, 'admin-token'), name: 'x' }, 'path', 'model_file_not_gguf'],
      [{ path, name: 'x', adapter_for: 'no-such-base' }, 'adapter_for', 'base_model_not_found'],
      [{ path, name: '../x' }, 'name', 'invalid_request'],
      [{ name: 'x' }, 'path', 'invalid_request'],
    ] as const) {
      const r = await d.admin<ErrorBody>('POST', '/api/admin/models/import', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.code, code, JSON.stringify(body));
      assert.match(r.body.error.message, new RegExp(`\\b${field}\\b`), `the message names ${field}`);
    }

    const deleted = await fetch(`${d.url}/api/admin/models/console-import`, { method: 'DELETE', headers: { authorization: `Bearer ${d.adminToken}` } });
    assert.equal(deleted.status, 204);
    const after = await d.admin<{ models: Array<{ id: string }> }>('GET', '/api/admin/models');
    assert.ok(!after.body.models.some((m) => m.id === 'console-import:latest'));
    assert.equal((await d.api(key, 'POST', '/chat', { model: 'console-import', messages, max_tokens: 2 })).status, 404);
    assert.equal((await d.admin<ErrorBody>('DELETE', '/api/admin/models/console-import')).status, 404);
  });

  test('the requests of the last second are written when the daemon stops (its drain)', async () => {
    const { key } = await d.keyFor('paid_chat');
    assert.equal((await d.api(key, 'GET', '/usage')).status, 200);
    // At once, before the log's one-second flush: only the shutdown can write it.
    await d.stop();
    const db = new Database(join(dataDir, 'hearth.db'), { readonly: true });
    try {
      const keyId = key.split('_')[1];
      const rows = db.prepare('SELECT route, status FROM request_log WHERE key_id = ?').all(keyId);
      assert.deepEqual(rows, [{ route: 'GET /api/v1/usage', status: 200 }]);
    } finally {
      db.close();
    }
  });
});
