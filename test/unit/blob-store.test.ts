import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { HearthError } from '../../src/errors.js';
import { BlobStore } from '../../src/engine/store/blob-store.js';

const sha = (data: string | Uint8Array) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield Buffer.from(part);
}

describe('BlobStore', () => {
  let dir: string;
  let blobs: BlobStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hearth-blobs-'));
    blobs = new BlobStore(dir);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('streams chunks into a file named by digest', async () => {
    const result = await blobs.write(chunks('hello ', 'world'));
    assert.deepEqual(result, { digest: sha('hello world'), size: 11 });
    assert.equal(blobs.pathOf(result.digest), join(dir, `sha256-${result.digest.slice(7)}`));
    assert.equal(await readFile(blobs.pathOf(result.digest), 'utf8'), 'hello world');
    assert.equal(await blobs.has(result.digest), true);
    assert.equal(await blobs.size(result.digest), 11);
    assert.deepEqual(await blobs.list(), [result.digest]);
    assert.deepEqual(await readdir(dir), [`sha256-${result.digest.slice(7)}`]);
  });

  it('accepts node readable streams, including string chunks', async () => {
    const source = join(dir, 'source.txt');
    await writeFile(source, 'x'.repeat(200_000));
    const fromFile = await blobs.write(createReadStream(source, { highWaterMark: 4096 }));
    assert.deepEqual(fromFile, { digest: sha('x'.repeat(200_000)), size: 200_000 });
    const fromStrings = await blobs.write(Readable.from(['a', 'b', 'c']), sha('abc'));
    assert.equal(fromStrings.digest, sha('abc'));
  });

  it('verifies an expected digest given in either spelling', async () => {
    const digest = sha('data');
    assert.equal((await blobs.write(chunks('data'), digest)).digest, digest);
    assert.equal((await blobs.write(chunks('data'), digest.replace(':', '-'))).digest, digest);
    assert.equal((await blobs.writeBytes(Buffer.from('data'), digest)).size, 4);
  });

  it('stores an empty blob', async () => {
    assert.deepEqual(await blobs.writeBytes(new Uint8Array(0)), { digest: sha(''), size: 0 });
  });

  it('never shows a half-written blob under its final name', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let firstChunkSent!: () => void;
    const started = new Promise<void>((r) => (firstChunkSent = r));
    async function* slow(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('first half ');
      firstChunkSent();
      await gate;
      yield Buffer.from('second half');
    }
    const digest = sha('first half second half');
    const writing = blobs.write(slow(), digest);
    await started;
    await new Promise((r) => setImmediate(r));
    assert.equal(await blobs.has(digest), false);
    const during = await readdir(dir);
    assert.equal(during.length, 1);
    assert.ok(during[0]?.startsWith('.partial-'));
    assert.deepEqual(await blobs.list(), []);
    release();
    await writing;
    assert.deepEqual(await blobs.list(), [digest]);
  });

  it('on a digest mismatch leaves neither blob nor temp file', async () => {
    const expected = sha('something else');
    await assert.rejects(blobs.write(chunks('actual'), expected), (err: unknown) => {
      assert.ok(err instanceof HearthError);
      assert.equal(err.kind, 'invalid_request');
      assert.equal(err.code, 'digest_mismatch');
      assert.equal(err.message, `digest mismatch: expected ${expected} got ${sha('actual')}`);
      return true;
    });
    assert.deepEqual(await readdir(dir), []);
  });

  it('on an aborted source leaves nothing behind and passes the error on', async () => {
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('partial data');
      throw new Error('client went away');
    }
    await assert.rejects(blobs.write(failing()), /client went away/);
    assert.deepEqual(await readdir(dir), []);

    // Gives some bytes, then fails when asked for more: a socket that hangs up mid-body.
    let reads = 0;
    const stream = new Readable({
      read() {
        if (reads++ === 0) this.push('some bytes');
        else this.destroy(new Error('socket hang up'));
      },
    });
    await assert.rejects(blobs.write(stream), /socket hang up/);
    assert.deepEqual(await readdir(dir), []);
  });

  it('enforces maxBytes and leaves nothing behind', async () => {
    await assert.rejects(blobs.write(chunks('12345', '67890'), undefined, { maxBytes: 8 }), (err: unknown) => {
      assert.ok(err instanceof HearthError);
      assert.equal(err.kind, 'payload_too_large');
      assert.equal(err.status, 413);
      return true;
    });
    assert.deepEqual(await readdir(dir), []);
    assert.equal((await blobs.write(chunks('12345', '678'), undefined, { maxBytes: 8 })).size, 8);
  });

  it('stops reading a source once it is over maxBytes', async () => {
    let pulled = 0;
    async function* endless(): AsyncGenerator<Uint8Array> {
      for (;;) {
        pulled++;
        yield Buffer.alloc(1024);
      }
    }
    await assert.rejects(blobs.write(endless(), undefined, { maxBytes: 4096 }), { kind: 'payload_too_large' });
    assert.equal(pulled, 5);
  });

  it('rejects a malformed expected digest before reading the source', async () => {
    let read = false;
    async function* source(): AsyncGenerator<Uint8Array> {
      read = true;
      yield Buffer.from('x');
    }
    await assert.rejects(blobs.write(source(), 'sha256:nothex'), { code: 'invalid_digest', message: /"sha256:nothex"/ });
    assert.equal(read, false);
    assert.deepEqual(await readdir(dir), []);
  });

  it('validates digests everywhere a path is derived from one', async () => {
    const bad = [
      '',
      'sha256:',
      'sha256:../../etc/passwd',
      `sha256:${'A'.repeat(64)}`,
      `sha256:${'a'.repeat(63)}`,
      `sha256:${'a'.repeat(65)}`,
      `sha512:${'a'.repeat(64)}`,
      `sha256:${'a'.repeat(63)}/`,
      `../sha256-${'a'.repeat(64)}`,
    ];
    for (const digest of bad) {
      assert.throws(() => blobs.pathOf(digest), (err: unknown) => {
        assert.ok(err instanceof HearthError);
        assert.equal(err.code, 'invalid_digest');
        assert.ok(err.message.includes(JSON.stringify(digest)), err.message);
        return true;
      });
      await assert.rejects(blobs.has(digest), { code: 'invalid_digest' });
      await assert.rejects(blobs.remove(digest), { code: 'invalid_digest' });
    }
  });

  it('writing existing content again keeps one file and refreshes its mtime', async () => {
    const { digest } = await blobs.writeBytes(Buffer.from('same'));
    const old = new Date(Date.now() - 3 * 3600_000);
    await utimes(blobs.pathOf(digest), old, old);
    await blobs.writeBytes(Buffer.from('same'), digest);
    assert.equal((await readdir(dir)).length, 1);
    assert.ok((await stat(blobs.pathOf(digest))).mtimeMs > old.getTime() + 3600_000);
  });

  it('reads JSON blobs, and reports missing and non-JSON ones', async () => {
    const { digest } = await blobs.writeBytes(Buffer.from('{"model_format":"gguf"}'));
    assert.deepEqual(await blobs.readJson(digest), { model_format: 'gguf' });
    const text = await blobs.writeBytes(Buffer.from('not json'));
    await assert.rejects(blobs.readJson(text.digest), { kind: 'invalid_request', code: 'invalid_blob' });
    await assert.rejects(blobs.readJson(sha('absent')), { kind: 'not_found', code: 'blob_not_found' });
  });

  it('removes blobs and ignores temp and unrelated files in list()', async () => {
    const { digest } = await blobs.writeBytes(Buffer.from('bye'));
    await writeFile(join(dir, '.partial-leftover'), 'x');
    await writeFile(join(dir, 'README'), 'x');
    assert.deepEqual(await blobs.list(), [digest]);
    assert.equal(await blobs.remove(digest), true);
    assert.equal(await blobs.remove(digest), false);
    assert.equal(await blobs.has(digest), false);
    await assert.rejects(blobs.size(digest), { code: 'blob_not_found' });
    assert.deepEqual(await blobs.removePartials(), ['.partial-leftover']);
    assert.deepEqual(await readdir(dir), ['README']);
  });
});
