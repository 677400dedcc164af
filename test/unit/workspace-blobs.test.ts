import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { blobKey, RECONCILE_MAX_ROWS, WorkspaceBlobs, type BlobProbe } from '../../src/domain/workspace-blobs.js';
import { openDomain, type Domain } from '../helpers/domain-db.js';

const digestOf = (n: number) => `sha256:${n.toString(16).padStart(2, '0').repeat(32)}`;

/** A backend whose blob store is `stored`; every question it is asked is kept in `asked`. */
function backend(stored: Set<string>) {
  const asked: string[] = [];
  const exists: BlobProbe = async (digest) => {
    asked.push(digest);
    return stored.has(digest);
  };
  return { asked, exists };
}

describe('WorkspaceBlobs', () => {
  let d: Domain;
  let blobs: WorkspaceBlobs;
  let a: string;
  let b: string;
  beforeEach(() => {
    d = openDomain();
    blobs = new WorkspaceBlobs(d.db, d.clock);
    a = d.workspaces.create({ name: 'a', planId: 'local_agent_train' }).id;
    b = d.workspaces.create({ name: 'b', planId: 'local_agent_train' }).id;
  });
  afterEach(() => d.close());

  it('sums what each workspace uploaded, a digest once (either spelling), apart from other workspaces', () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    assert.equal(blobs.usedBytes(a), 0);
    assert.equal(blobs.holds(a, digest), false);
    blobs.record(a, digest, 100);
    blobs.record(a, `sha256-${'ab'.repeat(32)}`, 100);
    blobs.record(a, `sha256:${'cd'.repeat(32)}`, 50);
    blobs.record(b, digest, 100);
    assert.equal(blobs.usedBytes(a), 150);
    assert.equal(blobs.usedBytes(b), 100);
    assert.ok(blobs.holds(a, `sha256-${'ab'.repeat(32)}`));
    assert.equal(blobKey(`SHA256-${'AB'.repeat(32)}`), digest);
  });

  it('release stops counting one blob for one workspace, in either spelling', () => {
    blobs.record(a, digestOf(1), 100);
    blobs.record(b, digestOf(1), 100);
    assert.equal(blobs.release(a, digestOf(1).replace(':', '-')), true);
    assert.equal(blobs.release(a, digestOf(1)), false);
    assert.equal(blobs.usedBytes(a), 0);
    assert.equal(blobs.usedBytes(b), 100);
  });

  it('reconcile gives back the blobs the backend no longer has, and only the workspace\'s own rows', async () => {
    blobs.record(a, digestOf(1), 300);
    blobs.record(a, digestOf(2), 200);
    blobs.record(a, digestOf(3), 100);
    // Shared: the same blob, gone, counts for b until b's own reconcile.
    blobs.record(b, digestOf(1), 300);
    const { asked, exists } = backend(new Set([digestOf(2)]));
    assert.deepEqual(await blobs.reconcile(a, exists), { released: [digestOf(1), digestOf(3)] });
    assert.equal(blobs.usedBytes(a), 200);
    assert.ok(blobs.holds(a, digestOf(2)));
    assert.equal(blobs.usedBytes(b), 300);
    // Largest first; each gone blob is asked about twice (see the race test below).
    assert.deepEqual(asked, [digestOf(1), digestOf(1), digestOf(2), digestOf(3), digestOf(3)]);
    assert.deepEqual(await blobs.reconcile(b, exists), { released: [digestOf(1)] });
    assert.equal(blobs.usedBytes(b), 0);
  });

  it('a backend that cannot answer stops reconcile and gives nothing more back: the rows not confirmed gone stay counted', async () => {
    blobs.record(a, digestOf(1), 300);
    blobs.record(a, digestOf(2), 200);
    blobs.record(a, digestOf(3), 100);
    const down = new Error('backend down');
    const asked: string[] = [];
    const r = await blobs.reconcile(a, async (digest) => {
      asked.push(digest);
      if (digest === digestOf(2)) throw down;
      return false;
    });
    // The largest was confirmed gone (asked twice); the failure at the second ends it there.
    assert.deepEqual(r, { released: [digestOf(1)], failed: down });
    assert.deepEqual(asked, [digestOf(1), digestOf(1), digestOf(2)]);
    assert.equal(blobs.usedBytes(a), 300);
    assert.ok(blobs.holds(a, digestOf(2)) && blobs.holds(a, digestOf(3)));
  });

  it('a blob stored again while the backend\'s "gone" was on its way stays counted', async () => {
    blobs.record(a, digestOf(1), 300);
    const stored = new Set<string>();
    const r = await blobs.reconcile(a, async (digest) => {
      const there = stored.has(digest);
      // The workspace's upload of the same blob lands right after the backend answered: it
      // finds the row still there, so it records nothing.
      if (!there) {
        stored.add(digest);
        blobs.record(a, digest, 300);
      }
      return there;
    });
    assert.deepEqual(r, { released: [] });
    assert.equal(blobs.usedBytes(a), 300);
  });

  it('a failure on the second question keeps the row too', async () => {
    blobs.record(a, digestOf(1), 300);
    const down = new Error('backend down');
    let calls = 0;
    const r = await blobs.reconcile(a, async () => {
      if (++calls === 2) throw down;
      return false;
    });
    assert.deepEqual(r, { released: [], failed: down });
    assert.equal(blobs.usedBytes(a), 300);
  });

  it(`asks about at most ${RECONCILE_MAX_ROWS} rows a time, the largest`, async () => {
    for (let i = 1; i <= RECONCILE_MAX_ROWS + 5; i++) blobs.record(a, digestOf(i), i);
    const { asked, exists } = backend(new Set());
    const r = await blobs.reconcile(a, exists);
    assert.equal(r.released.length, RECONCILE_MAX_ROWS);
    assert.equal(new Set(asked).size, RECONCILE_MAX_ROWS);
    // The 5 smallest (1 + … + 5 bytes) are left for the next time.
    assert.equal(blobs.usedBytes(a), 15);
    assert.deepEqual((await blobs.reconcile(a, exists)).released.length, 5);
    assert.equal(blobs.usedBytes(a), 0);
  });
});
