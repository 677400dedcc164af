import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parentToWatch, watchParent } from '../../src/supervisor/watch-parent.js';

test('watchParent stays quiet while the parent is the one given, and fires at once when it is not', (t) => {
  // The poll is a setInterval: the test's clock runs it, so ten seconds pass at once.
  t.mock.timers.enable({ apis: ['setInterval'] });
  let calls = 0;
  watchParent(process.ppid, () => calls++);
  t.mock.timers.tick(10_000);
  assert.equal(calls, 0, 'the parent is alive and still ours');
  // A parent that died before the watch began (its children were re-parented): no wait.
  let gone = 0;
  watchParent(process.ppid + 1_000_000, () => gone++);
  assert.equal(gone, 1);
  t.mock.timers.tick(10_000);
  assert.equal(gone, 1, 'once, not every second');
});

test('parentToWatch: --parent-pid wins, --watch-parent means the parent now, bad pids are refused', () => {
  assert.equal(parentToWatch({ 'parent-pid': '4242' }), 4242);
  assert.equal(parentToWatch({ 'parent-pid': '4242', 'watch-parent': true }), 4242);
  assert.equal(parentToWatch({ 'watch-parent': true }), process.ppid);
  assert.equal(parentToWatch({}), undefined);
  for (const bad of ['0', '-1', '12x', '']) assert.throws(() => parentToWatch({ 'parent-pid': bad }), /--parent-pid/);
});
