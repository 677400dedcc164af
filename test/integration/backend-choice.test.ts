// How the backend manager resolves its mode where that takes sockets: 'auto' probes backend.url,
// and engine.listen is bound to see whether it is free. No process is spawned here; the choices
// that need no socket are in test/unit/backend-choice.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { backendConfigOf, chooseBackend, hearthBin, type BackendConfig } from '../../src/backend/backend-manager.js';
import { pickFreePort } from '../../src/backend/free-port.js';
import { parseEngineArgs } from '../../src/engine/engine-args.js';
import { defaultConfig, type ConfigOverrides } from '../../src/config/load.js';
import { HearthError } from '../../src/errors.js';

const nothing = async () => undefined;

/** The daemon's backend settings for the schema's defaults with `overrides`, backend.url a port where nothing listens. */
async function config(overrides: ConfigOverrides = {}): Promise<BackendConfig> {
  // Nothing listens on a port just handed out and released.
  const url = `http://127.0.0.1:${await pickFreePort('127.0.0.1')}`;
  return backendConfigOf(defaultConfig({ overrides: { data_dir: '/var/lib/hearth', 'backend.url': url, ...overrides } }));
}

describe('chooseBackend', () => {
  test('auto with nothing answering and ollama on PATH supervises `ollama serve` on the url', async () => {
    const c = await config({ 'backend.mode': 'auto' });
    const launch = await chooseBackend({ config: c, findExecutable: async (name) => (name === 'ollama' ? '/opt/ollama/bin/ollama' : undefined) });
    assert.equal(launch.kind, 'ollama');
    assert.equal(launch.url, c.url);
    assert.deepEqual(launch.command, { command: '/opt/ollama/bin/ollama', args: ['serve'], env: { OLLAMA_HOST: new URL(c.url).host } });
  });

  test('auto with nothing answering and no ollama runs the engine with exactly its settings; port 0 becomes a concrete port', async () => {
    const c = await config({ 'backend.mode': 'auto', 'engine.listen': '127.0.0.1:0', 'engine.gpu': 'off', 'engine.keep_alive': '400ms' });
    const launch = await chooseBackend({ config: c, findExecutable: nothing });
    assert.equal(launch.kind, 'engine');
    const port = Number(/^http:\/\/127\.0\.0\.1:(\d+)$/.exec(launch.url)?.[1]);
    assert.ok(port > 0);
    assert.equal(launch.command?.command, process.execPath);
    const [bin, command, ...argv] = launch.command?.args ?? [];
    assert.deepEqual([bin, command], [hearthBin, 'engine']);
    assert.deepEqual(argv.slice(0, 2), ['--models=/var/lib/hearth/models', `--listen=127.0.0.1:${port}`]);
    assert.ok(argv.includes('--keep-alive=400ms'), 'a sub-second keep-alive is not rounded');
    // What the engine reads from its command line is the daemon's configuration, and its pid.
    assert.deepEqual(parseEngineArgs(argv), { ...c.engine, listen: { host: '127.0.0.1', port }, parentPid: process.pid });
  });

  test('engine passes --threads when set, and a wildcard listen is reached through loopback', async () => {
    const c = await config({ 'backend.mode': 'engine', 'engine.listen': '0.0.0.0:0', 'engine.threads': 3 });
    const launch = await chooseBackend({ config: c });
    assert.match(launch.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const args = launch.command?.args ?? [];
    assert.ok(args.includes('--threads=3'));
    assert.ok(args.includes(`--listen=0.0.0.0:${new URL(launch.url).port}`));
  });

  test("an engine.listen port another process holds becomes a free one, with a notice naming the setting (engine and auto)", async () => {
    // A socket that holds the port without speaking HTTP: the check is the bind, not a probe.
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const held = (holder.address() as AddressInfo).port;
    try {
      for (const mode of ['engine', 'auto'] as const) {
        const c = await config({ 'backend.mode': mode, 'engine.listen': `127.0.0.1:${held}` });
        const launch = await chooseBackend({ config: c, findExecutable: nothing });
        assert.equal(launch.kind, 'engine', mode);
        const port = Number(new URL(launch.url).port);
        assert.notEqual(port, held, mode);
        assert.ok(launch.command?.args.includes(`--listen=127.0.0.1:${port}`), mode);
        assert.equal(launch.notice, `engine.listen 127.0.0.1:${held} is held by another process (another hearth serve's engine, say): the bundled engine listens on 127.0.0.1:${port} instead; set engine.listen (HEARTH_ENGINE_LISTEN) to choose a port`);
      }
    } finally {
      await new Promise((r) => holder.close(r));
    }
    // Free, it is used as configured, without a notice.
    const c = await config({ 'backend.mode': 'engine', 'engine.listen': `127.0.0.1:${held}` });
    const launch = await chooseBackend({ config: c });
    assert.equal(launch.url, `http://127.0.0.1:${held}`);
    assert.equal(launch.notice, undefined);
  });

  test('an engine.listen host the machine does not have is refused naming the setting', async () => {
    // TEST-NET-1 (RFC 5737): never an address of this machine.
    const c = await config({ 'backend.mode': 'engine', 'engine.listen': '192.0.2.1:11435' });
    await assert.rejects(chooseBackend({ config: c }), (err: HearthError) => err.code === 'invalid_config' && /engine\.listen 192\.0\.2\.1:11435: .*EADDRNOTAVAIL.*set engine\.listen/.test(err.message));
  });
});
