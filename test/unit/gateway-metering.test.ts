// meterOperation (src/gateway/guard.ts) on the real ledger (SQLite in a temp dir): a call's
// credits are reserved before its work, settled as a 2xx answer's headers are written (a stream:
// at its first token), and released for anything else, a client gone included; each
// reservation concludes once.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { hearthOperations } from '../../src/contract/hearth-spec.js';
import type { Operation } from '../../src/contract/operations.js';
import { HearthError } from '../../src/errors.js';
import { meterOperation, served, streamStarted } from '../../src/gateway/guard.js';
import { principalOf } from '../../src/gateway/auth.js';
import type { Principal } from '../../src/gateway/principal.js';
import { openDomain, type Domain } from '../helpers/domain-db.js';
import { httpPair, type HttpPair } from '../helpers/http-pair.js';

function operation(operationId: string): Operation {
  const op = hearthOperations().find((o) => o.operationId === operationId);
  assert.ok(op, operationId);
  return op;
}

describe('meterOperation', () => {
  let d: Domain;
  let principal: Principal;
  let requests = 0;

  beforeEach(() => {
    d = openDomain();
    const ws = d.workspaces.create({ name: 'acme', planId: 'paid_chat', monthlyCredits: 10 });
    const { key } = d.keys.create({ workspaceId: ws.id, name: 'k' });
    const v = d.keys.verify(key);
    assert.ok(v.ok);
    principal = principalOf(v);
  });
  afterEach(() => d.close());

  /** A request for `operationId` through the meter; `passed` says whether it went on. */
  function metered(operationId: string, who: Principal | undefined = principal): HttpPair & { passed: boolean } {
    const op = operation(operationId);
    const pair = httpPair({ method: op.method, url: op.path });
    pair.res.locals.requestId = `req-${++requests}`;
    pair.res.locals.operation = op;
    pair.res.locals.principal = who;
    let passed = false;
    meterOperation({ catalog: d.catalog, ledger: d.ledger })(pair.req, pair.res, () => (passed = true));
    return { ...pair, passed };
  }
  const usage = () => {
    const u = d.ledger.usage(principal.workspaceId);
    return { used: u.used, pending: u.pending, settled: u.byEndpoint.reduce((n, e) => n + e.calls, 0) };
  };
  const kinds = () => d.db.prepare<[], string>('SELECT kind FROM ledger ORDER BY seq').pluck().all();

  it("reserves the operation's credits before the work and settles them as a 2xx answer's headers are written", async () => {
    const call = metered('chat');
    assert.equal(call.passed, true);
    assert.equal(call.res.locals.meter?.credits, 1);
    assert.deepEqual(usage(), { used: 1, pending: 1, settled: 0 }, 'reserved: in flight');
    call.res.status(200);
    call.res.writeHead(200, { 'content-type': 'application/json' });
    assert.deepEqual(usage(), { used: 1, pending: 0, settled: 1 }, 'settled before a byte of the answer left');
    assert.equal(call.res.locals.charged, 1, 'for the access log');
    call.res.end('{}');
    await call.finished;
    await call.hangUp();
    assert.deepEqual(kinds(), ['reserve', 'settle'], 'the close after the answer concludes nothing more');
  });

  it('settles an answer whose headers Node writes itself (res.end without writeHead)', async () => {
    const call = metered('createJob');
    assert.equal(call.res.locals.meter?.credits, 3);
    call.res.statusCode = 201;
    call.res.end('{}');
    await call.finished;
    await call.hangUp();
    assert.deepEqual(usage(), { used: 3, pending: 0, settled: 1 });
  });

  it('releases the reservation of an answer that is not a 2xx, once the response closes', async () => {
    for (const status of [400, 404, 429, 500, 503]) {
      const call = metered('chat');
      call.res.statusCode = status;
      call.res.end('{"error":{}}');
      await call.finished;
      assert.equal(call.res.locals.charged, undefined, String(status));
      await call.hangUp();
    }
    assert.deepEqual(usage(), { used: 0, pending: 0, settled: 0 });
    assert.deepEqual(kinds(), Array(5).fill(['reserve', 'release']).flat());
  });

  it('releases the reservation of a client gone before its answer', async () => {
    const call = metered('generate');
    assert.deepEqual(usage(), { used: 1, pending: 1, settled: 0 });
    await call.hangUp();
    assert.deepEqual(usage(), { used: 0, pending: 0, settled: 0 });
    assert.deepEqual(kinds(), ['reserve', 'release']);
  });

  it('charges a stream at its first token, not at its headers, and keeps the charge when the client leaves after it', async () => {
    const call = metered('chatStream');
    streamStarted(call.res);
    call.res.writeHead(200, { 'content-type': 'text/event-stream' });
    call.res.write(': ping\n\n');
    assert.deepEqual(usage(), { used: 1, pending: 1, settled: 0 }, 'headers and pings are not the service');
    served(call.res);
    assert.deepEqual(usage(), { used: 1, pending: 0, settled: 1 });
    served(call.res);
    await call.hangUp();
    assert.deepEqual(kinds(), ['reserve', 'settle'], 'once, however often served is called and whenever the client leaves');
  });

  it('releases a stream the client left before its first token', async () => {
    const call = metered('chatStream');
    streamStarted(call.res);
    call.res.writeHead(200, { 'content-type': 'text/event-stream' });
    await call.hangUp();
    served(call.res);
    assert.deepEqual(usage(), { used: 0, pending: 0, settled: 0 });
    assert.deepEqual(kinds(), ['reserve', 'release'], 'a token after the close charges nothing');
  });

  it("reserves the operator's cost, and refuses a call the budget cannot cover with 429 before any work", async () => {
    d.catalog.setEndpointCost('POST /chat', { credits: 4 });
    const first = metered('chat');
    assert.equal(first.res.locals.meter?.credits, 4);
    const second = metered('chat');
    assert.deepEqual(usage(), { used: 8, pending: 8, settled: 0 }, 'calls in flight count against the budget');
    assert.throws(
      () => metered('chat'),
      (e: unknown) => e instanceof HearthError && e.status === 429 && e.code === 'credits_exhausted' && /8 of 10 used .* this call needs 4/.test(e.message),
    );
    assert.deepEqual(kinds(), ['reserve', 'reserve'], 'the refused call reserved nothing');
    await first.hangUp();
    await second.hangUp();
    assert.equal(metered('chat').passed, true, 'released credits are there again');
  });

  it('passes calls that cost nothing, and those of the admin surface, without a reservation', async () => {
    for (const call of [metered('usage'), metered('listJobs'), metered('adminListPlans', undefined)]) {
      assert.equal(call.passed, true);
      assert.equal(call.res.locals.meter, undefined);
      call.res.statusCode = 200;
      call.res.end('{}');
      await call.hangUp();
    }
    d.catalog.setEndpointCost('POST /chat', { credits: 0 });
    assert.equal(metered('chat').res.locals.meter, undefined, "the operator's 0 too");
    assert.deepEqual(kinds(), []);
  });
});
