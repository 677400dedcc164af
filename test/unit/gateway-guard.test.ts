// The guard's first steps (src/gateway/guard.ts): resolveOperation refuses what the contract
// does not declare before anything else, and authorizeScope refuses a key without the scope the
// catalog gives the operation now, the operator's override included; checkInference waits in
// the fair queue with the plan's weight.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { hearthOperations } from '../../src/contract/hearth-spec.js';
import { OperationMatcher } from '../../src/contract/operation-matcher.js';
import { SURFACES, type Operation } from '../../src/contract/operations.js';
import type { Scope } from '../../src/domain/catalog.js';
import { HearthError } from '../../src/errors.js';
import type { Response } from 'express';
import { ModelMetadata } from '../../src/domain/model-metadata.js';
import { authenticate } from '../../src/gateway/auth.js';
import { ConcurrencyLimiter } from '../../src/gateway/concurrency.js';
import { FairQueue } from '../../src/gateway/fair-queue.js';
import { authorizeScope, checkInference, resolveOperation, tokensServed } from '../../src/gateway/guard.js';
import { RateLimiter } from '../../src/gateway/rate-limiter.js';
import type { Principal } from '../../src/gateway/principal.js';
import { openDomain, type Domain } from '../helpers/domain-db.js';
import { httpPair } from '../helpers/http-pair.js';

const refusal = (kind: string, code: string, message?: RegExp) => (e: unknown) =>
  e instanceof HearthError && e.kind === kind && e.code === code && (message === undefined || message.test(e.message));

function operation(operationId: string): Operation {
  const op = hearthOperations().find((o) => o.operationId === operationId);
  assert.ok(op, operationId);
  return op;
}

describe('resolveOperation', () => {
  const middleware = resolveOperation(new OperationMatcher(hearthOperations(), SURFACES));
  const resolve = (method: string, url: string) => {
    const pair = httpPair({ method, url });
    let passed = false;
    middleware(pair.req, pair.res, () => (passed = true));
    return { passed, operation: pair.res.locals.operation, method: pair.req.method };
  };

  it('finds the operation of a declared method and path, the query and one trailing slash aside', () => {
    for (const url of ['/api/v1/usage', '/api/v1/usage/', '/api/v1/usage?period=2025-03']) {
      const r = resolve('GET', url);
      assert.equal(r.passed, true, url);
      assert.equal(r.operation?.operationId, 'usage', url);
    }
    assert.equal(resolve('POST', '/api/v1/finetune/jobs/ftjob_0000000000000000/start').operation?.operationId, 'startJob');
    assert.equal(resolve('PATCH', '/api/admin/plans/paid_chat').operation?.operationId, 'adminUpdatePlan');
  });

  it('serves HEAD as the GET operation, which from then on sees a GET', () => {
    const r = resolve('HEAD', '/api/v1/models');
    assert.deepEqual([r.passed, r.operation?.operationId, r.method], [true, 'listModels', 'GET']);
  });

  it('lets through what lies outside every surface, untouched', () => {
    for (const url of ['/', '/docs/', '/api/v10/usage', '/favicon.ico']) {
      const r = resolve('GET', url);
      assert.deepEqual([r.passed, r.operation], [true, undefined], url);
    }
  });

  it('an undeclared path under a surface is a 404 route_not_found, case-sensitively and before any key check', () => {
    for (const url of ['/api/v1/nothing', '/api/v1/Chat', '/api/v1/fine%74une/jobs', '/api/admin']) {
      assert.throws(() => resolve('POST', url), refusal('not_found', 'route_not_found', /no route for POST/), url);
    }
  });

  it('a declared path with another method is a 405 naming the allowed ones, in Allow too', () => {
    const { req, res } = httpPair({ method: 'DELETE', url: '/api/v1/chat' });
    assert.throws(() => middleware(req, res, () => assert.fail('passed')), refusal('method_not_allowed', 'method_not_allowed', /DELETE is not allowed on \/api\/v1\/chat \(allowed: POST\)/));
    assert.equal(res.getHeader('allow'), 'POST');
    const usage = httpPair({ method: 'POST', url: '/api/v1/usage' });
    assert.throws(() => middleware(usage.req, usage.res, () => assert.fail('passed')), refusal('method_not_allowed', 'method_not_allowed'));
    assert.equal(usage.res.getHeader('allow'), 'GET, HEAD', 'a GET operation is served to HEAD as well');
  });

  it('a path parameter that is not valid percent-encoding is a 400 invalid_path naming it', () => {
    assert.throws(() => resolve('GET', '/api/v1/finetune/jobs/%E0%A4'), refusal('invalid_request', 'invalid_path', /path parameter id is not valid percent-encoding/));
  });
});

describe('authorizeScope', () => {
  let d: Domain;
  beforeEach(() => (d = openDomain()));
  afterEach(() => d.close());

  const principal = (scopes: Scope[]): Principal => ({
    keyId: '0123456789abcdef',
    keyName: 'k',
    workspaceId: 'ws_0123456789abcdef',
    workspaceName: 'acme',
    planId: 'paid_chat',
    planTitle: 'Paid chat',
    scopes,
    rpm: 300,
    maxConcurrent: 2,
    weight: 1,
  });
  const authorize = (op: Operation | undefined, who: Principal | undefined) => {
    const { req, res } = httpPair({ method: op?.method, url: op?.path });
    res.locals.operation = op;
    res.locals.principal = who;
    let passed = false;
    authorizeScope(d.catalog)(req, res, () => (passed = true));
    return passed;
  };

  it("passes a key that has the operation's scope", () => {
    assert.equal(authorize(operation('chat'), principal(['chat'])), true);
    assert.equal(authorize(operation('listJobs'), principal(['chat', 'chat_agent', 'chat_agent_train'])), true);
  });

  it('refuses one without it: 403 missing_scope naming the scope, the operation and the plans that have it', () => {
    assert.throws(
      () => authorize(operation('listJobs'), principal(['chat', 'chat_agent'])),
      refusal('permission', 'missing_scope', /^this key lacks the "chat_agent_train" scope required by GET \/api\/v1\/finetune\/jobs \(plans with it: chat_agent_train, local_agent_train, enterprise\)$/),
    );
    assert.equal(new HearthError('permission', '').status, 403);
  });

  it('an operation of any valid key (scope null) passes every key', () => {
    assert.equal(authorize(operation('usage'), principal([])), true);
  });

  it("follows the operator's override of an operation's scope at once, and names no plan when none has it", () => {
    d.catalog.setEndpointCost('GET /usage', { scope: 'local_model_access' });
    assert.throws(() => authorize(operation('usage'), principal(['chat'])), refusal('permission', 'missing_scope', /"local_model_access" .* \(plans with it: local_agent_train\)/));
    d.catalog.setPlan('local_agent_train', { scopes: ['chat'] });
    assert.throws(() => authorize(operation('usage'), principal(['chat'])), refusal('permission', 'missing_scope', /\(plans with it: none\)/));
    d.catalog.setEndpointCost('GET /usage', { scope: null });
    assert.equal(authorize(operation('usage'), principal(['chat'])), true);
  });

  it('leaves the admin surface to the admin token, and refuses a key operation that nothing authenticated', () => {
    assert.equal(authorize(operation('adminListPlans'), undefined), true);
    assert.throws(() => authorize(operation('usage'), undefined), refusal('authentication', 'missing_api_key'));
  });

  it('refuses, rather than serves, a request no operation was resolved for (a router mounted outside the guard)', () => {
    assert.throws(() => authorize(undefined, principal(['chat'])), refusal('not_found', 'route_not_found'));
  });
});

describe('checkInference: the plan weight', () => {
  let d: Domain;
  beforeEach(() => (d = openDomain()));
  afterEach(() => d.close());

  it("waits in the fair queue with its plan's weight: a workspace of weight 2 is admitted for about twice the tokens", async () => {
    d.catalog.setPlan('chat_agent', { weight: 2, maxConcurrent: 100 });
    d.catalog.setPlan('paid_chat', { maxConcurrent: 100 });
    const now = () => d.clock.now().getTime();
    const auth = authenticate({ keys: d.keys, limiter: new RateLimiter(now), now });
    const keyOf = (name: string, plan: string) => {
      const ws = d.workspaces.create({ name, planId: plan });
      return d.keys.create({ workspaceId: ws.id, name: 'k' }).key;
    };
    const keys = { heavy: keyOf('heavy', 'chat_agent'), light: keyOf('light', 'paid_chat') };
    const queue = new FairQueue({ slots: 1, maxWaitingPerTenant: 100, maxWaiting: 100, now });
    const admit = checkInference({ metadata: new ModelMetadata(d.db), concurrency: new ConcurrencyLimiter(), admission: queue });
    const op = operation('chat');
    const admitted: Array<{ who: 'heavy' | 'light'; hangUp: () => Promise<void>; res: Response }> = [];
    // A call of `who` through the key check and checkInference, as the daemon runs them.
    const call = (who: 'heavy' | 'light') => {
      const { req, res, hangUp } = httpPair({ method: 'POST', url: op.path, headers: { 'x-api-key': keys[who] } });
      res.locals.operation = op;
      req.body = { model: 'hearth-demo' };
      auth(req, res, () => undefined);
      const passed = new Promise<void>((resolve, reject) => void (admit(req, res, () => resolve()) as unknown as Promise<void>).catch(reject));
      return passed.then(() => void admitted.push({ who, hangUp, res }));
    };
    const keepBacklogged = (who: 'heavy' | 'light') => void call(who).then(() => keepBacklogged(who));
    for (let i = 0; i < 3; i++) {
      keepBacklogged('heavy');
      keepBacklogged('light');
    }
    const settle = () => new Promise<void>((r) => setImmediate(r));
    await settle();
    const weightOf = (name: string) => queue.snapshot().tenants.find((t) => t.tenant === d.workspaces.get(name).id)?.weight;
    assert.deepEqual([weightOf('heavy'), weightOf('light')], [2, 1]);
    const served = { heavy: 0, light: 0 };
    for (let i = 0; i < 150; i++) {
      const next = admitted.shift()!;
      tokensServed(next.res, 10, 0);
      served[next.who] += 10;
      await next.hangUp();
      await settle();
    }
    assert.ok(Math.abs(served.heavy - 2 * served.light) <= 40, JSON.stringify(served));
  });
});
