import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cachedFor } from '../../src/api/admin/system-info.js';

describe('cachedFor (the overview keeps the machine’s numbers a few seconds)', () => {
  it('answers from the kept reading within the time, shares a reading in flight, reads again after', async () => {
    let now = 0;
    let reads = 0;
    const read = cachedFor(5000, async () => ++reads, () => now);
    const [a, b] = await Promise.all([read(), read()]);
    assert.deepEqual([a, b, reads], [1, 1, 1], 'two callers at once, one reading');
    now = 4999;
    assert.equal(await read(), 1);
    now = 5000;
    assert.equal(await read(), 2);
  });

  it('keeps no failure: the next call reads again', async () => {
    let fail = true;
    const read = cachedFor(5000, async () => {
      if (fail) throw new Error('no answer');
      return 'ok';
    }, () => 0);
    await assert.rejects(read(), /no answer/);
    fail = false;
    assert.equal(await read(), 'ok');
  });
});
