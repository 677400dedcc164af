// The BackendManager with real processes: it starts and supervises the real `hearth engine`,
// creates the demo model, restarts the engine after a SIGKILL, leaves nothing behind on stop,
// and in 'auto' mode uses a server that already answers or falls back to the engine.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackendManager, backendConfigOf, type BackendConfig, type BackendState } from '../../src/backend/backend-manager.js';
import { defaultConfig, type ConfigOverrides } from '../../src/config/load.js';
import { DEMO_MODEL_NAME } from '../../src/backend/demo-model.js';
import { findExecutable } from '../../src/backend/find-executable.js';
import { pickFreePort } from '../../src/backend/free-port.js';
import { HearthError } from '../../src/errors.js';
import { startEngineProcess } from '../helpers/engine-process.js';
import { captureLogger, isRunning, liveGroupMembers, waitUntil } from '../helpers/processes.js';

const noOllama = (name: string) => findExecutable(name, '');

/** The daemon's backend settings for the schema's defaults, small and quick for tests, with `overrides`. */
function testConfig(dataDir: string, overrides: ConfigOverrides = {}): BackendConfig {
  return backendConfigOf(
    defaultConfig({
      overrides: {
        data_dir: dataDir,
        'backend.mode': 'engine',
        'backend.health_interval': '200ms',
        'backend.restart_initial_delay': '100ms',
        'backend.restart_max_delay': '1s',
        'engine.listen': '127.0.0.1:0',
        'engine.parallel': 1,
        'engine.max_queue': 8,
        'engine.num_ctx': 512,
        'engine.threads': 1,
        'engine.gpu': 'off',
        ...overrides,
      },
    }),
  );
}

function recordStates(manager: BackendManager): BackendState[] {
  const states: BackendState[] = [];
  manager.on('state', (s) => states.push(s));
  return states;
}

describe('BackendManager: the bundled engine, supervised', () => {
  let dataDir: string;
  let manager: BackendManager;
  let states: BackendState[];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'hearth-backend-'));
    manager = await BackendManager.create({ config: testConfig(dataDir), dataDir, log: captureLogger().log, findExecutable: noOllama });
    states = recordStates(manager);
  });
  after(async () => {
    await manager?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('mode engine starts `hearth engine` and is up once it answers', async () => {
    assert.equal(manager.kind, 'engine');
    assert.equal(manager.state, 'stopped');
    await manager.start();
    assert.equal(manager.state, 'up');
    assert.ok(manager.isUp());
    assert.deepEqual(states, ['starting', 'up']);
    const info = manager.info();
    assert.equal(info.kind, 'engine');
    assert.equal(info.url, manager.url);
    assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(info.pid !== undefined && isRunning(info.pid));
    assert.equal(info.restarts, 0);
    assert.equal(info.protected, true, 'the engine refuses every caller without the manager\'s secret');
    assert.equal((await fetch(`${manager.url}/api/version`)).status, 401);
    const { version } = await manager.ollama.version();
    assert.match(version, /^\d+\.\d+\.\d+/);
  });

  test('ensureDemoModel creates hearth-demo in an empty store, once', async () => {
    assert.deepEqual((await manager.ollama.list()).models, []);
    assert.equal(await manager.ensureDemoModel(), true);
    const { models } = await manager.ollama.list();
    assert.deepEqual(models.map((m) => m.name), [`${DEMO_MODEL_NAME}:latest`]);
    const show = await manager.ollama.show({ model: DEMO_MODEL_NAME });
    assert.match(show.license, /UNTRAINED demo model with random weights/);
    assert.match(show.license, /noise/);
    assert.match(show.system ?? '', /random/);
    assert.equal(await manager.ensureDemoModel(), false, 'a store with a model is left alone');
    assert.ok(!existsSync(join(dataDir, 'demo', `${DEMO_MODEL_NAME}.gguf`)), 'the uploaded GGUF is not kept twice');
  });

  test('chat with the demo model works through the client', async () => {
    const r = await manager.ollama.chat({ model: DEMO_MODEL_NAME, messages: [{ role: 'user', content: 'Hello' }], options: { temperature: 0, num_predict: 8, seed: 1 } });
    assert.equal(r.message.role, 'assistant');
    assert.ok(r.message.content.length > 0);
    assert.equal(r.done, true);
  });

  test('a SIGKILLed engine is reported down, restarted, and up again', async () => {
    await manager.waitUntilUp(10_000);
    const firstPid = manager.pid as number;
    const seen = states.length;
    process.kill(firstPid, 'SIGKILL');
    await waitUntil(() => states.slice(seen).includes('down'), 10_000, 'the backend is reported down');
    await manager.waitUntilUp(60_000);
    assert.deepEqual(states.slice(seen), ['down', 'up']);
    const info = manager.info();
    assert.ok(info.restarts >= 1);
    assert.notEqual(info.pid, firstPid);
    assert.match(info.lastError ?? '', /SIGKILL/);
    assert.ok(!isRunning(firstPid));
    const { models } = await manager.ollama.list();
    assert.ok(models.some((m) => m.name === `${DEMO_MODEL_NAME}:latest`), 'the store survived the restart');
  });

  test('stop leaves no process behind', async () => {
    const pid = manager.pid as number;
    await manager.stop();
    assert.equal(manager.state, 'stopped');
    assert.equal(manager.pid, undefined);
    assert.ok(!isRunning(pid));
    assert.deepEqual(liveGroupMembers(pid), []);
    assert.equal(manager.isUp(), false);
  });
});

describe('BackendManager: choosing the backend', () => {
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'hearth-backend-'));
  });
  after(async () => rm(dataDir, { recursive: true, force: true }));

  test('auto picks external when a server already answers at url, and follows it down and up', async () => {
    const engine = await startEngineProcess();
    const port = Number(new URL(engine.url).port);
    let second: Awaited<ReturnType<typeof startEngineProcess>> | undefined;
    const manager = await BackendManager.create({ config: testConfig(dataDir, { 'backend.mode': 'auto', 'backend.url': engine.url }), dataDir, log: captureLogger().log, findExecutable: noOllama });
    try {
      assert.equal(manager.kind, 'external');
      assert.equal(manager.url, engine.url);
      assert.equal(manager.info().protected, false, 'a server someone else runs is theirs to protect');
      await manager.start();
      assert.equal(manager.state, 'up');
      const info = manager.info();
      assert.equal(info.pid, undefined, 'an external server is not ours');
      assert.equal(await manager.ensureDemoModel(), false, 'the demo model is only for the bundled engine');
      assert.deepEqual((await manager.ollama.list()).models, []);

      // The bundled engine configured where another server answers gets a free port instead,
      // and the log says which setting chooses it.
      const moved = captureLogger();
      const beside = await BackendManager.create({ config: testConfig(dataDir, { 'engine.listen': `127.0.0.1:${port}` }), dataDir, log: moved.log });
      assert.equal(beside.kind, 'engine');
      assert.notEqual(beside.url, engine.url);
      assert.ok(moved.entries.some((e) => e.level === 'warn' && /engine\.listen 127\.0\.0\.1:\d+ is held by another process.*listens on 127\.0\.0\.1:\d+ instead; set engine\.listen/.test(String(e.message))), JSON.stringify(moved.entries));
      // `ollama serve` may not take an address another server answers on: the message names the settings.
      await assert.rejects(
        BackendManager.create({ config: testConfig(dataDir, { 'backend.mode': 'ollama', 'backend.url': engine.url }), dataDir, log: captureLogger().log, findExecutable: async () => '/usr/bin/ollama' }),
        (err: HearthError) => err.kind === 'conflict' && err.code === 'backend_address_in_use' && /backend\.mode to "external" or "auto".*backend\.url/.test(err.message),
      );

      await engine.stop();
      await waitUntil(() => manager.state === 'down', 10_000, 'the external backend is reported down');
      assert.match(manager.info().lastError ?? '', /api\/version/);
      second = await startEngineProcess(['--listen', `127.0.0.1:${port}`]);
      await manager.waitUntilUp(10_000);
      assert.equal(manager.state, 'up');
    } finally {
      await manager.stop();
      await engine.stop();
      await second?.stop();
    }
    assert.equal(manager.state, 'stopped');
  });

  test('auto picks the engine when nothing answers at url and there is no ollama on PATH', async () => {
    const freePort = await pickFreePort('127.0.0.1');
    const manager = await BackendManager.create({ config: testConfig(dataDir, { 'backend.mode': 'auto', 'backend.url': `http://127.0.0.1:${freePort}` }), dataDir, log: captureLogger().log, findExecutable: noOllama });
    try {
      assert.equal(manager.kind, 'engine');
      assert.notEqual(manager.url, `http://127.0.0.1:${freePort}`, 'the engine listens on its own address');
      await manager.start();
      assert.equal(manager.state, 'up');
      assert.ok(manager.pid !== undefined);
    } finally {
      await manager.stop();
    }
    assert.equal(manager.state, 'stopped');
  });

  test('an engine that cannot start: start rejects with why, and it is retried until stop', async () => {
    const notADir = join(dataDir, 'a-file');
    await writeFile(notADir, '');
    const base = testConfig(dataDir);
    const config = { ...base, engine: { ...base.engine, modelsDir: join(notADir, 'models') } };
    const manager = await BackendManager.create({ config, dataDir, log: captureLogger().log, findExecutable: noOllama });
    const states = recordStates(manager);
    try {
      await assert.rejects(manager.start(), (err: HearthError) => err.kind === 'unavailable' && err.code === 'backend_unavailable' && /exited with code 1: .*ENOTDIR/.test(err.message));
      assert.match(manager.info().lastError ?? '', /ENOTDIR/);
      await waitUntil(() => manager.info().restarts >= 2, 30_000, 'the engine was retried');
      assert.equal(manager.state, 'down');
    } finally {
      await manager.stop();
    }
    assert.equal(manager.state, 'stopped');
    assert.deepEqual(states.filter((s, i) => s !== states[i - 1]), ['starting', 'down', 'stopped']);
  });

  test('an external backend that never answers: start rejects after startTimeoutMs, state down', async () => {
    const url = `http://127.0.0.1:${await pickFreePort('127.0.0.1')}`;
    const manager = await BackendManager.create({ config: { ...testConfig(dataDir, { 'backend.mode': 'external', 'backend.url': url }), startTimeoutMs: 500 }, dataDir, log: captureLogger().log });
    try {
      await assert.rejects(manager.start(), (err: HearthError) => err.code === 'backend_unavailable' && err.message.includes(url));
      assert.equal(manager.state, 'down');
      assert.match(manager.info().lastError ?? '', /api\/version/);
    } finally {
      await manager.stop();
    }
    assert.equal(manager.state, 'stopped');
  });

  test('mode ollama without an ollama executable is refused', async () => {
    await assert.rejects(
      BackendManager.create({ config: testConfig(dataDir, { 'backend.mode': 'ollama' }), dataDir, log: captureLogger().log, findExecutable: noOllama }),
      (err: HearthError) => err instanceof HearthError && err.code === 'ollama_not_found',
    );
  });
});
