import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { HearthError } from '../../src/errors.js';
import { createManifest, MediaType, type Layer, type Manifest } from '../../src/engine/store/manifest.js';
import { ModelStore, type StoreWarning } from '../../src/engine/store/model-store.js';

const HOUR = 3600_000;

async function blob(store: ModelStore, content: string, mediaType: string = MediaType.model): Promise<Layer> {
  const { digest, size } = await store.blobs.writeBytes(Buffer.from(content));
  return { mediaType, digest, size };
}

/** A manifest with a config blob and the given layer contents, all written to the store. */
async function manifestOf(store: ModelStore, ...contents: string[]): Promise<Manifest> {
  const config = await blob(store, `{"config":${JSON.stringify(contents)}}`, MediaType.config);
  const layers: Layer[] = [];
  for (const content of contents) layers.push(await blob(store, content));
  return createManifest(config, layers);
}

async function age(store: ModelStore, digest: string, ms: number): Promise<void> {
  const when = new Date(Date.now() - ms);
  await utimes(store.blobs.pathOf(digest), when, when);
}

/** Deterministic PRNG (mulberry32) so a failing interleaving can be reproduced. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every file under dir, relative, sorted. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? e.path, e.name).slice(dir.length + 1))
    .sort();
}

describe('ModelStore', () => {
  let root: string;
  let store: ModelStore;
  let warnings: StoreWarning[];

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'hearth-store-'));
    warnings = [];
    store = await ModelStore.open(root, { onWarning: (w) => warnings.push(w) });
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('creates its directories', async () => {
    assert.ok((await stat(join(root, 'blobs'))).isDirectory());
    assert.ok((await stat(join(root, 'manifests'))).isDirectory());
    assert.deepEqual(await store.list(), []);
  });

  it('round-trips put, get and list with real files', async () => {
    const manifest = await manifestOf(store, 'weights', 'template');
    const put = await store.put('Llama3:8B', manifest);
    const path = join(root, 'manifests', 'library', 'llama3', '8b');
    const bytes = await readFile(path);

    assert.equal(put.fullName, 'llama3:8b');
    assert.deepEqual(put.name, { namespace: 'library', model: 'llama3', tag: '8b' });
    assert.equal(put.digest, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(put.size, manifest.config.size + 'weights'.length + 'template'.length);
    assert.deepEqual(JSON.parse(bytes.toString('utf8')), manifest);

    const got = await store.get({ namespace: 'library', model: 'llama3', tag: '8b' });
    assert.ok(got);
    assert.equal(got.digest, put.digest);
    assert.deepEqual(got.manifest, manifest);
    assert.ok(got.modifiedAt instanceof Date);
    assert.equal(got.modifiedAt.getTime(), (await stat(path)).mtime.getTime());
    assert.equal(got.layer(MediaType.model)?.size, 'weights'.length);
    assert.equal(got.layers(MediaType.model).length, 2);
    assert.equal(got.layer(MediaType.adapter), undefined);

    assert.equal(await store.get('llama3'), undefined);
    await assert.rejects(store.require('llama3'), (err: unknown) => {
      assert.ok(err instanceof HearthError);
      assert.equal(err.kind, 'not_found');
      assert.equal(err.code, 'model_not_found');
      assert.equal(err.message, 'model "llama3:latest" not found');
      return true;
    });
  });

  it('lists models sorted by name', async () => {
    const manifest = await manifestOf(store, 'w');
    for (const name of ['zeta', 'me/beta:2', 'alpha:b', 'alpha:a']) await store.put(name, manifest);
    assert.deepEqual(
      (await store.list()).map((m) => m.fullName),
      ['alpha:a', 'alpha:b', 'me/beta:2', 'zeta:latest'],
    );
  });

  it('put replaces an existing manifest', async () => {
    await store.put('m', await manifestOf(store, 'one'));
    const second = await store.put('m', await manifestOf(store, 'two'));
    assert.equal((await store.require('m')).digest, second.digest);
    assert.equal((await store.list()).length, 1);
  });

  it('put refuses a manifest naming a missing blob, and writes nothing', async () => {
    const manifest = await manifestOf(store, 'w');
    const missing = `sha256:${'0'.repeat(64)}`;
    manifest.layers.push({ mediaType: MediaType.template, digest: missing, size: 3 });
    await assert.rejects(store.put('m', manifest), (err: unknown) => {
      assert.ok(err instanceof HearthError);
      assert.equal(err.kind, 'invalid_request');
      assert.ok(err.message.includes(missing), err.message);
      return true;
    });
    assert.deepEqual(await tree(join(root, 'manifests')), []);
  });

  it('put refuses a layer whose size disagrees with its blob', async () => {
    const manifest = await manifestOf(store, 'w');
    const layer = manifest.layers[0];
    assert.ok(layer);
    layer.size = 999;
    await assert.rejects(store.put('m', manifest), { kind: 'invalid_request', message: /999/ });
  });

  it('put validates the manifest shape and the name', async () => {
    const manifest = await manifestOf(store, 'w');
    const bad = { ...manifest, schemaVersion: 1 } as unknown as Manifest;
    await assert.rejects(store.put('m', bad), { code: 'invalid_manifest' });
    for (const name of ['../escape', 'a/../../b', '/etc/passwd']) {
      await assert.rejects(store.put(name, manifest), { code: 'invalid_model_name' });
    }
    await assert.rejects(store.put({ namespace: '..', model: '..', tag: 'x' }, manifest), { code: 'invalid_model_name' });
    assert.deepEqual(await tree(join(root, 'manifests')), []);
    assert.deepEqual((await readdir(root)).sort(), ['blobs', 'manifests']);
  });

  it('copies a model byte for byte', async () => {
    const original = await store.put('me/source:v1', await manifestOf(store, 'w'));
    const copy = await store.copy('me/source:v1', 'target');
    assert.equal(copy.fullName, 'target:latest');
    assert.equal(copy.digest, original.digest);
    assert.deepEqual(
      await readFile(join(root, 'manifests', 'library', 'target', 'latest')),
      await readFile(join(root, 'manifests', 'me', 'source', 'v1')),
    );
    assert.deepEqual((await store.list()).map((m) => m.fullName), ['me/source:v1', 'target:latest']);
    assert.equal((await store.copy('target', 'target:latest')).digest, original.digest);
    await assert.rejects(store.copy('absent', 'x'), { code: 'model_not_found' });
  });

  it('delete removes the manifest, empty directories and blobs no one else uses', async () => {
    const shared = await blob(store, 'shared weights');
    const config = await blob(store, '{}', MediaType.config);
    const onlyA = await blob(store, 'template of a', MediaType.template);
    const onlyB = await blob(store, 'template of b', MediaType.template);
    const unrelated = await blob(store, 'uploaded for a create that has not happened yet');
    await store.put('me/a', createManifest(config, [shared, onlyA]));
    await store.put('b', createManifest(config, [shared, onlyB]));

    const result = await store.delete('me/a');
    assert.equal(result.fullName, 'me/a:latest');
    assert.equal(result.model?.fullName, 'me/a:latest');
    assert.equal(result.model?.manifest.layers.length, 2);
    assert.deepEqual(result.removedBlobs, [onlyA.digest]);
    assert.equal(await store.get('me/a'), undefined);
    assert.deepEqual(await readdir(join(root, 'manifests')), ['library']);
    for (const kept of [shared, config, onlyB, unrelated]) assert.equal(await store.blobs.has(kept.digest), true);
    assert.equal(await store.blobs.has(onlyA.digest), false);

    const last = await store.delete('b');
    assert.deepEqual(last.removedBlobs.sort(), [config.digest, shared.digest, onlyB.digest].sort());
    assert.deepEqual(await store.blobs.list(), [unrelated.digest]);
    assert.deepEqual(await readdir(join(root, 'manifests')), []);

    await assert.rejects(store.delete('b'), { kind: 'not_found', code: 'model_not_found' });
  });

  it('delete keeps sibling tags and their directory', async () => {
    const manifest = await manifestOf(store, 'w');
    await store.put('m:1', manifest);
    await store.put('m:2', manifest);
    assert.deepEqual((await store.delete('m:1')).removedBlobs, []);
    assert.deepEqual(await readdir(join(root, 'manifests', 'library', 'm')), ['2']);
    assert.equal((await store.require('m:2')).size, manifest.config.size + 1);
  });

  it('open() removes temp files and old unreferenced blobs, keeping the rest', async () => {
    const used = await manifestOf(store, 'used weights');
    await store.put('kept', used);
    const old = await blob(store, 'old orphan');
    const recent = await blob(store, 'recent upload');
    await age(store, old.digest, 2 * HOUR);
    await age(store, recent.digest, 10 * 60_000);
    for (const l of [used.config, ...used.layers]) await age(store, l.digest, 5 * HOUR);
    await writeFile(join(root, 'blobs', '.partial-crashed-upload'), 'half');
    await writeFile(join(root, 'manifests', 'library', 'kept', '.partial-crashed-put'), '{');
    await writeFile(join(root, 'manifests', '.partial-x'), '{');

    const reopened = await ModelStore.open(root, { onWarning: (w) => warnings.push(w) });
    assert.deepEqual(warnings, []);
    assert.equal(await reopened.blobs.has(old.digest), false);
    assert.equal(await reopened.blobs.has(recent.digest), true);
    for (const l of [used.config, ...used.layers]) assert.equal(await reopened.blobs.has(l.digest), true);
    const files = await tree(root);
    assert.ok(!files.some((f) => f.includes('.partial-')), files.join(', '));
    assert.deepEqual((await reopened.list()).map((m) => m.fullName), ['kept:latest']);
  });

  it('skips a corrupt manifest in list() and reports it', async () => {
    await store.put('good', await manifestOf(store, 'w'));
    await mkdir(join(root, 'manifests', 'library', 'broken'), { recursive: true });
    await writeFile(join(root, 'manifests', 'library', 'broken', 'latest'), '{"schemaVersion": 2, "layers": [');
    await mkdir(join(root, 'manifests', 'me', 'shape'), { recursive: true });
    await writeFile(join(root, 'manifests', 'me', 'shape', 'v1'), JSON.stringify({ schemaVersion: 2, layers: 'no' }));

    const seen: StoreWarning[] = [];
    assert.deepEqual((await store.list({ onWarning: (w) => seen.push(w) })).map((m) => m.fullName), ['good:latest']);
    assert.deepEqual(seen.map((w) => [w.code, w.path.slice(root.length)]), [
      ['corrupt_manifest', '/manifests/library/broken/latest'],
      ['corrupt_manifest', '/manifests/me/shape/v1'],
    ]);
    assert.match(seen[0]?.message ?? '', /broken:latest.*not valid JSON/);
    await assert.rejects(store.get('broken'), { kind: 'internal', code: 'corrupt_manifest' });
    await assert.rejects(store.copy('broken', 'copy'), { kind: 'internal', code: 'corrupt_manifest' });
    // Without a per-call handler, the store's own handler hears about it.
    await store.list();
    assert.equal(warnings.filter((w) => w.code === 'corrupt_manifest').length, 2);
  });

  it('deletes a corrupt manifest, leaving its blobs to the start-up collection', async () => {
    await mkdir(join(root, 'manifests', 'me', 'broken'), { recursive: true });
    await writeFile(join(root, 'manifests', 'me', 'broken', 'latest'), 'garbage');
    const result = await store.delete('me/broken');
    assert.equal(result.model, undefined);
    assert.equal(result.fullName, 'me/broken:latest');
    assert.deepEqual(result.removedBlobs, []);
    assert.deepEqual(await readdir(join(root, 'manifests')), []);
  });

  it('collects no blobs while a manifest is unreadable, since its blobs are unknown', async () => {
    const orphan = await blob(store, 'orphan');
    await age(store, orphan.digest, 2 * HOUR);
    await mkdir(join(root, 'manifests', 'library', 'broken'), { recursive: true });
    await writeFile(join(root, 'manifests', 'library', 'broken', 'latest'), 'garbage');
    const reopened = await ModelStore.open(root, { onWarning: (w) => warnings.push(w) });
    assert.equal(await reopened.blobs.has(orphan.digest), true);
    assert.ok(warnings.some((w) => w.code === 'gc_skipped'));

    const only = await blob(store, 'only used by victim');
    await reopened.put('victim', createManifest(await blob(store, '{}', MediaType.config), [only]));
    assert.deepEqual((await reopened.delete('victim')).removedBlobs, []);
    assert.equal(await reopened.blobs.has(only.digest), true);
  });

  it('withLock serializes mutations and is re-entrant', async () => {
    const manifest = await manifestOf(store, 'w');
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let innerDone!: () => void;
    const inner = new Promise<void>((r) => (innerDone = r));
    const locked = store.withLock(async () => {
      events.push('lock start');
      await store.put('inner', manifest); // re-entrant: must not deadlock
      events.push('inner put');
      innerDone();
      await gate;
      events.push('lock end');
    });
    const put = store.put('outer', manifest).then(() => events.push('outer put'));
    // The outer put was asked for before the inner one, which has completed all its I/O: a put
    // that did not wait for the lock would have had the time to complete too. A read (no lock)
    // of the same files gives it more.
    await inner;
    await store.list();
    assert.deepEqual(events, ['lock start', 'inner put']);
    release();
    await Promise.all([locked, put]);
    assert.deepEqual(events, ['lock start', 'inner put', 'lock end', 'outer put']);
  });

  it('stays consistent under 50 concurrent put/delete/copy operations', async () => {
    const names = ['a', 'b:1', 'me/c', 'me/c:2', 'd'];
    const shared = await blob(store, 'shared weights');
    const config = await blob(store, '{}', MediaType.config);
    for (const name of names) await store.put(name, createManifest(config, [shared, await blob(store, `seed ${name}`)]));
    // Never touched by the ops: keeps the shared blobs alive so most puts can succeed. Without
    // it the store empties, the shared blobs are collected and later puts fail (correctly).
    await store.put('anchor', createManifest(config, [shared]));
    const random = seededRandom(42);
    const ops: Array<Promise<unknown>> = [];
    const kinds: string[] = [];
    const readerWarnings: StoreWarning[] = [];
    let stopReading = false;

    // Readers run alongside: they must never see a partly written manifest.
    const reader = (async () => {
      while (!stopReading) {
        for (const model of await store.list({ onWarning: (w) => readerWarnings.push(w) })) {
          assert.ok(model.manifest.layers.length > 0);
        }
        await new Promise((r) => setImmediate(r));
      }
    })();

    for (let i = 0; i < 50; i++) {
      const name = names[Math.floor(random() * names.length)] ?? 'a';
      const other = names[Math.floor(random() * names.length)] ?? 'b';
      // Starts after a seeded number of turns of the event loop, among the others' I/O.
      const turns = Math.floor(random() * 20);
      const kind = ['put', 'put', 'delete', 'copy'][Math.floor(random() * 4)] ?? 'put';
      kinds.push(kind);
      ops.push(
        (async () => {
          for (let t = 0; t < turns; t++) await new Promise((r) => setImmediate(r));
          if (kind === 'delete') return store.delete(name);
          if (kind === 'copy') return store.copy(name, other);
          // Like a create: upload outside the lock, then put.
          const own = await blob(store, `layer ${i}`, MediaType.template);
          return store.put(name, createManifest(config, [shared, own]));
        })(),
      );
    }
    const results = await Promise.allSettled(ops);
    stopReading = true;
    await reader;

    const succeeded = new Map<string, number>();
    results.forEach((result, i) => {
      const kind = kinds[i] ?? '';
      if (result.status === 'fulfilled') {
        succeeded.set(kind, (succeeded.get(kind) ?? 0) + 1);
        return;
      }
      // Acceptable failures: deleting or copying a name that is not there (yet or any more),
      // or a put whose shared blob was collected when the last model using it was deleted.
      const err: unknown = result.reason;
      assert.ok(err instanceof HearthError, String(err));
      assert.ok(
        err.code === 'model_not_found' || err.code === 'blob_not_found',
        `unexpected failure: ${err.code ?? ''} ${err.message}`,
      );
    });
    // The mix really interleaved: every kind of operation succeeded at least once.
    for (const kind of ['put', 'delete', 'copy']) assert.ok((succeeded.get(kind) ?? 0) > 0, `no ${kind} succeeded`);
    assert.deepEqual(readerWarnings, []);

    const models = await store.list();
    for (const model of models) {
      for (const layer of [model.manifest.config, ...model.manifest.layers]) {
        assert.equal(await store.blobs.has(layer.digest), true, `${model.fullName} lost ${layer.digest}`);
        assert.equal(await store.blobs.size(layer.digest), layer.size);
      }
      assert.equal((await store.require(model.name)).digest, model.digest);
    }
    const files = await tree(root);
    assert.ok(!files.some((f) => f.includes('.partial-')), files.join(', '));
    // No empty directories are left behind under manifests/.
    for (const ns of await readdir(join(root, 'manifests'))) {
      const modelDirs = await readdir(join(root, 'manifests', ns));
      assert.ok(modelDirs.length > 0, `empty namespace dir ${ns}`);
      for (const m of modelDirs) assert.ok((await readdir(join(root, 'manifests', ns, m))).length > 0);
    }
    assert.deepEqual(warnings, []);
  });
});
