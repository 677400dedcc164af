// The backend manager's settings from the daemon's config, and the choices it makes without a
// socket (external taken as given, bad settings, a missing ollama). The choices that probe
// backend.url or bind engine.listen are in test/integration/backend-choice.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backendConfigOf, chooseBackend, type BackendConfig } from '../../src/backend/backend-manager.js';
import { engineOwnDefaults } from '../../src/engine/engine-args.js';
import { defaultConfig } from '../../src/config/load.js';
import { HearthError } from '../../src/errors.js';

const nothing = async () => undefined;

describe('backendConfigOf', () => {
  test('every value is the loaded config, keep-alive in exact milliseconds', () => {
    const config = defaultConfig({
      overrides: {
        data_dir: '/var/lib/hearth',
        'backend.mode': 'engine',
        'backend.url': 'http://gpu.lan:11434/',
        'backend.ollama_path': '/opt/ollama',
        'backend.health_interval': '300ms',
        'backend.start_timeout': '7s',
        'backend.restart_initial_delay': '250ms',
        'backend.restart_max_delay': '9s',
        'engine.listen': '[::1]:11600',
        'engine.parallel': 3,
        'engine.max_queue': 9,
        'engine.num_ctx': 1024,
        'engine.threads': 5,
        'engine.gpu': 'cuda',
        'engine.keep_alive': '400ms',
      },
    });
    assert.deepEqual(backendConfigOf(config), {
      mode: 'engine',
      url: 'http://gpu.lan:11434',
      ollamaPath: '/opt/ollama',
      engine: {
        ...engineOwnDefaults,
        modelsDir: '/var/lib/hearth/models',
        listen: { host: '::1', port: 11600 },
        parallel: 3,
        maxQueue: 9,
        numCtx: 1024,
        threads: 5,
        gpu: 'cuda',
        keepAliveMs: 400,
        logLevel: 'warn',
      },
      healthIntervalMs: 300,
      startTimeoutMs: 7000,
      restart: { initialDelayMs: 250, maxDelayMs: 9000 },
    });
    assert.equal(backendConfigOf(defaultConfig({ overrides: { 'engine.keep_alive': '-1' } })).engine.keepAliveMs, Infinity);
  });

  test('the daemon below debug asks the engine for warnings only; at debug for its info lines', () => {
    for (const [level, engineLevel] of [['error', 'warn'], ['warn', 'warn'], ['info', 'warn'], ['debug', 'info']] as const) {
      assert.equal(backendConfigOf(defaultConfig({ overrides: { 'log.level': level } })).engine.logLevel, engineLevel, level);
    }
  });
});

describe('chooseBackend without a socket', () => {
  const base = (): BackendConfig => backendConfigOf(defaultConfig({ overrides: { data_dir: '/var/lib/hearth' } }));

  test('external is taken as given, without a trailing slash, and never probed', async () => {
    const launch = await chooseBackend({ config: { ...base(), mode: 'external', url: 'http://10.0.0.5:11434/' } });
    assert.deepEqual(launch, { kind: 'external', url: 'http://10.0.0.5:11434' });
  });

  test('bad settings are refused with invalid_request', async () => {
    const bad: BackendConfig[] = [
      { ...base(), mode: 'external', url: 'not a url' },
      { ...base(), mode: 'external', url: 'ftp://example.com' },
      { ...base(), mode: 'nope' as BackendConfig['mode'] },
    ];
    for (const config of bad) {
      await assert.rejects(chooseBackend({ config }), (err: HearthError) => err instanceof HearthError && err.kind === 'invalid_request' && err.code === 'invalid_config');
    }
  });

  test('mode ollama needs the executable', async () => {
    await assert.rejects(chooseBackend({ config: { ...base(), mode: 'ollama' }, findExecutable: nothing }), (err: HearthError) => err.code === 'ollama_not_found');
  });
});
