// POST /ollama/api/blobs/{digest} streams a client's file into the backend's blob store: each
// workspace may have one upload in flight, a blob may be at most limits.max_blob, and a
// workspace may upload limits.blob_quota_per_workspace in all, counting its blobs still on the
// backend. Real daemon, real engine.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { testModelPath } from '../helpers/test-model.js';

const digestOf = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const blobUrl = (d: DaemonProcess, digest: string) => `${d.url}/ollama/api/blobs/${digest}`;
const head = async (d: DaemonProcess, key: string, digest: string) => (await fetch(blobUrl(d, digest), { method: 'HEAD', headers: { Authorization: `Bearer ${key}` } })).status;
const upload = async (d: DaemonProcess, key: string, bytes: Buffer, digest = digestOf(bytes)) => {
  const res = await fetch(blobUrl(d, digest), { method: 'POST', headers: { Authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' }, body: bytes });
  const text = await res.text();
  return { status: res.status, retryAfter: res.headers.get('retry-after'), error: text === '' ? undefined : (JSON.parse(text) as { error: string }).error };
};

describe('/ollama blob uploads: bounded per workspace and in total', () => {
  let d: DaemonProcess;
  before(async () => {
    d = await startDaemonProcess({ env: { HEARTH_LIMITS_MAX_BLOB: '1kb', HEARTH_LIMITS_BLOB_QUOTA_PER_WORKSPACE: '2kb' } });
  });
  after(async () => d?.stop());

  const keyOf = async () => (await d.keyFor('local_agent_train')).key;

  /**
   * An upload over node:http: `first` is sent, then `rest` when the returned function is called
   * (undefined: the body is sent whole at once). Chunked when no Content-Length is given.
   */
  const rawUpload = (key: string, digest: string, first: Buffer, opts: { contentLength?: number } = {}) => {
    const url = new URL(blobUrl(d, digest));
    const headers: Record<string, string | number> = { Authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' };
    if (opts.contentLength !== undefined) headers['content-length'] = opts.contentLength;
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers });
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.on('response', (res: IncomingMessage) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
        res.on('error', reject);
      });
      // Writes after the daemon answered and closed may fail: the answer is what is checked.
      req.on('error', (err) => setTimeout(() => reject(err), 1000));
    });
    req.write(first);
    return { answer, send: (rest: Buffer) => req.end(rest) };
  };

  test('a valid small upload is stored: 201, then HEAD 200', async () => {
    const key = await keyOf();
    const bytes = randomBytes(300);
    assert.equal(await head(d, key, digestOf(bytes)), 404);
    assert.equal((await upload(d, key, bytes)).status, 201);
    assert.equal(await head(d, key, digestOf(bytes)), 200);
  });

  test('a blob over limits.max_blob is 413 before reading (Content-Length) and cut when chunked; nothing is stored', async () => {
    const key = await keyOf();
    const big = randomBytes(2000);
    const declared = await upload(d, key, big);
    assert.equal(declared.status, 413);
    assert.match(declared.error!, /larger than .*1024 bytes \(limits\.max_blob\)/);
    assert.equal(await head(d, key, digestOf(big)), 404);

    // Chunked: no length to refuse on; the body is counted and cut past 1 KiB.
    const chunked = rawUpload(key, digestOf(big), big.subarray(0, 600));
    setTimeout(() => chunked.send(big.subarray(600)), 100);
    const cut = await chunked.answer;
    assert.equal(cut.status, 413, cut.body);
    assert.match((JSON.parse(cut.body) as { error: string }).error, /limits\.max_blob/);
    assert.equal(await head(d, key, digestOf(big)), 404);
  });

  test('two uploads at once from one workspace: the second is 429 with Retry-After, unread; the first completes', async () => {
    const key = await keyOf();
    const bytes = randomBytes(800);
    const digest = digestOf(bytes);
    // The first sends part of its body and waits. Until it has taken its place, a second (a
    // digest that does not match, so that it stores nothing) reaches the backend and is refused
    // there, and a first that arrives while a second holds the place is itself refused 429 (it
    // is then sent again); from then on the second is 429.
    const start = () => {
      const upload = rawUpload(key, digest, bytes.subarray(0, 100), { contentLength: bytes.length });
      const state = { upload, answered: false };
      void upload.answer.then(() => (state.answered = true), () => (state.answered = true));
      return state;
    };
    let first = start();
    let second: Awaited<ReturnType<typeof upload>> | undefined;
    for (let i = 0; i < 100; i++) {
      if (first.answered) {
        assert.equal((await first.upload.answer).status, 429);
        first = start();
      }
      await new Promise((r) => setTimeout(r, 50));
      second = await upload(d, key, randomBytes(10), `sha256:${'0'.repeat(64)}`);
      if (second.status === 429) break;
      assert.equal(second.status, 400, JSON.stringify(second));
    }
    assert.equal(second?.status, 429, JSON.stringify(second));
    assert.equal(second?.retryAfter, '5');
    assert.match(second!.error!, /already uploading a blob/);
    // Another workspace is not held up by it.
    assert.equal((await upload(d, await keyOf(), randomBytes(10))).status, 201);
    first.upload.send(bytes.subarray(100));
    assert.equal((await first.upload.answer).status, 201);
    assert.equal(await head(d, key, digest), 200);
    // Its place is given back: the next upload goes through.
    assert.equal((await upload(d, key, randomBytes(10))).status, 201);
  });

  test('past the workspace quota an upload is refused (blob_quota_exceeded) and nothing stored; a digest counts once; other workspaces keep theirs', async () => {
    const key = await keyOf();
    const x = randomBytes(1000);
    assert.equal((await upload(d, key, x)).status, 201);
    // The same file again stores nothing new and costs no quota.
    assert.equal((await upload(d, key, x)).status, 201);
    assert.equal((await upload(d, key, randomBytes(1000))).status, 201);
    // 2000 of 2048 bytes used: a blob of 100 does not fit.
    const z = randomBytes(100);
    const refused = await upload(d, key, z);
    assert.equal(refused.status, 413);
    assert.match(refused.error!, /uploaded 2000 bytes of blobs of its 2048 \(limits\.blob_quota_per_workspace\); this one \(100 bytes\) does not fit/);
    assert.equal(await head(d, key, digestOf(z)), 404);
    // Chunked, it is cut at the 48 bytes left.
    const chunked = rawUpload(key, digestOf(z), z.subarray(0, 40));
    setTimeout(() => chunked.send(z.subarray(40)), 100);
    const cut = await chunked.answer;
    assert.equal(cut.status, 413, cut.body);
    assert.match((JSON.parse(cut.body) as { error: string }).error, /limits\.blob_quota_per_workspace/);
    assert.equal(await head(d, key, digestOf(z)), 404);
    // A blob that fits the 48 bytes left still goes through.
    assert.equal((await upload(d, key, randomBytes(40))).status, 201);
    // The quota is the workspace's own.
    const other = await keyOf();
    assert.equal((await upload(d, other, z)).status, 201);
    assert.equal(await head(d, other, digestOf(z)), 200);
  });
});

describe('/ollama blob quota: only the blobs still on the backend count', () => {
  let d: DaemonProcess;
  // Two GGUF models of their own (not the operator's model's weights), about 2.4 MB each: the
  // 3 MiB quota holds one of them, not both.
  let first: Buffer;
  let second: Buffer;
  before(async () => {
    [first, second] = await Promise.all([readFile(await testModelPath({ seed: 1801 })), readFile(await testModelPath({ seed: 1802 }))]);
    d = await startDaemonProcess({ env: { HEARTH_LIMITS_MAX_BLOB: '3mb', HEARTH_LIMITS_BLOB_QUOTA_PER_WORKSPACE: '3mb' } });
  });
  after(async () => d?.stop());

  /** The digests the daemon counts for a workspace, read from its own database file. */
  const countedFor = (workspace: string): string[] => {
    const db = new Database(join(d.dataDir, 'hearth.db'), { readonly: true });
    try {
      return db.prepare('SELECT b.digest FROM workspace_blobs b JOIN workspaces w ON w.id = b.workspace_id WHERE w.name = ? ORDER BY b.digest').pluck().all(workspace) as string[];
    } finally {
      db.close();
    }
  };
  const call = async (key: string, method: 'POST' | 'DELETE', path: string, body: unknown) => {
    const res = await fetch(`${d.url}/ollama${path}`, { method, headers: { Authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json().catch(() => undefined)) as { status?: string; error?: string } | undefined };
  };
  const usedIn = (error: string | undefined) => Number(/has uploaded (\d+) bytes of blobs/.exec(error ?? '')?.[1]);

  test('deleting a model gives back the blobs the backend removed with it; a delete that fails gives nothing back; other workspaces keep their rows', async () => {
    assert.notEqual(digestOf(first), digestOf(second));
    const mine = await d.keyFor('local_agent_train');
    const theirs = await d.keyFor('local_agent_train');
    assert.equal((await upload(d, mine.key, first)).status, 201);
    // The same blob, uploaded by another workspace too: it counts for each while it exists.
    assert.equal((await upload(d, theirs.key, first)).status, 201);
    const created = await call(mine.key, 'POST', '/api/create', { model: 'own-gguf', files: { 'model.gguf': digestOf(first) }, stream: false });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.equal(created.body?.status, 'success');

    // The second model does not fit beside the first, which exists.
    const full = await upload(d, mine.key, second);
    assert.equal(full.status, 413);
    assert.match(full.error!, /blob_quota_per_workspace/);
    assert.equal(usedIn(full.error), first.length);

    // A delete that fails leaves the quota as it was.
    assert.equal((await call(mine.key, 'DELETE', '/api/delete', { model: 'no-such-model' })).status, 404);
    const still = await upload(d, mine.key, second);
    assert.equal(still.status, 413);
    assert.equal(usedIn(still.error), first.length);
    assert.deepEqual(countedFor(mine.workspace), [digestOf(first)]);

    // Deleted: the backend removes the blob no other model uses, and the quota gets it back.
    assert.equal((await call(mine.key, 'DELETE', '/api/delete', { model: 'own-gguf' })).status, 200);
    assert.equal(await head(d, mine.key, digestOf(first)), 404);
    assert.deepEqual(countedFor(mine.workspace), []);
    // The other workspace's row is its own: untouched by this workspace's delete, even now that its blob is gone.
    assert.deepEqual(countedFor(theirs.workspace), [digestOf(first)]);

    assert.equal((await upload(d, mine.key, second)).status, 201);
    // What counts now is the second blob alone.
    const probe = await upload(d, mine.key, randomBytes(1024 * 1024));
    assert.equal(probe.status, 413);
    assert.equal(usedIn(probe.error), second.length);
    assert.deepEqual(countedFor(mine.workspace), [digestOf(second)]);

    // The other workspace: a delete that fails gives back nothing, even a blob that is gone.
    assert.equal((await call(theirs.key, 'DELETE', '/api/delete', { model: 'no-such-model' })).status, 404);
    assert.deepEqual(countedFor(theirs.workspace), [digestOf(first)]);
    // An upload the stale row would refuse asks the backend first, and goes through.
    assert.equal((await upload(d, theirs.key, second)).status, 201);
    assert.deepEqual(countedFor(theirs.workspace), [digestOf(second)]);
  });
});
