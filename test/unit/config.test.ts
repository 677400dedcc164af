import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { envVars, renderEnvTable } from '../../src/config/env.js';
import { renderConfigExample } from '../../src/config/example.js';
import { formatDuration, parseDuration } from '../../src/config/kinds.js';
import { ConfigError, defaultConfig, loadConfig, redactedConfig, type LoadConfigOptions } from '../../src/config/load.js';
import { configSchema, fieldOf, type ConfigField, type ConfigKey, type HearthConfig } from '../../src/config/schema.js';
import { packageRoot } from '../../src/paths.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-config-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
/** Writes a YAML file in the temp dir (or a sub-folder) and returns its path. */
function yamlFile(content: string, sub = ''): string {
  const folder = join(dir, sub);
  mkdirSync(folder, { recursive: true });
  const file = join(folder, `config-${++fileCount}.yaml`);
  writeFileSync(file, content);
  return file;
}

/** Loads isolated from the machine: no process.env, no /etc/hearth/config.yaml, a fixed CWD. */
const load = (options: LoadConfigOptions = {}) => loadConfig({ env: {}, defaultFile: null, cwd: '/srv/hearth', ...options });

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.name, 'ConfigError');
    assert.equal(err.message, err.problems.join('\n'));
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

/** Asserts exactly one problem, that it names `key`, and returns it. */
function oneProblem(fn: () => unknown, key: string): string {
  const problems = problemsOf(fn);
  assert.equal(problems.length, 1, problems.join('\n'));
  const problem = problems[0] as string;
  assert.ok(problem.startsWith(`config: ${key}: `), problem);
  return problem;
}

const defaults: HearthConfig = {
  listen: { host: '127.0.0.1', port: 8080 },
  dataDir: '/srv/hearth/data',
  timezone: 'UTC',
  publicBaseUrl: '',
  log: { level: 'info' },
  backend: {
    mode: 'auto',
    url: 'http://127.0.0.1:11434',
    ollamaPath: 'ollama',
    healthInterval: 2000,
    startTimeout: 60_000,
    restartInitialDelay: 500,
    restartMaxDelay: 30_000,
    requestTimeout: 600_000,
  },
  engine: {
    listen: { host: '127.0.0.1', port: 11435 },
    parallel: 2,
    maxQueue: 64,
    numCtx: 2048,
    threads: 0,
    gpu: 'auto',
    keepAlive: 300_000,
    demoModel: true,
  },
  limits: {
    maxBody: 1024 * 1024,
    maxMessages: 256,
    maxTokens: 16384,
    maxContext: 32768,
    streamHeartbeat: 5000,
    shutdownDrain: 30_000,
    receiveTimeout: 300_000,
    maxConnections: 1024,
    maxConnectionsPerClient: 128,
    backendSlots: 0,
    maxWaiting: 256,
    maxWaitingPerWorkspace: 64,
    maxBlob: 64 * 1024 ** 3,
    blobQuotaPerWorkspace: 128 * 1024 ** 3,
  },
  finetune: { maxDatasetBytes: 32 * 1024 * 1024, maxDatasetRecords: 100_000, datasetQuota: 256 * 1024 * 1024, maxUploads: 2, trainer: 'llamacpp', python: 'python3', hfModelsDir: '', concurrency: 1, maxQueued: 32, maxQueuedPerWorkspace: 8, maxStartDelay: 168 * 3600_000, threads: 0, stopTimeout: 5000 },
  secrets: { store: 'file' },
  console: { sessionTtl: 12 * 3600_000, maxSessions: 16, signInAttempts: 5, lockoutDelay: 1000, lockoutMax: 15 * 60_000 },
  metrics: { tokenFile: '', openOnLoopback: false },
  backup: { enabled: true, schedule: '0 3 * * *', keep: 7, dir: '' },
  retention: { requestLog: 90, jobLogs: 90 },
  dev: { validateResponses: false },
};

describe('config defaults', () => {
  it('are the embedded defaults, durations in ms and sizes in bytes, data_dir absolute', () => {
    assert.deepEqual(load(), defaults);
  });

  it('reads the default file only if it exists', () => {
    assert.deepEqual(load({ defaultFile: join(dir, 'absent.yaml') }), defaults);
    const file = yamlFile('engine:\n  parallel: 3\n');
    assert.equal(load({ defaultFile: file }).engine.parallel, 3);
  });

  it('accepts an empty file and sections whose keys are all commented out', () => {
    assert.deepEqual(load({ file: yamlFile('') }).engine, defaults.engine);
    assert.deepEqual(load({ file: yamlFile('# nothing\nengine:\n  # parallel: 4\nlimits:\n') }).engine, defaults.engine);
  });

  it('defaultConfig: the defaults with the given overrides, whatever the environment and /etc say', () => {
    const saved = process.env['HEARTH_ENGINE_PARALLEL'];
    process.env['HEARTH_ENGINE_PARALLEL'] = '7';
    try {
      assert.deepEqual(defaultConfig({ cwd: '/srv/hearth' }), defaults);
      const c = defaultConfig({ cwd: '/srv/hearth', overrides: { 'engine.keep_alive': '400ms', data_dir: '/var/lib/hearth' } });
      assert.deepEqual(c, { ...defaults, dataDir: '/var/lib/hearth', engine: { ...defaults.engine, keepAlive: 400 } });
      assert.throws(() => defaultConfig({ overrides: { 'engine.gpu': 'metal' } }), ConfigError);
    } finally {
      if (saved === undefined) delete process.env['HEARTH_ENGINE_PARALLEL'];
      else process.env['HEARTH_ENGINE_PARALLEL'] = saved;
    }
  });
});

describe('config file', () => {
  it('overrides defaults, converting each kind', () => {
    const file = yamlFile(`
listen: 0.0.0.0:9000
timezone: europe/paris
public_base_url: https://ai.example.com/
log:
  level: debug
backend:
  mode: external
  url: http://user:pw@gpu-box:11434/
  health_interval: 1m30s
engine:
  listen: "[::1]:11500"
  parallel: 4
  gpu: "off"
  keep_alive: -1
  demo_model: false
limits:
  max_body: 512kb
  max_tokens: 4096
secrets:
  store: keychain
`);
    const c = load({ file });
    assert.deepEqual(c.listen, { host: '0.0.0.0', port: 9000 });
    assert.equal(c.timezone, 'Europe/Paris');
    assert.equal(c.publicBaseUrl, 'https://ai.example.com');
    assert.equal(c.log.level, 'debug');
    assert.equal(c.backend.mode, 'external');
    assert.equal(c.backend.url, 'http://user:pw@gpu-box:11434');
    assert.equal(c.backend.healthInterval, 90_000);
    assert.deepEqual(c.engine.listen, { host: '::1', port: 11500 });
    assert.equal(c.engine.parallel, 4);
    assert.equal(c.engine.gpu, 'off');
    assert.equal(c.engine.keepAlive, Infinity);
    assert.equal(c.engine.demoModel, false);
    assert.equal(c.limits.maxBody, 512 * 1024);
    assert.equal(c.limits.maxTokens, 4096);
    assert.equal(c.secrets.store, 'keychain');
    // Keys the file does not set keep their defaults.
    assert.equal(c.engine.numCtx, 2048);
    assert.equal(c.backend.requestTimeout, 600_000);
  });

  it('--config beats HEARTH_CONFIG, which beats the default file', () => {
    const a = yamlFile('engine:\n  parallel: 5\n');
    const b = yamlFile('engine:\n  parallel: 6\n');
    const c = yamlFile('engine:\n  parallel: 7\n');
    assert.equal(load({ file: a, env: { HEARTH_CONFIG: b }, defaultFile: c }).engine.parallel, 5);
    assert.equal(load({ env: { HEARTH_CONFIG: b }, defaultFile: c }).engine.parallel, 6);
    assert.equal(load({ defaultFile: c }).engine.parallel, 7);
  });

  it('a missing file named by --config or HEARTH_CONFIG is an error', () => {
    const missing = join(dir, 'nope.yaml');
    assert.match(oneProblem(() => load({ file: missing }), '--config'), /file not found: .*nope\.yaml$/);
    assert.match(oneProblem(() => load({ env: { HEARTH_CONFIG: missing } }), 'HEARTH_CONFIG'), /file not found/);
  });

  it('reports YAML syntax errors with the file', () => {
    const file = yamlFile('engine:\n  parallel: 2\n  parallel: 3\n');
    const [problem] = problemsOf(() => load({ file }));
    assert.match(problem as string, /^config: YAML syntax error: Map keys must be unique.* in .*config-\d+\.yaml$/);
  });

  it('refuses a top level or a section that is not a mapping', () => {
    assert.match(oneProblem(() => load({ file: yamlFile('- a\n- b\n') }), 'the file'), /must be a mapping/);
    assert.match(oneProblem(() => load({ file: yamlFile('engine: 4\n') }), 'engine'), /must be a mapping of keys in .*:1$/);
  });

  it('refuses a key with no value instead of guessing', () => {
    assert.match(oneProblem(() => load({ file: yamlFile('engine:\n  parallel:\n') }), 'engine.parallel'), /has no value/);
  });
});

describe('config unknown keys', () => {
  it('names an unknown top-level key, its file and line', () => {
    const file = yamlFile('listen: 127.0.0.1:8080\nlisten_port: 80\n');
    const problem = oneProblem(() => load({ file }), 'listen_port');
    assert.equal(problem, `config: listen_port: unknown key in ${file}:2`);
  });

  it('names an unknown nested key, with a suggestion for a typo', () => {
    const file = yamlFile('engine:\n  parallel: 2\n  paralel: 4\n');
    assert.equal(oneProblem(() => load({ file }), 'engine.paralel'), `config: engine.paralel: unknown key (did you mean engine.parallel?) in ${file}:3`);
  });

  it('names an unknown section and a key under a leaf', () => {
    const problems = problemsOf(() => load({ file: yamlFile('telemetry:\n  enabled: true\nlog:\n  level:\n    name: info\n') }));
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.match(problems[0] as string, /^config: telemetry: unknown key in /);
    assert.match(problems[1] as string, /^config: log\.level: must be one of error, warn, info, debug \(got \{"name":"info"\}\)/);
  });

  it('names an unknown HEARTH_ variable and ignores unrelated ones', () => {
    const env = { HEARTH_LISTN: '0.0.0.0:80', PATH: '/usr/bin', OLLAMA_HOST: 'x', hearth_listen: 'lower case is not ours' };
    const problem = oneProblem(() => load({ env }), 'HEARTH_LISTN');
    assert.match(problem, /unknown environment variable \(did you mean HEARTH_LISTEN\? known: HEARTH_CONFIG, /);
    assert.deepEqual(load({ env: { PATH: '/usr/bin', HOME: '/root', OLLAMA_HOST: '0.0.0.0' } }), defaults);
  });

  it('names an unknown override key', () => {
    assert.match(oneProblem(() => load({ overrides: { 'engine.parallell': 2 } as never }), 'engine.parallell'), /unknown key .* from the command line$/);
  });
});

describe('config environment and command line', () => {
  it('environment variables override the file', () => {
    const file = yamlFile('listen: 127.0.0.1:7000\nengine:\n  threads: 2\n  gpu: cuda\n');
    const c = load({
      file,
      env: {
        HEARTH_LISTEN: '0.0.0.0:8081',
        HEARTH_TIMEZONE: 'America/New_York',
        HEARTH_LOG_LEVEL: 'warn',
        HEARTH_BACKEND_MODE: 'ollama',
        HEARTH_BACKEND_URL: 'http://10.0.0.2:11434',
        HEARTH_ENGINE_LISTEN: '127.0.0.1:12000',
        HEARTH_ENGINE_GPU: 'vulkan',
        HEARTH_ENGINE_THREADS: '6',
        HEARTH_ENGINE_KEEP_ALIVE: '0',
        HEARTH_PUBLIC_BASE_URL: 'https://hearth.example.org',
      },
    });
    assert.deepEqual(c.listen, { host: '0.0.0.0', port: 8081 });
    assert.equal(c.timezone, 'America/New_York');
    assert.equal(c.log.level, 'warn');
    assert.equal(c.backend.mode, 'ollama');
    assert.equal(c.backend.url, 'http://10.0.0.2:11434');
    assert.deepEqual(c.engine.listen, { host: '127.0.0.1', port: 12000 });
    assert.equal(c.engine.gpu, 'vulkan');
    assert.equal(c.engine.threads, 6);
    assert.equal(c.engine.keepAlive, 0);
    assert.equal(c.publicBaseUrl, 'https://hearth.example.org');
  });

  it('an empty variable counts as unset', () => {
    const file = yamlFile('listen: 127.0.0.1:7000\n');
    assert.equal(load({ file, env: { HEARTH_LISTEN: '', HEARTH_CONFIG: '' } }).listen.port, 7000);
  });

  it('command-line overrides beat environment and file; undefined flags are ignored', () => {
    const file = yamlFile('listen: 127.0.0.1:7001\ndata_dir: /var/lib/file\n');
    const env = { HEARTH_LISTEN: '127.0.0.1:7002', HEARTH_DATA_DIR: '/var/lib/env' };
    const both = load({ file, env, overrides: { listen: '127.0.0.1:7003', data_dir: '/var/lib/cli' } });
    assert.equal(both.listen.port, 7003);
    assert.equal(both.dataDir, '/var/lib/cli');
    const envOnly = load({ file, env, overrides: { listen: undefined } });
    assert.equal(envOnly.listen.port, 7002);
    assert.equal(envOnly.dataDir, '/var/lib/env');
    assert.equal(load({ file }).listen.port, 7001);
    assert.equal(load({ overrides: { 'engine.parallel': 8, 'engine.demo_model': 'false' } }).engine.parallel, 8);
  });

  it('reports an invalid environment value with its variable', () => {
    const problem = oneProblem(() => load({ env: { HEARTH_ENGINE_THREADS: 'many' } }), 'engine.threads');
    assert.equal(problem, 'config: engine.threads: must be an integer from 0 to 1024 (got "many") from HEARTH_ENGINE_THREADS');
  });
});

describe('config invalid values name their key', () => {
  const inFile = (yaml: string) => () => load({ file: yamlFile(yaml) });

  it('integer: not a number, and out of range', () => {
    const file = yamlFile('engine:\n  parallel: two\n');
    assert.equal(oneProblem(() => load({ file }), 'engine.parallel'), `config: engine.parallel: must be an integer from 1 to 256 (got "two") in ${file}:2`);
    assert.match(oneProblem(inFile('engine:\n  parallel: 0\n'), 'engine.parallel'), /from 1 to 256 \(got 0\)/);
    assert.match(oneProblem(inFile('engine:\n  num_ctx: 2048.5\n'), 'engine.num_ctx'), /must be an integer/);
    assert.match(oneProblem(inFile('limits:\n  max_tokens: 99999999\n'), 'limits.max_tokens'), /from 1 to 1048576/);
  });

  it('duration: no unit, unknown unit, below the minimum', () => {
    assert.match(oneProblem(inFile('backend:\n  start_timeout: 60\n'), 'backend.start_timeout'), /must be a duration ≥ 1s such as "5s".* \(got 60\)/);
    assert.match(oneProblem(inFile('backend:\n  start_timeout: 1 minute\n'), 'backend.start_timeout'), /must be a duration/);
    assert.match(oneProblem(inFile('backend:\n  health_interval: 10ms\n'), 'backend.health_interval'), /≥ 100ms/);
    assert.match(oneProblem(inFile('engine:\n  keep_alive: soon\n'), 'engine.keep_alive'), /or -1 for forever/);
  });

  it('enum', () => {
    assert.match(oneProblem(inFile('engine:\n  gpu: metal\n'), 'engine.gpu'), /must be one of auto, off, cuda, vulkan \(got "metal"\)/);
    assert.match(oneProblem(inFile('log:\n  level: verbose\n'), 'log.level'), /must be one of error, warn, info, debug/);
  });

  it('host:port', () => {
    for (const bad of ['8080', ':8080', 'localhost', 'localhost:99999', '::1:8080', '[nothost]:80', 'a b:80']) {
      assert.match(oneProblem(() => load({ overrides: { listen: bad } }), 'listen'), /must be HOST:PORT/, bad);
    }
    assert.match(oneProblem(inFile('listen: 8080\n'), 'listen'), /must be HOST:PORT .* \(got 8080\)/);
  });

  it('cron schedule and retention days', () => {
    assert.equal(load({ overrides: { 'backup.schedule': '30 2 * * 1-5' } }).backup.schedule, '30 2 * * 1-5');
    assert.match(oneProblem(inFile('backup:\n  schedule: "61 3 * * *"\n'), 'backup.schedule'), /five fields .* \(got "61 3 \* \* \*"\)/);
    assert.match(oneProblem(inFile('backup:\n  schedule: "0 0 3 * * *"\n'), 'backup.schedule'), /five fields/, 'six fields (seconds first) are refused');
    const retention = (v: string | number) => load({ overrides: { 'retention.request_log': v } }).retention.requestLog;
    assert.equal(retention('30d'), 30);
    assert.equal(retention(7), 7);
    assert.equal(retention('keep'), Infinity);
    assert.match(oneProblem(inFile('retention:\n  job_logs: 0\n'), 'retention.job_logs'), /"90d" \(at least 1\), or "keep"/);
    assert.equal(load({ overrides: { data_dir: '/srv/h', 'backup.dir': 'b' }, cwd: '/etc/hearth' }).backup.dir, '/etc/hearth/b', 'a relative backup.dir resolves like any path');
  });

  it('time zone', () => {
    assert.match(oneProblem(inFile('timezone: Mars/Olympus_Mons\n'), 'timezone'), /must be an IANA time zone .* \(got "Mars\/Olympus_Mons"\)/);
  });

  it('URL, size, boolean, path, command', () => {
    assert.match(oneProblem(inFile('backend:\n  url: ftp://x\n'), 'backend.url'), /http:\/\/ or https:\/\//);
    assert.match(oneProblem(inFile('backend:\n  url: ""\n'), 'backend.url'), /http:\/\/ or https:\/\//);
    assert.match(oneProblem(inFile('public_base_url: https://x/?a=1\n'), 'public_base_url'), /without \?query/);
    assert.match(oneProblem(inFile('limits:\n  max_body: 1tb\n'), 'limits.max_body'), /from 1kb to 1gb/);
    assert.match(oneProblem(inFile('limits:\n  max_body: 10\n'), 'limits.max_body'), /from 1kb to 1gb/);
    assert.match(oneProblem(inFile('engine:\n  demo_model: yes please\n'), 'engine.demo_model'), /true or false/);
    assert.match(oneProblem(inFile('data_dir: ~/hearth\n'), 'data_dir'), /without ~/);
    assert.match(oneProblem(inFile('backend:\n  ollama_path: ""\n'), 'backend.ollama_path'), /command name or a path/);
  });

  // One bad value per key, so a key added to the schema must come with a test of its refusal.
  const badValue: Record<ConfigKey, unknown> = {
    'dev.validate_responses': 'sometimes',
    listen: 'localhost',
    data_dir: '',
    timezone: 'Nowhere/Special',
    public_base_url: 'not a url',
    'log.level': 'trace',
    'backend.mode': 'cloud',
    'backend.url': 'localhost:11434',
    'backend.ollama_path': 42,
    'backend.health_interval': '2',
    'backend.start_timeout': '100ms',
    'backend.restart_initial_delay': '0',
    'backend.restart_max_delay': '30 s',
    'backend.request_timeout': -5,
    'engine.listen': '127.0.0.1:-1',
    'engine.parallel': 1.5,
    'engine.max_queue': 0,
    'engine.num_ctx': 16,
    'engine.threads': -1,
    'engine.gpu': 'rocm',
    'engine.keep_alive': '5 minutes',
    'engine.demo_model': 'maybe',
    'finetune.max_dataset_bytes': '512b',
    'finetune.max_dataset_records': 0,
    'finetune.dataset_quota': '2tb',
    'finetune.max_uploads': 0,
    'finetune.trainer': 'axolotl',
    'finetune.python': '',
    'finetune.hf_models_dir': '~/models',
    'finetune.concurrency': 0,
    'finetune.max_queued': 'many',
    'finetune.max_queued_per_workspace': 0,
    'finetune.max_start_delay': '7 days',
    'finetune.threads': -2,
    'finetune.stop_timeout': '10',
    'limits.max_body': '1 parsec',
    'limits.max_messages': 'all',
    'limits.max_tokens': 0,
    'limits.stream_heartbeat': '0',
    'limits.shutdown_drain': '-1s',
    'limits.receive_timeout': '500ms',
    'limits.max_connections': 0,
    'limits.max_connections_per_client': 'unlimited',
    'limits.max_context': 100,
    'limits.backend_slots': -1,
    'limits.max_waiting': 0,
    'limits.max_waiting_per_workspace': 'lots',
    'limits.max_blob': '2048gb',
    'limits.blob_quota_per_workspace': '512b',
    'secrets.store': 'vault',
    'console.session_ttl': '500ms',
    'console.max_sessions': 0,
    'console.sign_in_attempts': 'five',
    'console.lockout_delay': '0s',
    'console.lockout_max': 'forever',
    'metrics.token_file': '~/metrics-token',
    'metrics.open_on_loopback': 'loopback',
    'backup.enabled': 'daily',
    'backup.schedule': '0 0 3 * * *',
    'backup.keep': 0,
    'backup.dir': '~/backups',
    'retention.request_log': '0d',
    'retention.job_logs': '90 days',
  };

  it('every key refuses a bad value and names itself', () => {
    assert.deepEqual(Object.keys(badValue).sort(), configSchema.map((f) => f.key).sort());
    for (const [key, value] of Object.entries(badValue)) {
      const problem = oneProblem(() => load({ overrides: { [key]: value } as never }), key);
      assert.match(problem, / \(got .+\) from the command line$/, problem);
    }
  });

  it('reports several problems together, from every source', () => {
    const file = yamlFile('engine:\n  parallel: two\n  gpu: metal\nbogus: 1\ntimezone: Mars/Base\n');
    const problems = problemsOf(() => load({ file, env: { HEARTH_ENGINE_THREADS: 'x', HEARTH_NOPE: '1' }, overrides: { listen: 'nowhere' } }));
    const keys = problems.map((p) => /^config: ([^:]+):/.exec(p)?.[1]);
    assert.deepEqual(keys, ['engine.parallel', 'engine.gpu', 'bogus', 'timezone', 'engine.threads', 'HEARTH_NOPE', 'listen']);
  });

  it('checks rules across keys', () => {
    assert.match(
      oneProblem(() => load({ overrides: { 'backend.restart_initial_delay': '1m', 'backend.restart_max_delay': '30s' } }), 'backend.restart_max_delay'),
      /must be ≥ backend.restart_initial_delay/,
    );
    assert.match(oneProblem(() => load({ overrides: { listen: '0.0.0.0:11435' } }), 'engine.listen'), /port of listen \(11435\)/);
    // Without the engine, or with port 0 (a free port each), there is no clash.
    assert.equal(load({ overrides: { listen: '0.0.0.0:11435', 'backend.mode': 'external' } }).listen.port, 11435);
    assert.equal(load({ overrides: { listen: '127.0.0.1:0', 'engine.listen': '127.0.0.1:0' } }).listen.port, 0);
    // A bad value is reported once, not again by a rule that reads it.
    oneProblem(() => load({ overrides: { 'backend.restart_max_delay': 'x' } }), 'backend.restart_max_delay');
  });
});

describe('config result', () => {
  it('is deeply frozen', () => {
    const c = load();
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.engine) && Object.isFrozen(c.engine.listen) && Object.isFrozen(c.listen));
    assert.throws(() => {
      (c as { dataDir: string }).dataDir = '/tmp';
    }, TypeError);
    assert.throws(() => {
      (c.engine as { parallel: number }).parallel = 99;
    }, TypeError);
    assert.throws(() => {
      (c.listen as { port: number }).port = 1;
    }, TypeError);
    assert.throws(() => {
      (c as unknown as Record<string, unknown>).extra = 1;
    }, TypeError);
  });

  it('resolves data_dir against the config file folder, or the CWD for env, flags and default', () => {
    const file = yamlFile('data_dir: ../state\n', 'etc/hearth');
    assert.equal(load({ file }).dataDir, join(dir, 'etc/state'));
    assert.equal(load({ file: yamlFile('data_dir: /var/lib/hearth\n') }).dataDir, '/var/lib/hearth');
    assert.equal(load({ env: { HEARTH_DATA_DIR: 'var/data' } }).dataDir, '/srv/hearth/var/data');
    assert.equal(load({ overrides: { data_dir: '../x' } }).dataDir, '/srv/x');
    assert.equal(load({ file: yamlFile('listen: 127.0.0.1:1\n', 'elsewhere') }).dataDir, '/srv/hearth/data');
    // A relative --config is relative to the CWD too.
    assert.equal(load({ cwd: dir, file: 'etc/hearth/' + file.split('/').pop() }).dataDir, join(dir, 'etc/state'));
  });

  it('keeps a bare ollama_path for PATH lookup and resolves one with a slash', () => {
    assert.equal(load({ file: yamlFile('backend:\n  ollama_path: ollama-rocm\n') }).backend.ollamaPath, 'ollama-rocm');
    const file = yamlFile('backend:\n  ollama_path: ./bin/ollama\n', 'opt');
    assert.equal(load({ file }).backend.ollamaPath, join(dir, 'opt/bin/ollama'));
  });

  it('redacts secret keys and URL passwords for logging, leaving the config as is', () => {
    const c = load({ overrides: { 'backend.url': 'http://admin:s3cret@gpu:11434' } });
    const shown = redactedConfig(c);
    assert.equal(shown.backend.url, 'http://admin:***@gpu:11434');
    assert.equal(c.backend.url, 'http://admin:s3cret@gpu:11434');
    assert.ok(Object.isFrozen(shown.backend));
    assert.doesNotMatch(JSON.stringify(shown), /s3cret/);
    assert.equal(redactedConfig(load()).backend.url, 'http://127.0.0.1:11434');

    // A key marked secret is replaced; the daemon's schema has none today, so mark one here.
    const withSecret: ConfigField[] = configSchema.map((f) => (f.key === 'backend.ollama_path' ? { ...f, secret: true as const } : f));
    assert.equal(redactedConfig(c, withSecret).backend.ollamaPath, '[redacted]');
    assert.equal(redactedConfig(c, withSecret).engine.parallel, 2);
  });
});

describe('config schema, example and env docs', () => {
  it('every default parses and every key is unique, described and snake_case', () => {
    const keys = configSchema.map((f) => f.key);
    assert.equal(new Set(keys).size, keys.length);
    for (const f of configSchema) {
      assert.match(f.key, /^[a-z_]+(\.[a-z_]+)?$/);
      assert.ok(f.description.length > 10 && !f.description.includes('\n'), f.key);
      assert.ok(f.kind.parse(f.default, { baseDir: '/' }).ok, f.key);
    }
  });

  it('the committed config.example.yaml is the rendered schema', () => {
    const committed = readFileSync(join(packageRoot, 'config.example.yaml'), 'utf8');
    assert.equal(committed, renderConfigExample(), 'regenerate: node dist/scripts/config-example.js > config.example.yaml');
    for (const f of configSchema) assert.ok(committed.includes(`${f.key.split('.').pop()}: `), f.key);
  });

  it("the README's table of environment variables is the rendered one", () => {
    const readme = readFileSync(join(packageRoot, 'README.md'), 'utf8');
    assert.ok(readme.includes(renderEnvTable()), 'regenerate: node dist/scripts/config-example.js --env-table, and paste it into the README');
  });

  it('loading config.example.yaml yields exactly the defaults', () => {
    const file = join(packageRoot, 'config.example.yaml');
    assert.deepEqual(loadConfig({ file, env: {}, defaultFile: null, cwd: packageRoot }), loadConfig({ env: {}, defaultFile: null, cwd: packageRoot }));
  });

  it('env vars are named after their key and cover the documented list', () => {
    for (const v of envVars) {
      if (v.key === null) continue;
      assert.ok(fieldOf(v.key), v.name);
      assert.equal(v.name, `HEARTH_${v.key.toUpperCase().replace(/\./g, '_')}`);
      assert.equal(v.description, fieldOf(v.key)?.description);
    }
    const names = envVars.map((v) => v.name);
    assert.equal(new Set(names).size, names.length);
    for (const required of [
      'HEARTH_CONFIG', 'HEARTH_DATA_DIR', 'HEARTH_LISTEN', 'HEARTH_TIMEZONE', 'HEARTH_LOG_LEVEL', 'HEARTH_BACKEND_MODE',
      'HEARTH_BACKEND_URL', 'HEARTH_ENGINE_LISTEN', 'HEARTH_ENGINE_GPU', 'HEARTH_ENGINE_THREADS', 'HEARTH_PUBLIC_BASE_URL',
    ]) {
      assert.ok(names.includes(required), required);
    }
    const table = renderEnvTable();
    assert.match(table, /^\| Variable \| Config key \| Default \| Description \|\n\| --- \| --- \| --- \| --- \|\n/);
    for (const name of names) assert.ok(table.includes(`| \`${name}\` |`), name);
    assert.match(table, /\| `HEARTH_ENGINE_THREADS` \| `engine\.threads` \| `0` \| /);
  });

  it('durations parse and format in Go style', () => {
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('10'), undefined);
    assert.equal(parseDuration('5 m'), undefined);
    assert.equal(formatDuration(60_000), '1m');
    assert.equal(formatDuration(1500), '1500ms');
  });
});
