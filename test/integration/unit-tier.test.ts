// The unit tier's guard seen from outside, as `npm run test:unit` runs it: node --test with the
// guard as --import, on test files written to a temp dir. The runner must hand the preload to
// each file's own process (while it may itself still start them), and a file that opens a socket
// or starts a process fails, even where it catches the refusal.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

const GUARD = fileURLToPath(new URL('../helpers/unit-tier.js', import.meta.url));
const REFUSAL = 'unit tests open no sockets / start no processes: move this test to test/integration';

const files: Record<string, string> = {
  'pure.test.mjs': `
    import assert from 'node:assert/strict';
    import { test } from 'node:test';
    test('pure', () => assert.equal(1 + 1, 2));
  `,
  'listens.test.mjs': `
    import { createServer } from 'node:http';
    import { test } from 'node:test';
    test('listens', async () => {
      const server = createServer();
      server.listen(0, '127.0.0.1');
      server.close();
    });
  `,
  // A probe that takes any failure to start git for its absence would skip instead of failing.
  'probes.test.mjs': `
    import { execFileSync } from 'node:child_process';
    import { test } from 'node:test';
    test('probes', (t) => {
      try {
        execFileSync('git', ['--version']);
      } catch {
        return t.skip('no git');
      }
    });
  `,
  // What the guard's own test does: the refusals it provokes are taken, the file passes.
  'acknowledges.test.mjs': `
    import assert from 'node:assert/strict';
    import { spawn } from 'node:child_process';
    import { test } from 'node:test';
    test('acknowledges', async () => {
      assert.throws(() => spawn('true'), /child_process\\.spawn/);
      const { takeRefusals } = await import(${JSON.stringify(GUARD)});
      assert.deepEqual(takeRefusals(), ['child_process.spawn']);
    });
  `,
};

describe('the unit tier guard under node --test', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hearth-unit-tier-'));
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  /** Runs the files as `npm run test:unit` runs the tier; resolves with the exit code and output. */
  const runTier = (...names: string[]) =>
    new Promise<{ code: number; output: string }>((resolve) => {
      // Not this runner's context: the files' runner is a top-level one, as in npm run test:unit.
      const env = { ...process.env, NODE_TEST_CONTEXT: undefined };
      execFile(process.execPath, ['--test', '--import', GUARD, ...names.map((n) => join(dir, n))], { env, timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, output: stdout + stderr }),
      );
    });

  test('a pure file passes: the runner itself may start the files’ processes', async () => {
    const r = await runTier('pure.test.mjs');
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /# pass 1/);
  });

  test("a file that listens fails with the tier's reason, in the file's own process", async () => {
    const r = await runTier('listens.test.mjs');
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /net\.Server#listen: unit tests open no sockets/);
    assert.ok(r.output.includes(REFUSAL));
  });

  test('a file that catches the refusal fails all the same, naming what it tried', async () => {
    const r = await runTier('probes.test.mjs');
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /This file tried, even where it caught the error:\n#?\s*child_process\.execFileSync/);
  });

  test('refusals taken on purpose (the guard’s own test) leave the file passing', async () => {
    const r = await runTier('acknowledges.test.mjs', 'pure.test.mjs');
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /# pass 2/);
  });
});
