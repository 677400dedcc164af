// Scope matrix: every /api/v1 route × keys of every plan → 200 or 403 as the seed's table says;
// expired and revoked keys → 401.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';

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
  { method: 'GET', path: '/api/v1/usage', scope: null },
  // The fine-tuning routes need chat_agent_train: plans without it are refused before anything else.
  { method: 'GET', path: '/api/v1/finetune/datasets', scope: 'chat_agent_train' },
  { method: 'GET', path: '/api/v1/finetune/jobs', scope: 'chat_agent_train' },
];

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

  test('a key narrower than its plan is held to its own scopes', async () => {
    const { key } = await d.keyFor('chat_agent', { scopes: ['chat_agent'] });
    assert.equal((await call(routes[1]!, key)).status, 403);
    assert.equal((await call(routes[4]!, key)).status, 200, 'usage needs only a valid key');
  });

  test('a key cannot be given scopes beyond its plan', async () => {
    const w = await d.admin('POST', '/api/admin/workspaces', { name: 'narrow', plan: 'trial_chat' });
    assert.equal(w.status, 201);
    const k = await d.admin<{ error: { message: string } }>('POST', '/api/admin/keys', { workspace: 'narrow', name: 'k', scopes: ['chat', 'chat_agent_train'] });
    assert.equal(k.status, 400);
    assert.match(k.body.error.message, /chat_agent_train/);
  });

  test('missing, malformed, revoked and expired keys → 401; rotation keeps the workspace', async () => {
    const usage = routes[4]!;
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
    const expired = await d.keyFor('paid_chat', { expiresAt: new Date(Date.now() + 1500).toISOString() });
    assert.equal((await call(usage, expired.key)).status, 200);
    await new Promise((r) => setTimeout(r, 2000));
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
