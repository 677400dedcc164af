import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { openDatabase } from '../../src/db/database.js';
import { Catalog, DEFAULT_PLANS } from '../../src/domain/catalog.js';
import { hearthOperations } from '../../src/contract/hearth-spec.js';
import { endpointDefaults } from '../../src/contract/operations.js';
import { HearthError } from '../../src/errors.js';
import { openDomain, type Domain } from '../helpers/domain-db.js';

const invalid = (e: unknown) => e instanceof HearthError && e.kind === 'invalid_request';

describe('Catalog', () => {
  let d: Domain;
  beforeEach(() => (d = openDomain()));
  afterEach(() => d.close());

  it('seeds the six plans of the documentation exactly', () => {
    // The customer documentation's "Plans and scopes" table, transcribed.
    const seed = [
      ['trial_chat', 'Trial', 'Chat API · bounded free tier for evaluation', ['chat'], 15_000],
      ['paid_chat', 'Starter', 'Higher chat limits for production apps', ['chat'], 600_000],
      ['chat_agent', 'Builder', 'Chat + create and manage agents', ['chat', 'chat_agent'], 1_500_000],
      ['chat_agent_train', 'Pro', 'Agents + fine-tuning and training APIs', ['chat', 'chat_agent', 'chat_agent_train'], 4_000_000],
      ['local_agent_train', 'Local train', 'Your Ollama only — connect, fine-tune, and run models on hardware you control', ['chat', 'chat_agent', 'chat_agent_train', 'local_model_access'], 10_000_000],
      ['enterprise', 'Enterprise', 'Custom limits and SLA — contact sales', ['chat', 'chat_agent', 'chat_agent_train'], null],
    ] as const;
    const plans = d.catalog.plans();
    assert.deepEqual(
      plans.map((p) => [p.id, p.title, p.description, p.scopes, p.monthlyCredits]),
      seed.map((s) => [...s.slice(0, 3), [...s[3]], s[4]]),
    );
    assert.deepEqual(Object.fromEntries(plans.map((p) => [p.id, p.rpm])), {
      trial_chat: 60,
      paid_chat: 300,
      chat_agent: 300,
      chat_agent_train: 300,
      local_agent_train: 300,
      enterprise: 1000,
    });
    // Concurrent inference calls per workspace: trial fills the engine's two slots, no more.
    assert.deepEqual(Object.fromEntries(plans.map((p) => [p.id, p.maxConcurrent])), {
      trial_chat: 2,
      paid_chat: 4,
      chat_agent: 4,
      chat_agent_train: 4,
      local_agent_train: 8,
      enterprise: 16,
    });
    // Shares of the backend under contention: Enterprise, sold with an SLA, twice the others'.
    assert.deepEqual(Object.fromEntries(plans.map((p) => [p.id, p.weight])), {
      trial_chat: 1,
      paid_chat: 1,
      chat_agent: 1,
      chat_agent_train: 1,
      local_agent_train: 1,
      enterprise: 2,
    });
    assert.deepEqual(plans, DEFAULT_PLANS);
  });

  it('seeds the endpoint table of the documentation from the contract', () => {
    // The customer documentation's endpoint table (seed 000), transcribed; the contract states it.
    // GET /health needs no key: it is no endpoint of the catalog (nothing to scope or charge).
    const expected: Record<string, [string | null, number]> = {
      'GET /models': ['chat', 0],
      'POST /chat': ['chat', 1],
      'POST /chat/stream': ['chat', 1],
      'POST /generate': ['chat', 1],
      'POST /embeddings': ['chat', 1],
      'GET /usage': [null, 0],
      'GET /finetune/datasets': ['chat_agent_train', 0],
      'POST /finetune/datasets': ['chat_agent_train', 5],
      'DELETE /finetune/datasets/:id': ['chat_agent_train', 0],
      'GET /finetune/jobs': ['chat_agent_train', 0],
      'POST /finetune/jobs': ['chat_agent_train', 3],
      'GET /finetune/jobs/:id': ['chat_agent_train', 0],
      'POST /finetune/jobs/:id/start': ['chat_agent_train', 25],
      'POST /finetune/jobs/:id/cancel': ['chat_agent_train', 0],
      'GET /finetune/jobs/:id/log': ['chat_agent_train', 0],
      'POST /finetune/jobs/:id/register': ['chat_agent_train', 12],
      'DELETE /finetune/jobs/:id': ['chat_agent_train', 0],
    };
    // Hearth's own surface; the endpoints of /v1 and /ollama are checked with their surfaces.
    const own = (e: { endpoint: string }) => !/^[A-Z]+ \/(v1|ollama)(\/|$)/.test(e.endpoint);
    assert.deepEqual(Object.fromEntries(d.catalog.endpoints().filter(own).map((e) => [e.endpoint, [e.scope, e.credits]])), expected);
    assert.equal(endpointDefaults(hearthOperations()).filter(own).length, Object.keys(expected).length);
    assert.deepEqual(d.catalog.endpoint('POST /finetune/jobs/:id/start'), { scope: 'chat_agent_train', credits: 25 });
    assert.throws(() => d.catalog.endpoint('POST /nope'), (e: unknown) => e instanceof HearthError && e.kind === 'not_found');
  });

  it('keeps operator changes across restarts (seeding only inserts what is missing)', () => {
    d.catalog.setPlan('trial_chat', { monthlyCredits: 20_000, rpm: 30 });
    d.catalog.setPlan('enterprise', { scopes: ['chat', 'local_model_access', 'chat'] });
    d.catalog.setEndpointCost('POST /chat', { credits: 2 });
    d.db.close();
    const db = openDatabase(d.path);
    const again = new Catalog(db, endpointDefaults(hearthOperations()));
    assert.equal(again.plan('trial_chat').monthlyCredits, 20_000);
    assert.equal(again.plan('trial_chat').rpm, 30);
    assert.deepEqual(again.plan('enterprise').scopes, ['chat', 'local_model_access']);
    assert.equal(again.endpoint('POST /chat').credits, 2);
    assert.equal(again.plans().length, 6);
    db.close();
  });

  it('validates plan changes', () => {
    for (const bad of [-1, 1.5, Number.NaN, '10' as unknown as number]) assert.throws(() => d.catalog.setPlan('paid_chat', { monthlyCredits: bad }), invalid);
    for (const bad of [0, 100_001, 2.5]) assert.throws(() => d.catalog.setPlan('paid_chat', { rpm: bad }), invalid);
    for (const bad of [0, 10_001, 1.5]) assert.throws(() => d.catalog.setPlan('paid_chat', { maxConcurrent: bad }), (e: unknown) => invalid(e) && /maxConcurrent/.test((e as Error).message));
    assert.equal(d.catalog.setPlan('paid_chat', { maxConcurrent: 9 }).maxConcurrent, 9);
    assert.equal(d.catalog.plan('paid_chat').maxConcurrent, 9);
    for (const bad of [0, 0.5, 101, Number.NaN, Number.POSITIVE_INFINITY, '2' as unknown as number]) {
      assert.throws(() => d.catalog.setPlan('paid_chat', { weight: bad }), (e: unknown) => invalid(e) && (e as HearthError).code === 'invalid_weight' && /weight/.test((e as Error).message));
    }
    assert.equal(d.catalog.setPlan('paid_chat', { weight: 1.5 }).weight, 1.5);
    assert.equal(d.catalog.plan('paid_chat').weight, 1.5);
    assert.throws(
      () => d.catalog.setPlan('paid_chat', { scopes: ['chat', 'admin' as never] }),
      (e: unknown) => invalid(e) && /'admin'/.test((e as Error).message),
    );
    assert.throws(() => d.catalog.plan('gold'), (e: unknown) => e instanceof HearthError && e.kind === 'not_found');
    assert.equal(d.catalog.setPlan('paid_chat', { monthlyCredits: null }).monthlyCredits, null);
    assert.equal(d.catalog.setPlan('paid_chat', { rpm: 100_000 }).rpm, 100_000);
    assert.throws(() => d.catalog.setEndpointCost('POST /chat', { credits: -1 }), invalid);
    assert.throws(() => d.catalog.setEndpointCost('POST /chat', { scope: 'root' as never }), invalid);
  });

  it('serves endpoint costs from memory and notices changes, its own and another process’s', () => {
    assert.equal(d.catalog.endpoint('POST /generate').credits, 1);
    d.catalog.setEndpointCost('POST /generate', { credits: 4, scope: 'chat_agent' });
    assert.deepEqual(d.catalog.endpoint('POST /generate'), { scope: 'chat_agent', credits: 4 });
    // Another connection (as the CLI would be) changes a cost behind the cache.
    const other = new BetterSqlite3(d.path);
    other.prepare("UPDATE endpoint_costs SET credits = 9 WHERE endpoint = 'POST /generate'").run();
    other.close();
    assert.equal(d.catalog.endpoint('POST /generate').credits, 9);
  });

  it('lists only the contract’s endpoints, whatever rows an older version left behind', () => {
    d.db.prepare("INSERT INTO endpoint_costs (endpoint, scope, credits) VALUES ('GET /health', NULL, 0), ('POST /gone', 'chat', 7)").run();
    const again = new Catalog(d.db, endpointDefaults(hearthOperations()));
    assert.ok(!again.endpoints().some((e) => e.endpoint === 'GET /health' || e.endpoint === 'POST /gone'));
    assert.throws(() => again.endpoint('POST /gone'), (e: unknown) => e instanceof HearthError && e.kind === 'not_found');
    assert.throws(() => again.setEndpointCost('GET /health', { credits: 1 }), (e: unknown) => e instanceof HearthError && e.kind === 'not_found');
  });
});
