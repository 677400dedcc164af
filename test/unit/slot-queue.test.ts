import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlotQueue } from '../../src/engine/runtime/slot-queue.js';
import { HearthError } from '../../src/errors.js';

test('hands out slots, queues FIFO, refuses beyond the bound with 503', async () => {
  const q = new SlotQueue(['a', 'b'], 2);
  const s1 = await q.acquire();
  const s2 = await q.acquire();
  assert.deepEqual(new Set([s1, s2]), new Set(['a', 'b']));
  const order: string[] = [];
  const w1 = q.acquire().then((s) => order.push(`w1:${s}`));
  const w2 = q.acquire().then((s) => order.push(`w2:${s}`));
  assert.equal(q.queued, 2);
  await assert.rejects(q.acquire(), (e: unknown) => e instanceof HearthError && e.status === 503 && e.retryAfterS === 1);
  q.release(s1);
  q.release(s2);
  await Promise.all([w1, w2]);
  assert.deepEqual(order, [`w1:${s1}`, `w2:${s2}`]);
  assert.equal(q.busy, 2);
});

test('an aborted waiter leaves the queue and frees its place', async () => {
  const q = new SlotQueue(['only'], 1);
  const held = await q.acquire();
  const controller = new AbortController();
  const waiting = q.acquire(controller.signal);
  controller.abort(new Error('gone'));
  await assert.rejects(waiting, /gone/);
  assert.equal(q.queued, 0);
  const next = q.acquire();
  q.release(held);
  assert.equal(await next, 'only');
});

test('rejectWaiters fails everyone queued', async () => {
  const q = new SlotQueue([1], 3);
  await q.acquire();
  const waiters = [q.acquire(), q.acquire()];
  q.rejectWaiters(new Error('unloading'));
  for (const w of waiters) await assert.rejects(w, /unloading/);
});
