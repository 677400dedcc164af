// How the backend manager resolves its mode (no process is spawned here), and the PATH lookup.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chooseBackend, defaultBackendConfig, hearthBin, type BackendConfig } from '../../src/backend/backend-manager.js';
import { findExecutable } from '../../src/backend/find-executable.js';
import { pickFreePort } from '../../src/backend/free-port.js';
import { HearthError } from '../../src/errors.js';

const nothing = async () => undefined;

async function config(overrides: Partial<BackendConfig>): Promise<BackendConfig> {
  // Nothing listens on a port just handed out and released.
  const url = `http://127.0.0.1:${await pickFreePort('127.0.0.1')}`;
  return { ...defaultBackendConfig('/var/lib/hearth'), url, ...overrides };
}

describe('chooseBackend', () => {
  test('auto with nothing answering and ollama on PATH supervises `ollama serve` on the url', async () => {
    const c = await config({ mode: 'auto' });
    const launch = await chooseBackend({ config: c, findExecutable: async (name) => (name === 'ollama' ? '/opt/ollama/bin/ollama' : undefined) });
    assert.equal(launch.kind, 'ollama');
    assert.equal(launch.url, c.url);
    assert.deepEqual(launch.command, { command: '/opt/ollama/bin/ollama', args: ['serve'], env: { OLLAMA_HOST: new URL(c.url).host } });
  });

  test('auto with nothing answering and no ollama runs the engine; port 0 becomes a concrete port', async () => {
    const c = await config({ mode: 'auto' });
    c.engine = { ...c.engine, listen: '127.0.0.1:0', threads: 0, gpu: 'off' };
    const launch = await chooseBackend({ config: c, findExecutable: nothing });
    assert.equal(launch.kind, 'engine');
    const port = Number(/^http:\/\/127\.0\.0\.1:(\d+)$/.exec(launch.url)?.[1]);
    assert.ok(port > 0);
    assert.equal(launch.command?.command, process.execPath);
    assert.deepEqual(launch.command?.args, [
      hearthBin, 'engine', '--models', '/var/lib/hearth/models', '--listen', `127.0.0.1:${port}`,
      '--parallel', '2', '--max-queue', '64', '--num-ctx', '2048', '--keep-alive', '5m', '--gpu', 'off', '--parent-pid', String(process.pid), '--log-level', 'info',
    ], 'threads 0 leaves the thread count to the engine');
  });

  test('engine passes --threads when set, and a wildcard listen is reached through loopback', async () => {
    const c = await config({ mode: 'engine' });
    c.engine = { ...c.engine, listen: '0.0.0.0:0', threads: 3, logLevel: 'warn' };
    const launch = await chooseBackend({ config: c });
    assert.match(launch.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(launch.command?.args.slice(-4), ['--log-level', 'warn', '--threads', '3'], 'the daemon below debug asks the engine for warnings only');
    assert.ok(launch.command?.args.includes(`0.0.0.0:${new URL(launch.url).port}`));
  });

  test("an engine.listen port another process holds becomes a free one, with a notice naming the setting (engine and auto)", async () => {
    // A socket that holds the port without speaking HTTP: the check is the bind, not a probe.
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const held = (holder.address() as AddressInfo).port;
    try {
      for (const mode of ['engine', 'auto'] as const) {
        const c = await config({ mode });
        c.engine = { ...c.engine, listen: `127.0.0.1:${held}` };
        const launch = await chooseBackend({ config: c, findExecutable: nothing });
        assert.equal(launch.kind, 'engine', mode);
        const port = Number(new URL(launch.url).port);
        assert.notEqual(port, held, mode);
        assert.ok(launch.command?.args.includes(`127.0.0.1:${port}`), mode);
        assert.equal(launch.notice, `engine.listen 127.0.0.1:${held} is held by another process (another hearth serve's engine, say): the bundled engine listens on 127.0.0.1:${port} instead; set engine.listen (HEARTH_ENGINE_LISTEN) to choose a port`);
      }
    } finally {
      await new Promise((r) => holder.close(r));
    }
    // Free, it is used as configured, without a notice.
    const c = await config({ mode: 'engine' });
    c.engine = { ...c.engine, listen: `127.0.0.1:${held}` };
    const launch = await chooseBackend({ config: c });
    assert.equal(launch.url, `http://127.0.0.1:${held}`);
    assert.equal(launch.notice, undefined);
  });

  test('an engine.listen host the machine does not have is refused naming the setting', async () => {
    const c = await config({ mode: 'engine' });
    // TEST-NET-1 (RFC 5737): never an address of this machine.
    c.engine = { ...c.engine, listen: '192.0.2.1:11435' };
    await assert.rejects(chooseBackend({ config: c }), (err: HearthError) => err.code === 'invalid_config' && /engine\.listen 192\.0\.2\.1:11435: .*EADDRNOTAVAIL.*set engine\.listen/.test(err.message));
  });

  test('external is taken as given, without a trailing slash, and never probed', async () => {
    const launch = await chooseBackend({ config: await config({ mode: 'external', url: 'http://10.0.0.5:11434/' }) });
    assert.deepEqual(launch, { kind: 'external', url: 'http://10.0.0.5:11434' });
  });

  test('bad settings are refused with invalid_request', async () => {
    const bad = [
      config({ mode: 'external', url: 'not a url' }),
      config({ mode: 'external', url: 'ftp://example.com' }),
      config({ mode: 'engine', engine: { ...defaultBackendConfig('/d').engine, listen: '127.0.0.1' } }),
      config({ mode: 'engine', engine: { ...defaultBackendConfig('/d').engine, listen: 'localhost:70000' } }),
      config({ mode: 'nope' as BackendConfig['mode'] }),
    ];
    for (const c of bad) {
      await assert.rejects(chooseBackend({ config: await c }), (err: HearthError) => err instanceof HearthError && err.kind === 'invalid_request');
    }
  });

  test('mode ollama needs the executable', async () => {
    await assert.rejects(chooseBackend({ config: await config({ mode: 'ollama' }), findExecutable: nothing }), (err: HearthError) => err.code === 'ollama_not_found');
  });
});

describe('findExecutable', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hearth-path-'));
    await mkdir(join(dir, 'a'));
    await mkdir(join(dir, 'b'));
    await writeFile(join(dir, 'a', 'tool'), '#!/bin/sh\n'); // not executable
    await mkdir(join(dir, 'a', 'dir-tool'));
    await writeFile(join(dir, 'b', 'tool'), '#!/bin/sh\n');
    await chmod(join(dir, 'b', 'tool'), 0o755);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test('searches PATH in order for an executable file', async () => {
    const path = [join(dir, 'a'), '', join(dir, 'b')].join(':');
    assert.equal(await findExecutable('tool', path), join(dir, 'b', 'tool'));
    assert.equal(await findExecutable('dir-tool', path), undefined, 'a directory is not an executable');
    assert.equal(await findExecutable('missing', path), undefined);
    assert.equal(await findExecutable('tool', ''), undefined, 'an empty PATH finds nothing');
  });

  test('a name with a slash is a path', async () => {
    assert.equal(await findExecutable(join(dir, 'b', 'tool'), ''), join(dir, 'b', 'tool'));
    assert.equal(await findExecutable(join(dir, 'a', 'tool'), ''), undefined);
  });
});
