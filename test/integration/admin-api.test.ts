// The operator API under /api/admin, route by route, on a real daemon whose responses are
// validated against the contract (startDaemonProcess turns response validation on).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';

interface Workspace {
  id: string;
  name: string;
  plan: string;
  monthly_credits: number | null;
}
interface UsageReport {
  workspace: { name: string };
  period: { id: string };
  credits: { used: number; limit: number | null; remaining: number | null };
}
type ErrorBody = { error: { message: string; type: string; code: string } };

describe('admin API', () => {
  let d: DaemonProcess;
  before(async () => {
    d = await startDaemonProcess();
  });
  after(async () => d?.stop());

  const chat = (key: string) => d.api(key, 'POST', '/chat', { model: 'hearth-demo', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 });

  test('workspaces: create, list, change plan and budget; duplicates and unknown names refused', async () => {
    const made = await d.admin<Workspace>('POST', '/api/admin/workspaces', { name: 'acme', plan: 'trial_chat' });
    assert.equal(made.status, 201);
    assert.equal(made.body.name, 'acme');
    assert.equal(made.body.plan, 'trial_chat');
    assert.equal((await d.admin<ErrorBody>('POST', '/api/admin/workspaces', { name: 'acme', plan: 'trial_chat' })).status, 409);
    const listed = await d.admin<{ workspaces: Workspace[] }>('GET', '/api/admin/workspaces');
    assert.ok(listed.body.workspaces.some((w) => w.id === made.body.id));
    const changed = await d.admin<Workspace>('PATCH', '/api/admin/workspaces/acme', { plan: 'paid_chat', monthly_credits: 3 });
    assert.equal(changed.status, 200);
    assert.equal(changed.body.plan, 'paid_chat');
    assert.equal(changed.body.monthly_credits, 3);
    const missing = await d.admin<ErrorBody>('PATCH', '/api/admin/workspaces/nobody', { monthly_credits: 1 });
    assert.equal(missing.status, 404);
    assert.match(missing.body.error.message, /nobody/);
    const badBudget = await d.admin<ErrorBody>('PATCH', '/api/admin/workspaces/acme', { monthly_credits: -1 });
    assert.equal(badBudget.status, 400);
    assert.match(badBudget.body.error.message, /monthly_credits/);
  });

  test("keys: create, list without secrets, rotate, revoke; the workspace's budget holds whichever key spends it", async () => {
    assert.equal((await d.admin('POST', '/api/admin/workspaces', { name: 'keyring', plan: 'paid_chat', monthly_credits: 3 })).status, 201);
    const made = await d.admin<{ id: string; key: string; scopes: string[] }>('POST', '/api/admin/keys', { workspace: 'keyring', name: 'ci' });
    assert.equal(made.status, 201);
    assert.match(made.body.key, /^hth_[a-z0-9]{16}_/);
    assert.deepEqual(made.body.scopes, ['chat']);
    const listed = await d.admin<{ keys: Array<Record<string, unknown>> }>('GET', '/api/admin/keys?workspace=keyring');
    const row = listed.body.keys.find((k) => k.id === made.body.id);
    assert.ok(row);
    assert.equal(row.key, undefined, 'the key itself is never listed');
    assert.ok(!JSON.stringify(listed.body).includes(made.body.key.split('_').slice(2).join('_')));

    assert.equal((await chat(made.body.key)).status, 200);
    const rotated = await d.admin<{ id: string; key: string }>('POST', `/api/admin/keys/${made.body.id}/rotate`);
    assert.equal(rotated.status, 200);
    assert.equal((await chat(made.body.key)).status, 401, 'the old key is revoked by the rotation');
    assert.equal((await chat(rotated.body.key)).status, 200);
    assert.equal((await chat(rotated.body.key)).status, 200);
    // monthly_credits 3, three calls made: the fourth is over budget, whichever key makes it.
    const over = await chat(rotated.body.key);
    assert.equal(over.status, 429);
    assert.equal((over.body as ErrorBody).error.code, 'credits_exhausted');

    assert.equal((await d.admin('POST', `/api/admin/keys/${rotated.body.id}/revoke`)).status, 200);
    assert.equal((await chat(rotated.body.key)).status, 401);
    assert.equal((await d.admin<ErrorBody>('POST', '/api/admin/keys/0000000000000000/revoke')).status, 404);
    assert.equal((await d.admin<ErrorBody>('POST', '/api/admin/keys/not-an-id/revoke')).status, 400);
    const past = await d.admin<ErrorBody>('POST', '/api/admin/keys', { workspace: 'keyring', name: 'late', expires_at: '2020-01-01T00:00:00Z' });
    assert.equal(past.status, 400);
    assert.match(past.body.error.message, /^expires_at must be in the future/, 'the message names the field as the API spells it');
    const beyond = await d.admin<ErrorBody>('POST', '/api/admin/keys', { workspace: 'keyring', name: 'wide', scopes: ['chat', 'chat_agent_train'] });
    assert.equal(beyond.status, 400);
    assert.match(beyond.body.error.message, /chat_agent_train/);
  });

  test('usage: every workspace in one call, and one workspace, for this or a given period', async () => {
    const { key } = await d.keyFor('paid_chat', { workspace: 'metered', credits: 3 });
    for (let i = 0; i < 2; i++) assert.equal((await chat(key)).status, 200);
    const all = await d.admin<{ usage: UsageReport[] }>('GET', '/api/admin/usage');
    assert.equal(all.status, 200);
    const metered = all.body.usage.find((u) => u.workspace.name === 'metered');
    assert.deepEqual(metered?.credits, { used: 2, limit: 3, remaining: 1 });
    const one = await d.admin<UsageReport>('GET', '/api/admin/workspaces/metered/usage');
    assert.deepEqual(one.body.credits, metered?.credits);
    const past = await d.admin<{ usage: UsageReport[] }>('GET', '/api/admin/usage?period=2001-01');
    assert.equal(past.body.usage.find((u) => u.workspace.name === 'metered')?.credits.used, 0);
    assert.equal(past.body.usage[0]?.period.id, '2001-01');
    const bad = await d.admin<ErrorBody>('GET', '/api/admin/usage?period=last-month');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /period/);
  });

  test('plans: list the catalog and change a limit the gateway applies at once', async () => {
    const plans = await d.admin<{ plans: Array<{ id: string; rpm: number }> }>('GET', '/api/admin/plans');
    assert.deepEqual(plans.body.plans.map((p) => p.id).sort(), ['chat_agent', 'chat_agent_train', 'enterprise', 'local_agent_train', 'paid_chat', 'trial_chat']);
    const { key } = await d.keyFor('chat_agent');
    assert.equal((await d.admin('PATCH', '/api/admin/plans/chat_agent', { rpm: 77 })).status, 200);
    const res = await fetch(`${d.url}/api/v1/usage`, { headers: { 'x-api-key': key } });
    assert.equal(res.headers.get('x-ratelimit-limit'), '77');
    assert.equal((await d.admin<ErrorBody>('PATCH', '/api/admin/plans/gold', { rpm: 5 })).status, 404);
  });

  test("plans: a plan's weight (its workspaces' share of the backend under contention) is listed and set, 1 to 100", async () => {
    type PlanBody = { id: string; weight: number; rpm: number };
    const before = await d.admin<{ plans: PlanBody[] }>('GET', '/api/admin/plans');
    assert.deepEqual(Object.fromEntries(before.body.plans.map((p) => [p.id, p.weight])), {
      trial_chat: 1,
      paid_chat: 1,
      chat_agent: 1,
      chat_agent_train: 1,
      local_agent_train: 1,
      enterprise: 2,
    });
    const set = await d.admin<PlanBody>('PATCH', '/api/admin/plans/local_agent_train', { weight: 3.5 });
    assert.equal(set.status, 200);
    assert.equal(set.body.weight, 3.5);
    assert.equal(set.body.rpm, 300, 'the other limits stay');
    for (const bad of [0.5, 101, '2', null]) {
      const refused = await d.admin<ErrorBody>('PATCH', '/api/admin/plans/local_agent_train', { weight: bad });
      assert.equal(refused.status, 400, JSON.stringify(bad));
      assert.match(refused.body.error.message, /weight/);
    }
    const after = await d.admin<{ plans: PlanBody[] }>('GET', '/api/admin/plans');
    assert.equal(after.body.plans.find((p) => p.id === 'local_agent_train')?.weight, 3.5, 'a refused change changed nothing');
    assert.equal((await d.admin('PATCH', '/api/admin/plans/local_agent_train', { weight: 1 })).status, 200);
  });

  test("plans: a scope taken away is refused to the plan's keys at once; one added reaches keys made after", async () => {
    const { key: old } = await d.keyFor('chat_agent_train');
    const jobs = async (k: string) => d.api<ErrorBody>(k, 'GET', '/finetune/jobs');
    assert.equal((await jobs(old)).status, 200);
    const narrowed = await d.admin<{ scopes: string[] }>('PATCH', '/api/admin/plans/chat_agent_train', { scopes: ['chat', 'chat_agent'] });
    assert.equal(narrowed.status, 200);
    assert.deepEqual(narrowed.body.scopes, ['chat', 'chat_agent']);
    const refused = await jobs(old);
    assert.equal(refused.status, 403);
    assert.match(refused.body.error.message, /chat_agent_train/);
    const widened = await d.admin<{ scopes: string[] }>('PATCH', '/api/admin/plans/chat_agent_train', { scopes: ['chat', 'chat_agent', 'chat_agent_train', 'local_model_access'] });
    assert.equal(widened.status, 200);
    assert.equal((await jobs(old)).status, 200, 'given back: the key was made with it');
    type Usage = { key: { scopes: string[] } };
    assert.ok(!(await d.api<Usage>(old, 'GET', '/usage')).body.key.scopes.includes('local_model_access'), 'an existing key keeps the scopes it was made with');
    const { key: fresh } = await d.keyFor('chat_agent_train');
    assert.ok((await d.api<Usage>(fresh, 'GET', '/usage')).body.key.scopes.includes('local_model_access'), 'a key made after gets the added scope');
    const bad = await d.admin<ErrorBody>('PATCH', '/api/admin/plans/chat_agent_train', { scopes: ['chat', 'root'] });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /scopes/);
    const plans = await d.admin<{ plans: Array<{ id: string; scopes: string[] }> }>('GET', '/api/admin/plans');
    assert.deepEqual(plans.body.plans.find((p) => p.id === 'chat_agent_train')?.scopes, ['chat', 'chat_agent', 'chat_agent_train', 'local_model_access'], 'the refused change changed nothing');
    assert.equal((await d.admin('PATCH', '/api/admin/plans/chat_agent_train', { scopes: ['chat', 'chat_agent', 'chat_agent_train'] })).status, 200);
  });

  test('model metadata set by the operator shows in /api/v1/models', async () => {
    // Under its bare name: the same model as hearth-demo:latest, whose description the daemon set.
    const saved = await d.admin<Record<string, unknown>>('PUT', '/api/admin/models/hearth-demo', { name: 'Demo', is_active: false });
    assert.equal(saved.status, 200);
    assert.equal(saved.body.id, 'hearth-demo:latest');
    assert.match(String(saved.body.description), /untrained/i, 'merged into what was set, not beside it');
    assert.equal((await d.admin('PUT', '/api/admin/models/hearth-demo:latest', { description: 'noise, on purpose' })).status, 200);
    const { key } = await d.keyFor('paid_chat');
    const models = await d.api<{ models: Array<{ id: string; name: string; description: string; is_active: boolean }> }>(key, 'GET', '/models');
    const demo = models.body.models.find((m) => m.id.startsWith('hearth-demo'));
    assert.equal(demo?.name, 'Demo');
    assert.equal(demo?.description, 'noise, on purpose');
    assert.equal(demo?.is_active, false);
    // Switched off: refused before anything is reserved, under either of its names.
    for (const model of ['hearth-demo', 'hearth-demo:latest']) {
      for (const [path, body] of [
        ['/chat', { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 }],
        ['/chat/stream', { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 }],
        ['/generate', { model, prompt: 'hi', max_tokens: 1 }],
      ] as const) {
        const off = await d.api<ErrorBody>(key, 'POST', path, body);
        assert.equal(off.status, 404, `${path} ${model}`);
        assert.equal(off.body.error.code, 'model_inactive');
        assert.match(off.body.error.message, /switched off/);
      }
    }
    assert.equal((await d.api<{ credits: { used: number } }>(key, 'GET', '/usage')).body.credits.used, 0, 'nothing charged');
    assert.equal((await d.admin('PUT', '/api/admin/models/hearth-demo:latest', { is_active: true })).status, 200);
    assert.equal((await chat(key)).status, 200, 'switched on again');

    // The operator can give a model to one workspace, and take it back for everyone.
    const { key: ownerKey } = await d.keyFor('paid_chat', { workspace: 'owner' });
    const given = await d.admin<{ workspace_id: string | null }>('PUT', '/api/admin/models/hearth-demo', { workspace: 'owner' });
    assert.equal(given.status, 200);
    const ids = async (k: string) => (await d.api<{ models: Array<{ id: string }> }>(k, 'GET', '/models')).body.models.map((m) => m.id);
    assert.ok((await ids(ownerKey)).includes('hearth-demo:latest'));
    assert.ok(!(await ids(key)).includes('hearth-demo:latest'), "another workspace's now");
    const hidden = await chat(key);
    assert.equal(hidden.status, 404);
    assert.equal((hidden.body as ErrorBody).error.code, 'model_not_found');
    // The backend reads these as the same model; so does the owner check.
    for (const model of ['HEARTH-DEMO', 'Hearth-Demo:Latest', 'library/hearth-demo', 'registry.ollama.ai/library/hearth-demo:latest']) {
      const spelled = await d.api<ErrorBody>(key, 'POST', '/chat', { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 });
      assert.equal(spelled.status, 404, model);
      assert.equal(spelled.body.error.code, 'model_not_found', model);
    }
    assert.equal((await d.api(ownerKey, 'POST', '/chat', { model: 'Library/Hearth-Demo', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 })).status, 200, 'the owner may spell it any way');
    // The operator sees whose each model is, and names set before the backend has them.
    assert.equal((await d.admin('PUT', `/api/admin/models/${encodeURIComponent('Library/Not-Pulled-Yet')}`, { workspace: 'owner' })).status, 200);
    type Listed = { id: string; workspace_id: string | null; on_backend: boolean; name?: string };
    const all = (await d.admin<{ models: Listed[] }>('GET', '/api/admin/models')).body.models;
    const ownerId = given.body.workspace_id;
    assert.equal(typeof ownerId, 'string');
    assert.deepEqual(all.find((m) => m.id === 'hearth-demo:latest'), { ...all.find((m) => m.id === 'hearth-demo:latest'), workspace_id: ownerId, on_backend: true, name: 'Demo' });
    assert.deepEqual(all.find((m) => m.id === 'not-pulled-yet:latest'), { id: 'not-pulled-yet:latest', workspace_id: ownerId, on_backend: false, parameters: {} });
    assert.deepEqual(all.map((m) => m.id), [...all.map((m) => m.id)].sort(), 'sorted by id');
    const back = await d.admin<{ workspace_id: string | null }>('PUT', '/api/admin/models/hearth-demo', { workspace: null });
    assert.equal(back.body.workspace_id, null);
    assert.equal((await chat(key)).status, 200, "the operator's again, for everyone");
    assert.equal((await d.admin<ErrorBody>('PUT', '/api/admin/models/hearth-demo', { workspace: 'nobody' })).status, 404);
    const bad = await d.admin<ErrorBody>('PUT', '/api/admin/models/..%2Fetc', { name: 'x' });
    assert.equal(bad.status, 400);
    // Names that pass the contract's pattern but that the backend would refuse: nothing is stored.
    for (const name of ['a/../../x:latest', 'a/../x', 'x:..', 'me/x:-t']) {
      const refused = await d.admin<ErrorBody>('PUT', `/api/admin/models/${encodeURIComponent(name)}`, { description: 'x' });
      assert.equal(refused.status, 400, name);
      assert.equal(refused.body.error.code, 'invalid_model_name', name);
      assert.match(refused.body.error.message, /^model: /, name);
    }
    const listed = (await d.admin<{ models: Array<{ id: string }> }>('GET', '/api/admin/models')).body.models.map((m) => m.id);
    assert.deepEqual(listed.filter((id) => id.includes('..') || id.includes(':-')), [], listed.join(', '));
  });

  test("a model's parameters are the defaults of the calls on it; what a call sets wins", async () => {
    const { key } = await d.keyFor('paid_chat');
    const unknown = await d.admin<ErrorBody>('PUT', '/api/admin/models/hearth-demo', { parameters: { num_ctx: 999999 } });
    assert.equal(unknown.status, 400, 'only sampling defaults, never engine settings');
    assert.match(unknown.body.error.message, /num_ctx/);
    assert.equal((await d.admin<ErrorBody>('PUT', '/api/admin/models/hearth-demo', { parameters: { temperature: 9 } })).status, 400);
    assert.equal((await d.admin('PUT', '/api/admin/models/hearth-demo:latest', { parameters: { max_tokens: 3, temperature: 0, seed: 7 } })).status, 200);
    const listed = await d.api<{ models: Array<{ id: string; parameters: Record<string, unknown> }> }>(key, 'GET', '/models');
    assert.deepEqual(listed.body.models.find((m) => m.id.startsWith('hearth-demo'))?.parameters, { max_tokens: 3, temperature: 0, seed: 7 });

    type Completion = { choices: Array<{ message: { content: string } }>; usage: { completion_tokens: number } };
    const ask = (extra: Record<string, unknown> = {}) => d.api<Completion>(key, 'POST', '/chat', { model: 'hearth-demo', messages: [{ role: 'user', content: 'hi' }], ...extra });
    const a = await ask();
    const b = await ask();
    assert.equal(a.status, 200);
    assert.ok(a.body.usage.completion_tokens <= 3 && a.body.usage.completion_tokens > 0, `max_tokens 3 by default, got ${a.body.usage.completion_tokens}`);
    assert.equal(a.body.choices[0]?.message.content, b.body.choices[0]?.message.content, 'temperature 0 by default: the same answer twice');
    const own = await ask({ max_tokens: 1 });
    assert.equal(own.body.usage.completion_tokens, 1, "the call's own max_tokens wins");
    const gen = await d.api<{ usage: { completion_tokens: number } }>(key, 'POST', '/generate', { model: 'hearth-demo', prompt: 'hi' });
    assert.ok(gen.body.usage.completion_tokens <= 3, 'generate gets the defaults too');
  });
});
