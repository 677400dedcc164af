import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HearthError } from '../../src/errors.js';
import { FairQueue, MIN_CALL_COST, OUTPUT_TOKEN_COST, type Admission, type FairQueueOptions } from '../../src/gateway/fair-queue.js';

/** A queue on a manual clock, and a record of the order in which calls were admitted. */
function harness(options: Partial<FairQueueOptions> = {}) {
  const clock = { ms: 0 };
  const q = new FairQueue({ slots: 1, maxWaitingPerTenant: 1000, maxWaiting: 10_000, now: () => clock.ms, ...options });
  const admitted: Array<{ tenant: string; label: string; model: string; slot: Admission }> = [];
  const call = (tenant: string, label = tenant, { weight = 1, signal, model = 'm' }: { weight?: number; signal?: AbortSignal; model?: string } = {}) => {
    const p = q.acquire(tenant, weight, model, signal);
    p.then(
      (slot) => admitted.push({ tenant, label, model, slot }),
      () => undefined,
    );
    return p;
  };
  /** Lets the admissions made so far reach their `then`. */
  const settle = () => new Promise<void>((r) => setImmediate(r));
  /** Finishes the oldest admitted call still held (of `model`, if given): it charges what it was served, then gives its slot back. */
  const finish = async (input: number, output: number, model?: string) => {
    const i = admitted.findIndex((x) => model === undefined || x.model === model);
    assert.ok(i >= 0, `a call holds a slot${model === undefined ? '' : ` of ${model}`}`);
    const next = admitted.splice(i, 1)[0]!;
    next.slot.charge(input, output);
    next.slot.release();
    await settle();
    return next.label;
  };
  const counter = (tenant: string) => q.snapshot().tenants.find((t) => t.tenant === tenant)?.counter ?? 0;
  return { q, clock, call, settle, finish, admitted, counter };
}

const rejection = async (p: Promise<unknown>): Promise<HearthError> => {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof HearthError, String(err));
    return err;
  }
  assert.fail('expected a rejection');
};

describe('FairQueue', () => {
  it('admits at once while slots are free, then queues: work-conserving, nothing waits beside a free slot', async () => {
    const h = harness({ slots: 2 });
    await h.call('a', 'a1');
    await h.call('b', 'b1');
    void h.call('a', 'a2');
    await h.settle();
    assert.deepEqual(h.admitted.map((x) => x.label), ['a1', 'b1']);
    assert.deepEqual({ inFlight: h.q.snapshot().inFlight, waiting: h.q.snapshot().waiting }, { inFlight: 2, waiting: 1 });
    assert.equal(await h.finish(10, 5), 'a1');
    assert.deepEqual(h.admitted.map((x) => x.label), ['b1', 'a2'], 'the freed slot goes to the waiting call');
  });

  it("serves the least served tenant first: a newcomer goes ahead of a flooding tenant's earlier calls", async () => {
    const h = harness();
    await h.call('a', 'a1');
    for (const n of [2, 3, 4]) void h.call('a', `a${n}`);
    void h.call('b', 'b1');
    await h.settle();
    // a1 is being served as b1 waits: a's counter grows past b's.
    h.admitted[0]!.slot.charge(20, 10);
    assert.equal(await h.finish(0, 0), 'a1');
    assert.equal(h.admitted[0]!.label, 'b1', 'b waited for one call only, not for the three a queued before it');
    assert.equal(await h.finish(20, 10), 'b1');
    assert.deepEqual([await h.finish(0, 0), await h.finish(0, 0), await h.finish(0, 0)], ['a2', 'a3', 'a4']);
  });

  it('counts a written token twice a read one, and each call at least MIN_CALL_COST', async () => {
    const h = harness();
    const slot = await h.call('a');
    assert.equal(h.counter('a'), MIN_CALL_COST, 'an admitted call counts before it reports anything');
    slot.charge(10, 0);
    slot.charge(0, 3);
    assert.equal(h.counter('a'), 10 + 3 * OUTPUT_TOKEN_COST, 'the minimum is part of what it reports, not added to it');
    slot.release();
    slot.release();
    assert.equal(h.q.snapshot().inFlight, 0, 'a second release gives back nothing more');
  });

  it("served tokens converge while both tenants are backlogged, whatever their calls' sizes", async () => {
    const h = harness({ slots: 2 });
    const cost = { a: 100, b: 7 } as const;
    const served = { a: 0, b: 0 };
    // Each tenant keeps four calls waiting: as one is admitted, it sends another.
    const keepBacklogged = (tenant: 'a' | 'b') => void h.call(tenant).then(() => keepBacklogged(tenant));
    for (let i = 0; i < 4; i++) {
      keepBacklogged('a');
      keepBacklogged('b');
    }
    await h.settle();
    for (let i = 0; i < 400; i++) {
      const { tenant, slot } = h.admitted.shift()!;
      const t = tenant as 'a' | 'b';
      slot.charge(cost[t], 0);
      served[t] += cost[t];
      slot.release();
      await h.settle();
    }
    // VTC's bound: the difference stays within a few of the largest call, while the totals grow.
    assert.ok(served.a > 10 * cost.a && served.b > 10 * cost.a, JSON.stringify(served));
    assert.ok(Math.abs(served.a - served.b) <= 3 * cost.a, `served ${JSON.stringify(served)}`);
  });

  it('lifts a tenant that starts waiting to the least counter of those waiting: idle time is not banked', async () => {
    const h = harness();
    // a alone for a long while: 50 calls of 100.
    for (let i = 0; i < 50; i++) {
      await h.call('a');
      await h.finish(100, 0);
    }
    assert.equal(h.counter('a'), 5000);
    await h.call('a', 'a-running');
    for (let i = 0; i < 6; i++) void h.call('a', `a${i}`);
    void h.call('b', 'b0');
    await h.settle();
    assert.equal(h.counter('b'), h.counter('a'), 'b enters at the counter of the tenants waiting, not at 0');
    // Both backlogged from here: b, lifted, gets its share, not the 5000 units a had before it came.
    void h.call('b', 'b1');
    void h.call('b', 'b2');
    const order: string[] = [];
    for (let i = 0; i < 6; i++) order.push(await h.finish(100, 0));
    assert.deepEqual(order, ['a-running', 'b0', 'a0', 'b1', 'a1', 'b2']);
  });

  it('lifts a tenant arriving at an empty queue to the last tenant that left it', async () => {
    const h = harness({ slots: 4 });
    await h.call('a');
    await h.finish(300, 0);
    await h.call('b');
    assert.equal(h.counter('b'), 300 + MIN_CALL_COST, "b starts from a's service, plus its own call's minimum");
  });

  it('divides the charge by the weight: a tenant of weight 2 is served twice as much', async () => {
    const h = harness();
    const served = { heavy: 0, light: 0 };
    const keepBacklogged = (tenant: 'heavy' | 'light', weight: number) => void h.call(tenant, tenant, { weight }).then(() => keepBacklogged(tenant, weight));
    for (let i = 0; i < 3; i++) {
      keepBacklogged('heavy', 2);
      keepBacklogged('light', 1);
    }
    await h.settle();
    for (let i = 0; i < 300; i++) {
      const { tenant, slot } = h.admitted.shift()!;
      slot.charge(10, 0);
      served[tenant as 'heavy' | 'light'] += 10;
      slot.release();
      await h.settle();
    }
    assert.ok(Math.abs(served.heavy - 2 * served.light) <= 40, JSON.stringify(served));
  });

  it('bounds the calls waiting per tenant and in all: 503 backend_busy with a Retry-After from how long slots are held', async () => {
    const h = harness({ slots: 1, maxWaitingPerTenant: 2, maxWaiting: 3 });
    await h.call('a', 'a-running');
    void h.call('a');
    void h.call('a');
    const own = await rejection(h.call('a'));
    assert.deepEqual([own.status, own.code, own.retryAfterS], [503, 'backend_busy', 1], 'no hold measured yet: 1 s');
    assert.match(own.message, /this workspace already has 2 calls waiting/);
    void h.call('b', 'b-waits');
    const all = await rejection(h.call('c'));
    assert.equal(all.code, 'backend_busy');
    assert.match(all.message, /3 calls are waiting/);
    // Slots held 10 s each: the 4th in line waits about 4 × 10 s.
    h.clock.ms += 10_000;
    await h.finish(0, 0);
    void h.call('c', 'c-waits');
    const later = await rejection(h.call('d'));
    assert.equal(later.retryAfterS, 40);
    assert.equal(h.q.snapshot().waiting, 3, 'refused calls take no place');
  });

  it('an abandoned waiting call leaves the queue uncharged, and the next one is admitted in its place', async () => {
    const h = harness({ slots: 1, maxWaitingPerTenant: 1 });
    await h.call('a', 'a-running');
    const leaving = new AbortController();
    const abandoned = h.call('b', 'b-gone', { signal: leaving.signal });
    await h.settle();
    const before = h.counter('b');
    leaving.abort();
    assert.equal((await rejection(abandoned)).code, 'client_closed');
    assert.equal(h.q.snapshot().waiting, 0);
    void h.call('b', 'b-next');
    await h.finish(5, 5);
    assert.deepEqual(h.admitted.map((x) => x.label), ['b-next']);
    assert.equal(h.counter('b'), before + MIN_CALL_COST, 'only the call admitted counts');
    const gone = new AbortController();
    gone.abort();
    assert.equal((await rejection(h.call('c', 'c', { signal: gone.signal }))).code, 'client_closed', 'a client already gone never enters');
  });

  it('starves no one: calls that report nothing still move their tenant back', async () => {
    const h = harness();
    await h.call('a', 'a-running');
    void h.call('b', 'b-first');
    // a's calls fail before any token.
    for (let i = 0; i < 10_000; i++) void h.call('a', `a${i}`);
    await h.settle();
    assert.equal(await h.finish(0, 0), 'a-running');
    // b, served much, has the larger counter when it waits again.
    void h.call('b', 'b-waits');
    assert.equal(await h.finish(1000, 1000), 'b-first');
    let served = 0;
    while (h.admitted[0]?.label !== 'b-waits') {
      await h.finish(0, 0);
      served++;
      assert.ok(served < 10_000, 'b is never served');
    }
    assert.ok(served > 100, `a, served less, went first for a while (${served} calls)`);
  });

  it('refuses a configuration without slots, and a weight that is not positive', () => {
    assert.throws(() => new FairQueue({ slots: 0, maxWaitingPerTenant: 1, maxWaiting: 1, now: () => 0 }), RangeError);
    const q = new FairQueue({ slots: 1, maxWaitingPerTenant: 1, maxWaiting: 1, now: () => 0 });
    assert.throws(() => void q.acquire('a', 0, 'm'), RangeError);
  });
});

describe('FairQueue: a pool of slots per model', () => {
  const models = (h: ReturnType<typeof harness>) => h.q.snapshot().models;

  it("admits a call for model B at once while A's slots are all taken and calls wait for A", async () => {
    const h = harness({ slots: 1 });
    await h.call('a', 'a-running', { model: 'A' });
    void h.call('a', 'a-waits', { model: 'A' });
    await h.call('b', 'b-on-B', { model: 'B' });
    await h.settle();
    assert.deepEqual(h.admitted.map((x) => x.label), ['a-running', 'b-on-B'], 'B has its own slot: no waiting behind A');
    assert.deepEqual(models(h), [
      { model: 'A', slots: 1, inFlight: 1, waiting: 1 },
      { model: 'B', slots: 1, inFlight: 1, waiting: 0 },
    ]);
    assert.deepEqual({ inFlight: h.q.snapshot().inFlight, waiting: h.q.snapshot().waiting }, { inFlight: 2, waiting: 1 });
    assert.equal(await h.finish(0, 0, 'B'), 'b-on-B');
    assert.deepEqual(h.admitted.map((x) => x.label), ['a-running'], 'a freed slot of B admits nobody waiting for A');
    assert.equal(await h.finish(0, 0, 'A'), 'a-running');
    assert.deepEqual(h.admitted.map((x) => x.label), ['a-waits']);
  });

  it('gives a freed slot of A to the least served tenant waiting for A, not to a less served one waiting only for B', async () => {
    const h = harness({ slots: 1 });
    await h.call('a', 'a-on-B', { model: 'B' });
    await h.call('x', 'x-on-A', { model: 'A' });
    // c waits for B first; then a and b for A. The lift puts all three at the same counter.
    void h.call('c', 'c-waits-B', { model: 'B' });
    void h.call('a', 'a-waits-A', { model: 'A' });
    void h.call('b', 'b-waits-A', { model: 'A' });
    await h.settle();
    // a's call on B is served while it waits for A: its counter grows, whatever the model.
    h.admitted.find((x) => x.label === 'a-on-B')!.slot.charge(50, 0);
    assert.ok(h.counter('c') <= h.counter('b') && h.counter('b') < h.counter('a'), JSON.stringify(h.q.snapshot().tenants));
    assert.equal(await h.finish(0, 0, 'A'), 'x-on-A');
    assert.deepEqual(
      h.admitted.map((x) => x.label),
      ['a-on-B', 'b-waits-A'],
      "A's slot went to b, the least served of those waiting for A: not to c (least served and waiting longest, but for B), not to a (first for A, served more)",
    );
    assert.equal(await h.finish(0, 0, 'B'), 'a-on-B');
    assert.deepEqual(h.admitted.map((x) => x.label), ['b-waits-A', 'c-waits-B']);
    assert.equal(await h.finish(0, 0, 'A'), 'b-waits-A');
    assert.deepEqual(h.admitted.map((x) => x.label), ['c-waits-B', 'a-waits-A']);
  });

  it('lifts a tenant that starts waiting at all, whatever the model: its first call for B starts from the counter of those waiting for A', async () => {
    const h = harness({ slots: 1 });
    await h.call('a', 'a-alone', { model: 'A' });
    await h.finish(1000, 0);
    await h.call('a', 'a-running', { model: 'A' });
    void h.call('a', 'a-waits', { model: 'A' });
    await h.settle();
    assert.equal(h.counter('a'), 1000 + MIN_CALL_COST);
    await h.call('b', 'b-on-B', { model: 'B' });
    assert.equal(h.counter('b'), h.counter('a') + MIN_CALL_COST, "b did not bank its idle time on another model's free slots");
    // b already waiting (for C): a call of its for B is not a start of waiting, so no new lift.
    await h.call('d', 'd-on-C', { model: 'C' });
    void h.call('b', 'b-waits-C', { model: 'C' });
    await h.settle();
    const before = h.counter('b');
    h.admitted.find((x) => x.label === 'a-running')!.slot.charge(5000, 0);
    await h.call('b', 'b-on-D', { model: 'D' });
    assert.equal(h.counter('b'), before + MIN_CALL_COST, 'b already waited: it is not lifted to a again');
  });

  it('drops the pool of a model with nothing in flight or waiting: many model names leave nothing behind', async () => {
    const h = harness({ slots: 1 });
    for (let i = 0; i < 200; i++) {
      await h.call('a', `a${i}`, { model: `model-${i}` });
      await h.finish(1, 1);
    }
    assert.deepEqual(models(h), []);
    // A pool with calls waiting, some abandoned, is kept while anything is in flight, then dropped.
    await h.call('a', 'a-running', { model: 'A' });
    const leaving = new AbortController();
    const abandoned = h.call('b', 'b-gone', { model: 'A', signal: leaving.signal });
    void h.call('c', 'c-waits', { model: 'A' });
    await h.settle();
    leaving.abort();
    assert.equal((await rejection(abandoned)).code, 'client_closed');
    assert.deepEqual(models(h), [{ model: 'A', slots: 1, inFlight: 1, waiting: 1 }]);
    await h.finish(0, 0);
    await h.finish(0, 0);
    assert.deepEqual(models(h), []);
    assert.deepEqual(h.q.snapshot().tenants.map((t) => t.tenant), ['a', 'b', 'c'], 'the counters stay: service received is kept');
  });

  it('bounds the calls waiting over every model: in all and per tenant', async () => {
    const h = harness({ slots: 1, maxWaiting: 2, maxWaitingPerTenant: 1 });
    await h.call('x', 'x-on-A', { model: 'A' });
    await h.call('y', 'y-on-B', { model: 'B' });
    void h.call('a', 'a-waits-A', { model: 'A' });
    const own = await rejection(h.call('a', 'a-waits-B', { model: 'B' }));
    assert.equal(own.code, 'backend_busy');
    assert.match(own.message, /this workspace already has 1 calls waiting/, "a's call waiting for A counts against it for B too");
    void h.call('b', 'b-waits-B', { model: 'B' });
    const all = await rejection(h.call('c', 'c-waits-A', { model: 'A' }));
    assert.match(all.message, /2 calls are waiting/, 'one waits for A, one for B: together the bound');
    await h.call('c', 'c-on-C', { model: 'C' });
    assert.equal(h.admitted.at(-1)?.label, 'c-on-C', 'a model with a free slot still admits at once: nothing waits there');
    assert.equal(h.q.snapshot().waiting, 2);
  });

  it("estimates Retry-After from how many calls wait and the slots of every model they wait for", async () => {
    const h = harness({ slots: 1, maxWaiting: 2 });
    await h.call('x', 'x-on-A', { model: 'A' });
    h.clock.ms += 10_000;
    await h.finish(0, 0);
    await h.call('x', 'x-on-A', { model: 'A' });
    await h.call('y', 'y-on-B', { model: 'B' });
    void h.call('a', 'a-waits-A', { model: 'A' });
    void h.call('b', 'b-waits-B', { model: 'B' });
    // Slots held 10 s; 2 waiting plus the refused one, draining through A's slot and B's.
    assert.equal((await rejection(h.call('c', 'c', { model: 'A' }))).retryAfterS, 15);
  });
});
