// Scope matrix: every /api/v1 route × keys of every plan → 200 or 403 as the seed's table says;
// expired and revoked keys → 401.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { hearthOperations } from '../../src/contract/hearth-spec.js';

/** A concrete path for an operation's template: ids of the right shape that exist nowhere. */
const concrete = (template: string) =>
  template
    .replace('{id}', template.includes('/datasets/') ? 'ds_0000000000000000' : template.includes('/models/') ? 'hearth-demo' : 'ftjob_0000000000000000')
    .replace('{digest}', `sha256:${'0'.repeat(64)}`);
/** Other spellings of a path under its surface's prefix that a case-insensitive router would take for it. */
const caseVariants = (path: string, prefix: string) => {
  const rest = path.slice(prefix.length + 1);
  return [`${prefix}/${rest[0]!.toUpperCase()}${rest.slice(1)}`, `${prefix}/${rest.toUpperCase()}`, `${prefix.toUpperCase()}/${rest}`];
};

const MODEL = 'hearth-demo';
const plans: Record<string, string[]> = {
  trial_chat: ['chat'],
  paid_chat: ['chat'],
  chat_agent: ['chat', 'chat_agent'],
  chat_agent_train: ['chat', 'chat_agent', 'chat_agent_train'],
  local_agent_train: ['chat', 'chat_agent', 'chat_agent_train', 'local_model_access'],
  enterprise: ['chat', 'chat_agent', 'chat_agent_train'],
};

interface Route {
  method: string;
  path: string;
  scope: string | null;
  body?: unknown;
}

const routes: Route[] = [
  { method: 'GET', path: '/api/v1/models', scope: 'chat' },
  { method: 'POST', path: '/api/v1/chat', scope: 'chat', body: { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 } },
  { method: 'POST', path: '/api/v1/chat/stream', scope: 'chat', body: { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 } },
  { method: 'POST', path: '/api/v1/generate', scope: 'chat', body: { model: MODEL, prompt: 'hi', max_tokens: 1 } },
  { method: 'POST', path: '/api/v1/embeddings', scope: 'chat', body: { model: MODEL, input: 'hi' } },
  { method: 'GET', path: '/api/v1/usage', scope: null },
  // The fine-tuning routes need chat_agent_train: plans without it are refused before anything else.
  { method: 'GET', path: '/api/v1/finetune/datasets', scope: 'chat_agent_train' },
  { method: 'GET', path: '/api/v1/finetune/jobs', scope: 'chat_agent_train' },
];
const usageRoute = routes.find((r) => r.path === '/api/v1/usage')!;

describe('gateway: scopes', () => {
  let d: DaemonProcess;
  const call = (r: Route, key: string) =>
    fetch(`${d.url}${r.path}`, { method: r.method, headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: r.body === undefined ? undefined : JSON.stringify(r.body) });

  before(async () => {
    d = await startDaemonProcess();
  });
  after(async () => d?.stop());

  test('every route × every plan', async () => {
    for (const [plan, scopes] of Object.entries(plans)) {
      const { key } = await d.keyFor(plan);
      for (const r of routes) {
        const res = await call(r, key);
        const body = await res.text();
        const allowed = r.scope === null || scopes.includes(r.scope);
        if (allowed) {
          assert.notEqual(res.status, 403, `${plan} ${r.method} ${r.path}: ${body}`);
          assert.notEqual(res.status, 401, `${plan} ${r.method} ${r.path}: ${body}`);
          if (!r.path.includes('/finetune/')) assert.equal(res.status, 200, `${plan} ${r.method} ${r.path}: ${body}`);
        } else {
          assert.equal(res.status, 403, `${plan} ${r.method} ${r.path}: ${body}`);
          const e = JSON.parse(body) as { error: { type: string; code: string; message: string } };
          assert.equal(e.error.type, 'permission_error');
          assert.match(e.error.message, new RegExp(`"${r.scope}"`), 'the message names the missing scope');
        }
      }
    }
  });

  test('every operation of the contract refuses a key without its scope, however the path is spelled', async () => {
    // Three keys between them lack every scope an operation can ask for: chat (a train-only key),
    // chat_agent_train (a trial key) and local_model_access (a Pro key, which has everything else).
    const keys: Record<string, string> = {
      chat: (await d.keyFor('chat_agent_train', { scopes: ['chat_agent_train'] })).key,
      chat_agent_train: (await d.keyFor('trial_chat')).key,
      local_model_access: (await d.keyFor('chat_agent_train')).key,
    };
    const { key: anyKey } = await d.keyFor('chat_agent', { scopes: ['chat_agent'] }); // neither chat nor chat_agent_train
    const keyOps = hearthOperations().filter((o) => o.auth === 'key');
    const perSurface = Object.fromEntries(['/api/v1', '/v1', '/ollama'].map((p) => [p, keyOps.filter((o) => o.surface.prefix === p).length]));
    assert.deepEqual(perSurface, { '/api/v1': 17, '/v1': 5, '/ollama': 15 }, 'every key-authenticated operation of every surface');
    const send = (method: string, path: string, key: string) =>
      fetch(`${d.url}${path}`, { method, headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: method === 'POST' || method === 'DELETE' ? '{}' : undefined });
    // Hearth's and OpenAI's error objects carry a code; Ollama's is a message only.
    const errorOf = async (res: Response) => {
      const e = ((await res.json()) as { error: string | { code: string; message: string } }).error;
      return typeof e === 'string' ? { code: undefined, message: e } : e;
    };
    const plansWith: Record<string, RegExp> = {
      chat: /plans with it: trial_chat, paid_chat,/,
      chat_agent_train: /plans with it: chat_agent_train, local_agent_train, enterprise\)/,
      local_model_access: /plans with it: local_agent_train\)/,
    };
    for (const op of keyOps) {
      const path = concrete(op.path);
      const ollama = op.surface.errorShape === 'ollama';
      if (op.scope === null) {
        // Any valid key, one with no scope the operation could ask for, gets past the scope
        // check (what it names, or an empty body, may still be refused after it).
        const status = (await send(op.method, path, anyKey)).status;
        assert.ok(status !== 401 && status !== 403, `${op.method} ${path}: ${status}`);
        continue;
      }
      const key = keys[op.scope]!;
      const exact = await send(op.method, path, key);
      assert.equal(exact.status, 403, `${op.method} ${path}`);
      const refusal = await errorOf(exact);
      if (!ollama) assert.equal(refusal.code, 'missing_scope');
      assert.match(refusal.message, plansWith[op.scope]!, 'the refusal says which plans have the scope');
      assert.equal((await send(op.method, `${path}/`, key)).status, 403, `${op.method} ${path}/ (trailing slash)`);
      if (op.method === 'GET') {
        const head = await send('HEAD', path, key);
        assert.equal(head.status, 403, `HEAD ${path}`);
        assert.equal(await head.text(), '', 'HEAD answers without a body');
      }
      for (const variant of caseVariants(path, op.surface.prefix)) {
        const res = await send(op.method, variant, key);
        assert.equal(res.status, 404, `${op.method} ${variant}: another spelling is no route, never the route without its scope`);
        const e = await errorOf(res);
        if (!ollama) assert.equal(e.code, 'route_not_found');
        else assert.match(e.message, /no route/);
      }
    }
  });

  test('what the contract does not declare is refused before the key is looked at', async () => {
    for (const [method, path, status] of [
      ['GET', '/api/v1/nothing', 404],
      ['DELETE', '/api/v1/chat', 405],
      ['PUT', '/api/v1/finetune/jobs/ftjob_0000000000000000', 405],
      ['GET', '/api/v1/fine%74une/jobs', 404],
      ['GET', '/api/admin/secrets', 404],
      ['POST', '/api/v1/Chat', 404],
    ] as const) {
      // No key at all: the answer is about the route, not a 401.
      const res = await fetch(`${d.url}${path}`, { method });
      assert.equal(res.status, status, `${method} ${path}`);
      if (status === 405) assert.ok(res.headers.get('allow'), 'a 405 says what is allowed');
    }
    const allowed = await fetch(`${d.url}/api/v1/chat`, { method: 'DELETE' });
    assert.equal(allowed.headers.get('allow'), 'POST');
  });

  test('a key narrower than its plan is held to its own scopes', async () => {
    const { key } = await d.keyFor('chat_agent', { scopes: ['chat_agent'] });
    assert.equal((await call(routes[1]!, key)).status, 403);
    assert.equal((await call(usageRoute, key)).status, 200, 'usage needs only a valid key');
  });

  test('a key cannot be given scopes beyond its plan', async () => {
    const w = await d.admin('POST', '/api/admin/workspaces', { name: 'narrow', plan: 'trial_chat' });
    assert.equal(w.status, 201);
    const k = await d.admin<{ error: { message: string } }>('POST', '/api/admin/keys', { workspace: 'narrow', name: 'k', scopes: ['chat', 'chat_agent_train'] });
    assert.equal(k.status, 400);
    assert.match(k.body.error.message, /chat_agent_train/);
  });

  test('missing, malformed, revoked and expired keys → 401; rotation keeps the workspace', async () => {
    const usage = usageRoute;
    assert.equal((await fetch(`${d.url}${usage.path}`)).status, 401);
    assert.equal((await call(usage, 'hth_nope')).status, 401);
    const { key, id, workspace } = await d.keyFor('paid_chat');
    assert.equal((await call(routes[1]!, key)).status, 200);
    const rotated = await d.admin<{ key: string; id: string }>('POST', `/api/admin/keys/${id}/rotate`);
    assert.equal(rotated.status, 200);
    const old = await call(usage, key);
    assert.equal(old.status, 401);
    assert.match(((await old.json()) as { error: { message: string } }).error.message, /revoked/);
    const fresh = (await (await call(usage, rotated.body.key)).json()) as { workspace: { name: string }; credits: { used: number } };
    assert.equal(fresh.workspace.name, workspace);
    assert.equal(fresh.credits.used, 1, 'the rotated key sees the same ledger');
    assert.equal((await d.admin('POST', `/api/admin/keys/${rotated.body.id}/revoke`)).status, 200);
    assert.equal((await call(usage, rotated.body.key)).status, 401);
    const expired = await d.keyFor('paid_chat', { expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
    assert.equal((await call(usage, expired.key)).status, 200);
    // Its hour passes in the store rather than on the wall clock: the daemon reads the expiry from
    // the database on every call (the instant itself is tested with a clock in unit/gateway-auth).
    const db = new Database(join(d.dataDir, 'hearth.db'));
    try {
      db.pragma('busy_timeout = 10000');
      assert.equal(db.prepare('UPDATE api_keys SET expires_at = ? WHERE id = ?').run(new Date(Date.now() - 1000).toISOString(), expired.id).changes, 1);
    } finally {
      db.close();
    }
    const late = await call(usage, expired.key);
    assert.equal(late.status, 401);
    assert.match(((await late.json()) as { error: { message: string } }).error.message, /expired/);
  });

  test('admin API needs the admin token', async () => {
    assert.equal((await fetch(`${d.url}/api/admin/workspaces`)).status, 401);
    assert.equal((await fetch(`${d.url}/api/admin/workspaces`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    const { key } = await d.keyFor('enterprise');
    assert.equal((await fetch(`${d.url}/api/admin/workspaces`, { headers: { authorization: `Bearer ${key}` } })).status, 401, 'a customer key is not an admin token');
  });
});
