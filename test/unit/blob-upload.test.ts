import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HearthError } from '../../src/errors.js';
import { blobAllowance, blobUploadGate, ByteLimit, refusalBeforeReading } from '../../src/api/ollama/blob-upload.js';
import { ConcurrencyLimiter } from '../../src/gateway/concurrency.js';

const bounds = { maxBlobBytes: 1000, quotaBytes: 2500 };
const codeOf = (e: HearthError | undefined) => [e?.status, e?.code];

describe('blobAllowance: what one upload may send', () => {
  it('is limits.max_blob while the quota has room for it', () => {
    const a = blobAllowance(bounds, { usedBytes: 0, held: false });
    assert.equal(a.limit, 1000);
    assert.equal(a.quotaBound, false);
    assert.deepEqual(codeOf(a.refuse(1001)), [413, 'blob_too_large']);
    assert.match(a.refuse(1001).message, /1001 bytes.*1000 bytes \(limits\.max_blob\)/);
  });

  it('is the room left under the quota when that is less, refused as blob_quota_exceeded', () => {
    const a = blobAllowance(bounds, { usedBytes: 2000, held: false });
    assert.equal(a.limit, 500);
    assert.equal(a.quotaBound, true);
    const e = a.refuse(600);
    assert.deepEqual(codeOf(e), [413, 'blob_quota_exceeded']);
    assert.match(e.message, /2000 bytes of blobs of its 2500 \(limits\.blob_quota_per_workspace\); this one \(600 bytes\) does not fit/);
    assert.equal(blobAllowance(bounds, { usedBytes: 9999, held: false }).limit, 0);
  });

  it('charges no quota for a digest the workspace holds already: only max_blob bounds it', () => {
    const a = blobAllowance(bounds, { usedBytes: 2500, held: true });
    assert.equal(a.limit, 1000);
    assert.equal(a.quotaBound, false);
    assert.equal(a.refuse(2000).code, 'blob_too_large');
  });
});

describe('refusalBeforeReading', () => {
  const a = blobAllowance(bounds, { usedBytes: 2000, held: false });
  it('refuses a Content-Length past the allowance, and lets one within it through', () => {
    assert.deepEqual(codeOf(refusalBeforeReading(a, 501)), [413, 'blob_quota_exceeded']);
    assert.equal(refusalBeforeReading(a, 500), undefined);
    assert.deepEqual(codeOf(refusalBeforeReading(blobAllowance(bounds, { usedBytes: 0, held: false }), 1001)), [413, 'blob_too_large']);
  });

  it('lets a body of unknown length through while any room is left (it is counted as it streams), else refuses it', () => {
    assert.equal(refusalBeforeReading(a, undefined), undefined);
    assert.deepEqual(codeOf(refusalBeforeReading(blobAllowance(bounds, { usedBytes: 2500, held: false }), undefined)), [413, 'blob_quota_exceeded']);
  });
});

describe('ByteLimit', () => {
  const sink = (into: Buffer[]) => new Writable({ write: (c: Buffer, _e, cb) => (into.push(c), cb()) });
  const refuse = () => new HearthError('payload_too_large', 'too big', { code: 'blob_too_large' });

  it('passes a body within its limit through whole, and counts it', async () => {
    const out: Buffer[] = [];
    const limit = new ByteLimit(10, refuse);
    await pipeline(Readable.from([Buffer.from('hello'), Buffer.from('world')]), limit, sink(out));
    assert.equal(Buffer.concat(out).toString(), 'helloworld');
    assert.equal(limit.bytes, 10);
    assert.equal(limit.exceeded, undefined);
  });

  it('fails with the refusal at the first chunk past its limit, and passes none of that chunk', async () => {
    const out: Buffer[] = [];
    const limit = new ByteLimit(8, refuse);
    await assert.rejects(pipeline(Readable.from([Buffer.from('hello'), Buffer.from('world'), Buffer.from('!')]), limit, sink(out)), (e: unknown) => e === limit.exceeded);
    assert.equal(limit.exceeded?.code, 'blob_too_large');
    assert.equal(Buffer.concat(out).toString(), 'hello');
  });
});

describe('blobUploadGate', () => {
  // The gate reads only the principal and the response's close; a plain emitter stands for the response.
  const call = (gate: ReturnType<typeof blobUploadGate>, workspaceId: string) => {
    const handlers: Array<() => void> = [];
    const res = { locals: { principal: { workspaceId } }, on: (_event: string, f: () => void) => handlers.push(f) };
    let passed = false;
    gate({} as never, res as never, () => (passed = true));
    return { passed, close: () => handlers.forEach((f) => f()) };
  };
  const refusal = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return e as HearthError;
    }
    return undefined;
  };

  it('one upload per workspace (429 with Retry-After), two on the server (503), each given back when its response closes', () => {
    const uploads = new ConcurrencyLimiter();
    const gate = blobUploadGate({ uploads });
    const first = call(gate, 'ws_a');
    assert.ok(first.passed);
    const again = refusal(() => call(gate, 'ws_a'));
    assert.deepEqual([again?.status, again?.code, again?.retryAfterS], [429, 'blob_upload_in_progress', 5]);
    const other = call(gate, 'ws_b');
    const third = refusal(() => call(gate, 'ws_c'));
    assert.deepEqual([third?.status, third?.code, third?.retryAfterS], [503, 'blob_uploads_busy', 5]);
    // The refused third took no place of its own workspace.
    assert.equal(uploads.count('blob:ws_c'), 0);
    first.close();
    other.close();
    assert.equal(uploads.count('blob:*'), 0);
    assert.ok(call(gate, 'ws_a').passed);
  });
});
