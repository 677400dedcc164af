// The bundled engine serves only Hearth: the daemon starts it with a secret of each start, handed
// over in its environment; the engine refuses every request without it; the CLI reads it from the
// data dir. A real daemon and its engine, probed the way another local process would.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hearthBin } from '../helpers/engine-process.js';
import { productEnv, startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { testModelPath } from '../helpers/test-model.js';

const run = promisify(execFile);

async function hearth(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [hearthBin, ...args], { env: productEnv(), timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

interface AdminHealth {
  backend: { kind: string; url: string; pid: number; protected: boolean };
}

describe("the daemon's bundled engine serves only Hearth", () => {
  let dataDir: string;
  let d: DaemonProcess;
  let engine: AdminHealth['backend'];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'hearth-secret-'));
    d = await startDaemonProcess({ dataDir });
    engine = (await d.admin<AdminHealth>('GET', '/api/v1/health')).body.backend;
  });
  after(async () => {
    await d?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('a request without the secret is a 401 that tells nothing; with it the engine answers', async () => {
    assert.equal(engine.kind, 'engine');
    assert.equal(engine.protected, true, 'health tells the operator the backend is protected');
    const secret = d.engineSecret;
    assert.ok(secret !== undefined && secret.length >= 32, 'the daemon wrote its engine secret');

    const refusals: Array<[string, string, Record<string, string>]> = [
      ['GET', '/api/tags', {}],
      ['GET', '/api/ps', {}],
      ['GET', '/api/version', {}],
      ['GET', '/', {}],
      ['GET', '/api/tags', { authorization: `Bearer ${secret}x` }],
      ['GET', '/api/tags', { authorization: `Bearer ${secret.slice(0, -1)}` }],
      ['GET', '/api/tags', { authorization: secret }],
      ['GET', '/api/tags', { 'x-api-key': secret }],
      ['POST', '/api/chat', {}],
      ['POST', '/api/show', {}],
      ['POST', '/api/embed', {}],
    ];
    for (const [method, path, headers] of refusals) {
      const body = method === 'POST' ? JSON.stringify({ model: 'hearth-demo', messages: [{ role: 'user', content: 'hi' }], input: 'x', stream: false }) : undefined;
      const res = await fetch(`${engine.url}${path}`, { method, headers, body });
      const text = await res.text();
      assert.equal(res.status, 401, `${method} ${path} ${JSON.stringify(Object.keys(headers))}`);
      assert.deepEqual(JSON.parse(text), { error: 'unauthorized', code: 'unauthorized' }, 'Ollama’s error shape, with its code');
      assert.doesNotMatch(text, /hearth-demo/, 'nothing of the store');
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
    }
    const openai = await fetch(`${engine.url}/v1/models`);
    assert.equal(openai.status, 401);
    assert.equal(((await openai.json()) as { error: { message: string } }).error.message, 'unauthorized', 'OpenAI’s shape under /v1');
    // An upload is refused before a byte of it is stored.
    const upload = await fetch(`${engine.url}/api/blobs/sha256:${'0'.repeat(64)}`, { method: 'POST', body: new Uint8Array(1024) });
    assert.equal(upload.status, 401);

    const tags = await fetch(`${engine.url}/api/tags`, { headers: d.engineHeaders() });
    assert.equal(tags.status, 200);
    const { models } = (await tags.json()) as { models: Array<{ name: string }> };
    assert.ok(models.some((m) => m.name === 'hearth-demo:latest'));
    const chat = await fetch(`${engine.url}/api/chat`, {
      method: 'POST',
      headers: { ...d.engineHeaders(), 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'hearth-demo', messages: [{ role: 'user', content: 'hi' }], stream: false, options: { num_predict: 1 } }),
    });
    assert.equal(chat.status, 200);
  });

  test('the secret is in no command line and no log line; the data dir keeps it readable by its owner only', async () => {
    const secret = d.engineSecret!;
    const cmdline = readFileSync(`/proc/${engine.pid}/cmdline`, 'utf8');
    assert.match(cmdline, /engine/, 'the engine’s command line, as any user can read it');
    assert.ok(!cmdline.includes(secret), 'not on the engine’s command line');
    assert.ok(!readFileSync(`/proc/${d.child.pid}/cmdline`, 'utf8').includes(secret), 'nor the daemon’s');
    // The engine's environment (readable by its owner only) has it; the daemon's own does not,
    // so nothing else the daemon starts (a trainer) inherits it.
    assert.ok(readFileSync(`/proc/${engine.pid}/environ`, 'utf8').includes(secret));
    assert.ok(!readFileSync(`/proc/${d.child.pid}/environ`, 'utf8').includes(secret));
    // Every line the daemon wrote, the engine's forwarded ones and the access lines of refused calls included.
    assert.ok(d.stdout.length > 0);
    assert.ok(!d.stdout.join('\n').includes(secret), 'never logged');

    const file = await stat(join(dataDir, 'engine-secret'));
    assert.equal(file.mode & 0o777, 0o600);
    assert.equal(readFileSync(join(dataDir, 'engine-secret'), 'utf8').trim(), secret);
  });

  test('hearth models import reads the secret from the data dir; --backend without it is refused and says why', async () => {
    const model = await testModelPath();
    const imported = await hearth(['models', 'import', model, '--name', 'secret-import', '--data-dir', dataDir]);
    assert.equal(imported.code, 0, imported.stderr);
    const listed = (await d.admin<{ models: Array<{ id: string }> }>('GET', '/api/admin/models')).body.models.map((m) => m.id);
    assert.ok(listed.includes('secret-import:latest'));

    const direct = await hearth(['models', 'import', model, '--name', 'sneaked-in', '--backend', engine.url]);
    assert.equal(direct.code, 1);
    assert.match(direct.stderr, /refuses callers without its secret: .*--config or --data-dir/);
    const listedAfter = (await d.admin<{ models: Array<{ id: string }> }>('GET', '/api/admin/models')).body.models.map((m) => m.id);
    assert.ok(!listedAfter.includes('sneaked-in:latest'));
  });

  test('a restart makes a new secret: the old one opens nothing', async () => {
    const old = d.engineSecret!;
    await d.stop();
    await assert.rejects(stat(join(dataDir, 'engine-secret')), /ENOENT/, 'a stopped daemon removes it');
    d = await startDaemonProcess({ dataDir });
    const again = (await d.admin<AdminHealth>('GET', '/api/v1/health')).body.backend;
    assert.ok(d.engineSecret !== undefined && d.engineSecret !== old, 'a new secret');
    assert.equal((await fetch(`${again.url}/api/tags`, { headers: { authorization: `Bearer ${old}` } })).status, 401);
    assert.equal((await fetch(`${again.url}/api/tags`, { headers: d.engineHeaders() })).status, 200);
  });
});
