// The `hearth` command and the make-test-model script, run as real processes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { hearthBin, startEngineProcess, type EngineProcess } from '../helpers/engine-process.js';
import { testLoraPath, testModelPath } from '../helpers/test-model.js';
import { FLAGS } from '../../src/cli/admin-commands.js';

const run = promisify(execFile);
const makeTestModel = fileURLToPath(new URL('../../scripts/make-test-model.js', import.meta.url));

async function hearth(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [hearthBin, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('hearth --help lists the commands; an unknown command exits 2', async () => {
  const help = await hearth(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /engine/);
  assert.match(help.stdout, /models/);
  // Every flag an admin command takes is in its line of hearth --help and in its own --help.
  for (const [which, flags] of Object.entries(FLAGS)) {
    const command = which.split(' ')[0]!;
    const line = help.stdout.split('\n').find((l) => l.startsWith(`  ${command} `)) ?? '';
    const own = (await hearth([command, '--help'])).stdout;
    for (const flag of flags) {
      assert.ok(line.includes(`--${flag}`), `hearth --help names --${flag} of ${which}: ${line}`);
      assert.ok(own.includes(`--${flag}`), `hearth ${command} --help names --${flag} of ${which}`);
    }
  }
  const bad = await hearth(['frobnicate']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown command "frobnicate"/);
});

test('hearth engine --parent-pid stops at once when its starter is already gone (a daemon killed during its start)', async () => {
  // A process that has come and gone: its pid is nobody's parent now.
  const gone = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => gone.once('exit', r));
  const models = await mkdtemp(join(tmpdir(), 'hearth-orphan-'));
  try {
    const r = await hearth(['engine', '--models', models, '--listen', '127.0.0.1:0', '--parent-pid', String(gone.pid)]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the process that started it is gone/);
  } finally {
    await rm(models, { recursive: true, force: true });
  }
});

test('hearth engine rejects bad flags with a one-line message', async () => {
  const r = await hearth(['engine', '--models', '/tmp/x', '--parallel', 'zero']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--parallel must be an integer from 1 to 256 \(got "zero"\)/);
  assert.doesNotMatch(r.stderr, /at .*\.js/);
});

test('make-test-model writes the same bytes for a seed, other bytes for another', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-mtm-'));
  try {
    const out = (name: string, seed: string) => run(process.execPath, [makeTestModel, '--out', join(dir, name), '--seed', seed]);
    await out('a.gguf', '7');
    await out('b.gguf', '7');
    await out('c.gguf', '8');
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => readFile(join(dir, `${n}.gguf`))));
    assert.ok(a!.equals(b!));
    assert.ok(!a!.equals(c!));
    assert.equal(a!.subarray(0, 4).toString(), 'GGUF');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

describe('hearth models import', () => {
  let engine: EngineProcess;
  before(async () => {
    engine = await startEngineProcess();
  });
  after(async () => engine?.stop());

  test('imports a GGUF and an adapter through the Ollama API', async () => {
    const r = await hearth(['models', 'import', await testModelPath(), '--name', 'imported', '--backend', engine.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /imported imported \(sha256:[0-9a-f]{64}\)/);
    assert.match(r.stderr, /success/);
    assert.match(r.stderr, /^uploading \(/m);
    const a = await hearth(['models', 'import', await testLoraPath(), '--name', 'imported-lora', '--adapter-for', 'imported', '--backend', engine.url]);
    assert.equal(a.code, 0, a.stderr);
    const again = await hearth(['models', 'import', await testModelPath(), '--name', 'imported2', '--backend', engine.url]);
    assert.match(again.stderr, /already on the server/);
    assert.doesNotMatch(again.stderr, /^uploading/m, 'a blob the server has gets no upload bar');
    const tags = (await (await fetch(`${engine.url}/api/tags`)).json()) as { models: Array<{ name: string }> };
    assert.deepEqual(tags.models.map((m) => m.name).sort(), ['imported-lora:latest', 'imported2:latest', 'imported:latest']);
  });

  test('import errors are one line: missing file, bad name, unreachable server', async () => {
    const missing = await hearth(['models', 'import', '/nonexistent.gguf', '--name', 'x', '--backend', engine.url]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read/);
    const badName = await hearth(['models', 'import', await testModelPath(), '--name', '../x', '--backend', engine.url]);
    assert.notEqual(badName.code, 0);
    assert.match(badName.stderr, /invalid model name/);
    const down = await hearth(['models', 'import', await testModelPath(), '--name', 'x', '--backend', 'http://127.0.0.1:9']);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach/);
  });
});
