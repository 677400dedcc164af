// Bad input gets the right status and an {"error"} body, and leaves the model store unchanged.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { createModelFromFile, startEngineProcess, uploadBlob, type EngineProcess } from '../helpers/engine-process.js';
import { RawClient } from '../helpers/raw-http.js';
import { testLoraPath, testModelPath } from '../helpers/test-model.js';

async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(`${relative(dir, p)} ${(await stat(p)).size}`);
    }
  };
  await walk(dir);
  return out.sort();
}

interface Case {
  name: string;
  method?: string;
  path: string;
  body?: string | Buffer;
  status: number;
  /** A fragment the error message must contain (it names the field or the problem). */
  message: RegExp;
}

const json = (v: unknown) => JSON.stringify(v);
const zeros = `sha256:${'0'.repeat(64)}`;

describe('engine: bad input', () => {
  let engine: EngineProcess;
  let modelDigest: string;
  let otherArchAdapter: string;
  before(async () => {
    engine = await startEngineProcess(['--max-body-mb', '1']);
    modelDigest = await createModelFromFile(engine.url, 'tiny', await testModelPath());
    // An adapter made for a differently shaped base must be refused at create time.
    otherArchAdapter = await uploadBlob(engine.url, await readFile(await testLoraPath({ nEmbd: 64, nFf: 128 })));
  });
  after(async () => engine?.stop());

  const cases = (): Case[] => [
    { name: 'malformed JSON', path: '/api/chat', body: '{"model": "tiny", "messages": [', status: 400, message: /invalid JSON/ },
    { name: 'messages not an array', path: '/api/chat', body: json({ model: 'tiny', messages: 'hi' }), status: 400, message: /messages/ },
    { name: 'temperature of the wrong type', path: '/api/chat', body: json({ model: 'tiny', messages: [], options: { temperature: 'hot' } }), status: 400, message: /options\.temperature/ },
    { name: 'num_ctx out of range', path: '/api/generate', body: json({ model: 'tiny', prompt: 'x', options: { num_ctx: 0 } }), status: 400, message: /options\.num_ctx/ },
    { name: 'stream not a boolean', path: '/api/generate', body: json({ model: 'tiny', prompt: 'x', stream: 'yes' }), status: 400, message: /stream/ },
    { name: 'unknown role', path: '/api/chat', body: json({ model: 'tiny', messages: [{ role: 'wizard', content: 'x' }] }), status: 400, message: /role/ },
    { name: 'missing model', path: '/api/generate', body: json({ prompt: 'x' }), status: 400, message: /model/ },
    { name: 'bad keep_alive', path: '/api/generate', body: json({ model: 'tiny', prompt: 'x', keep_alive: 'soon' }), status: 400, message: /keep_alive/ },
    { name: 'unknown model (chat)', path: '/api/chat', body: json({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }), status: 404, message: /nope/ },
    { name: 'unknown model (embed)', path: '/api/embed', body: json({ model: 'nope', input: 'x' }), status: 404, message: /nope/ },
    { name: 'path-like name (chat)', path: '/api/chat', body: json({ model: '../../etc/passwd', messages: [{ role: 'user', content: 'x' }] }), status: 400, message: /invalid model name/ },
    { name: 'path-like name (show)', path: '/api/show', body: json({ model: 'a/../../b' }), status: 400, message: /invalid model name/ },
    { name: 'path-like name (create)', path: '/api/create', body: json({ model: '../evil', from: 'tiny' }), status: 400, message: /invalid model name/ },
    { name: 'path-like name (copy)', path: '/api/copy', body: json({ source: 'tiny', destination: '..\\..\\evil' }), status: 400, message: /invalid model name/ },
    { name: 'path-like name (delete)', method: 'DELETE', path: '/api/delete', body: json({ model: '/etc/passwd' }), status: 400, message: /invalid model name/ },
    { name: 'bad template', path: '/api/create', body: json({ model: 'x', from: 'tiny', template: '{{ if .Prompt }}unclosed' }), status: 400, message: /template/ },
    { name: 'create from a missing blob', path: '/api/create', body: json({ model: 'x', files: { 'm.gguf': zeros } }), status: 400, message: /not found/ },
    { name: 'create with a malformed digest', path: '/api/create', body: json({ model: 'x', files: { 'm.gguf': 'sha256:xyz' } }), status: 400, message: /files/ },
    { name: 'create from an unknown model', path: '/api/create', body: json({ model: 'x', from: 'ghost' }), status: 404, message: /ghost/ },
    { name: 'create with neither from nor files', path: '/api/create', body: json({ model: 'x' }), status: 400, message: /from.*files/ },
    { name: 'adapter that does not fit the base', path: '/api/create', body: json({ model: 'x', from: 'tiny', adapters: { 'a.gguf': otherArchAdapter } }), status: 400, message: /does not fit/ },
    { name: 'a model passed as adapter', path: '/api/create', body: json({ model: 'x', from: 'tiny', adapters: { 'a.gguf': modelDigest } }), status: 400, message: /not a GGUF adapter/ },
    { name: 'suffix on a model without fill-in-middle tokens', path: '/api/generate', body: json({ model: 'tiny', prompt: 'def f(', suffix: ')' }), status: 400, message: /does not support insert/ },
    { name: 'tools on a model without tool calling', path: '/api/chat', body: json({ model: 'tiny', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function' }] }), status: 400, message: /does not support tools/ },
    { name: 'quantize', path: '/api/create', body: json({ model: 'x', from: 'tiny', quantize: 'q4_K_M' }), status: 400, message: /quantize/ },
    { name: 'blob bytes that do not match the digest', path: `/api/blobs/${zeros}`, body: Buffer.from('not the right bytes'), status: 400, message: /digest mismatch/ },
    { name: 'blob with a malformed digest', path: '/api/blobs/sha256:..%2F..%2Fetc', body: Buffer.from('x'), status: 400, message: /digest/ },
    { name: 'copy from an unknown model', path: '/api/copy', body: json({ source: 'ghost', destination: 'y' }), status: 404, message: /ghost/ },
    { name: 'oversized body', path: '/api/chat', body: json({ model: 'tiny', messages: [{ role: 'user', content: 'x'.repeat(2 * 1024 * 1024) }] }), status: 413, message: /too large/ },
    { name: 'unknown route', method: 'GET', path: '/api/nothing-here', status: 404, message: /not found/ },
  ];

  test('each bad request gets its status and an {"error"} naming the problem; the store is unchanged', async () => {
    const before = await snapshot(engine.modelsDir);
    for (const c of cases()) {
      const res = await fetch(`${engine.url}${c.path}`, { method: c.method ?? 'POST', body: c.body });
      const text = await res.text();
      assert.equal(res.status, c.status, `${c.name}: status ${res.status}, body ${text}`);
      const body = JSON.parse(text) as { error?: unknown };
      assert.equal(typeof body.error, 'string', `${c.name}: ${text}`);
      assert.match(body.error as string, c.message, c.name);
      assert.doesNotMatch(text, /at .*\.js:\d+/, `${c.name}: no stack trace`);
    }
    assert.deepEqual(await snapshot(engine.modelsDir), before, 'store unchanged');
  });

  test('HEAD on blobs: 200 present, 404 absent, 400 malformed', async () => {
    assert.equal((await fetch(`${engine.url}/api/blobs/${modelDigest}`, { method: 'HEAD' })).status, 200);
    assert.equal((await fetch(`${engine.url}/api/blobs/${zeros}`, { method: 'HEAD' })).status, 404);
    assert.equal((await fetch(`${engine.url}/api/blobs/md5:abc`, { method: 'HEAD' })).status, 400);
  });

  test('a correct blob upload is stored under its digest', async () => {
    const bytes = Buffer.from('hello blob');
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    assert.equal((await fetch(`${engine.url}/api/blobs/${digest}`, { method: 'POST', body: bytes })).status, 201);
    assert.equal((await fetch(`${engine.url}/api/blobs/${digest}`, { method: 'HEAD' })).status, 200);
  });

  test('a body it cannot read: 415 for a charset or Content-Encoding, 400 for a corrupt compressed body or one nested too deep', async () => {
    const body = json({ model: 'tiny', prompt: 'x', stream: false, options: { num_predict: 1 } });
    const deep = `{"model":"tiny","prompt":"x","format":${'['.repeat(1000)}${']'.repeat(1000)}}`;
    const cases: Array<[string, Record<string, string>, string | Buffer, number, RegExp]> = [
      ['charset=latin1', { 'content-type': 'application/json; charset=latin1' }, body, 415, /charset "latin1"/],
      ['Content-Encoding: x-unknown', { 'content-encoding': 'x-unknown' }, body, 415, /Content-Encoding "x-unknown"/],
      ['not gzip', { 'content-encoding': 'gzip' }, body, 400, /decompressed/],
      ['truncated gzip', { 'content-encoding': 'gzip' }, gzipSync(body).subarray(0, 12), 400, /decompressed/],
      ['nested 1000 deep', {}, deep, 400, /deeper than 64/],
    ];
    for (const [name, headers, b, status, message] of cases) {
      const res = await fetch(`${engine.url}/api/generate`, { method: 'POST', headers, body: b });
      const text = await res.text();
      assert.equal(res.status, status, `${name}: ${text}`);
      assert.match((JSON.parse(text) as { error: string }).error, message, name);
    }
  });

  test('clients that hang up mid-body, while queued or mid-generation are info lines, never errors with a stack', async () => {
    const logsBefore = engine.logs.length;
    // Mid-body.
    const midBody = await RawClient.connect(engine.url);
    midBody.write('POST /api/generate HTTP/1.1\r\nHost: engine\r\nContent-Length: 1000\r\n\r\n{"model":');
    await sleep(100);
    await midBody.destroy();
    // Two long generations fill both slots (--parallel 2), a third waits for one; then all three hang up.
    const long = json({ model: 'tiny', prompt: 'count', stream: true, options: { num_predict: 1900, seed: 1 } });
    const streams = [new AbortController(), new AbortController()];
    for (const c of streams) {
      const res = await fetch(`${engine.url}/api/generate`, { method: 'POST', body: long, signal: c.signal });
      await res.body!.getReader().read();
    }
    const queued = new AbortController();
    const waiting = fetch(`${engine.url}/api/generate`, { method: 'POST', body: long, signal: queued.signal }).catch(() => undefined);
    await sleep(200);
    for (const c of [queued, ...streams]) c.abort();
    await waiting;
    let aborted: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 100 && aborted.length < 4; i++) {
      aborted = engine.logs.slice(logsBefore).filter((l) => l.message === 'request' && l.aborted === true);
      if (aborted.length < 4) await sleep(100);
    }
    assert.equal(aborted.length, 4, `one access line per hang-up: ${JSON.stringify(engine.logs.slice(logsBefore))}`);
    assert.ok(aborted.every((l) => l.level === 'info'));
    const errors = engine.logs.slice(logsBefore).filter((l) => l.level === 'error' || JSON.stringify(l).includes('"stack"'));
    assert.deepEqual(errors, []);
  });

  test('the engine is still healthy after all of it', async () => {
    const res = await fetch(`${engine.url}/api/generate`, { method: 'POST', body: json({ model: 'tiny', prompt: 'ok', stream: false, options: { num_predict: 2 } }) });
    assert.equal(res.status, 200);
  });
});
