// POST /ollama/api/blobs/{digest} streams a client's file into the backend's blob store: each
// workspace may have one upload in flight, a blob may be at most limits.max_blob, and a
// workspace may upload limits.blob_quota_per_workspace in all. Real daemon, real engine.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';

const digestOf = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

describe('/ollama blob uploads: bounded per workspace and in total', () => {
  let d: DaemonProcess;
  before(async () => {
    d = await startDaemonProcess({ env: { HEARTH_LIMITS_MAX_BLOB: '1kb', HEARTH_LIMITS_BLOB_QUOTA_PER_WORKSPACE: '2kb' } });
  });
  after(async () => d?.stop());

  const keyOf = async () => (await d.keyFor('local_agent_train')).key;
  const blobUrl = (digest: string) => `${d.url}/ollama/api/blobs/${digest}`;
  const head = async (key: string, digest: string) => (await fetch(blobUrl(digest), { method: 'HEAD', headers: { Authorization: `Bearer ${key}` } })).status;
  const upload = async (key: string, bytes: Buffer, digest = digestOf(bytes)) => {
    const res = await fetch(blobUrl(digest), { method: 'POST', headers: { Authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' }, body: bytes });
    const text = await res.text();
    return { status: res.status, retryAfter: res.headers.get('retry-after'), error: text === '' ? undefined : (JSON.parse(text) as { error: string }).error };
  };

  /**
   * An upload over node:http: `first` is sent, then `rest` when the returned function is called
   * (undefined: the body is sent whole at once). Chunked when no Content-Length is given.
   */
  const rawUpload = (key: string, digest: string, first: Buffer, opts: { contentLength?: number } = {}) => {
    const url = new URL(blobUrl(digest));
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
    assert.equal(await head(key, digestOf(bytes)), 404);
    assert.equal((await upload(key, bytes)).status, 201);
    assert.equal(await head(key, digestOf(bytes)), 200);
  });

  test('a blob over limits.max_blob is 413 before reading (Content-Length) and cut when chunked; nothing is stored', async () => {
    const key = await keyOf();
    const big = randomBytes(2000);
    const declared = await upload(key, big);
    assert.equal(declared.status, 413);
    assert.match(declared.error!, /larger than .*1024 bytes \(limits\.max_blob\)/);
    assert.equal(await head(key, digestOf(big)), 404);

    // Chunked: no length to refuse on; the body is counted and cut past 1 KiB.
    const chunked = rawUpload(key, digestOf(big), big.subarray(0, 600));
    setTimeout(() => chunked.send(big.subarray(600)), 100);
    const cut = await chunked.answer;
    assert.equal(cut.status, 413, cut.body);
    assert.match((JSON.parse(cut.body) as { error: string }).error, /limits\.max_blob/);
    assert.equal(await head(key, digestOf(big)), 404);
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
      second = await upload(key, randomBytes(10), `sha256:${'0'.repeat(64)}`);
      if (second.status === 429) break;
      assert.equal(second.status, 400, JSON.stringify(second));
    }
    assert.equal(second?.status, 429, JSON.stringify(second));
    assert.equal(second?.retryAfter, '5');
    assert.match(second!.error!, /already uploading a blob/);
    // Another workspace is not held up by it.
    assert.equal((await upload(await keyOf(), randomBytes(10))).status, 201);
    first.upload.send(bytes.subarray(100));
    assert.equal((await first.upload.answer).status, 201);
    assert.equal(await head(key, digest), 200);
    // Its place is given back: the next upload goes through.
    assert.equal((await upload(key, randomBytes(10))).status, 201);
  });

  test('past the workspace quota an upload is refused (blob_quota_exceeded) and nothing stored; a digest counts once; other workspaces keep theirs', async () => {
    const key = await keyOf();
    const x = randomBytes(1000);
    assert.equal((await upload(key, x)).status, 201);
    // The same file again stores nothing new and costs no quota.
    assert.equal((await upload(key, x)).status, 201);
    assert.equal((await upload(key, randomBytes(1000))).status, 201);
    // 2000 of 2048 bytes used: a blob of 100 does not fit.
    const z = randomBytes(100);
    const refused = await upload(key, z);
    assert.equal(refused.status, 413);
    assert.match(refused.error!, /uploaded 2000 bytes of blobs of its 2048 \(limits\.blob_quota_per_workspace\); this one \(100 bytes\) does not fit/);
    assert.equal(await head(key, digestOf(z)), 404);
    // Chunked, it is cut at the 48 bytes left.
    const chunked = rawUpload(key, digestOf(z), z.subarray(0, 40));
    setTimeout(() => chunked.send(z.subarray(40)), 100);
    const cut = await chunked.answer;
    assert.equal(cut.status, 413, cut.body);
    assert.match((JSON.parse(cut.body) as { error: string }).error, /limits\.blob_quota_per_workspace/);
    assert.equal(await head(key, digestOf(z)), 404);
    // A blob that fits the 48 bytes left still goes through.
    assert.equal((await upload(key, randomBytes(40))).status, 201);
    // The quota is the workspace's own.
    const other = await keyOf();
    assert.equal((await upload(other, z)).status, 201);
    assert.equal(await head(other, digestOf(z)), 200);
  });
});
