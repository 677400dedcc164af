import assert from 'node:assert/strict';
import childProcess, { execFileSync, spawn } from 'node:child_process';
import { createServer, get } from 'node:http';
import net, { connect } from 'node:net';
import { Worker } from 'node:worker_threads';
import { afterEach, test } from 'node:test';

// The guard (test/helpers/unit-tier.ts) is loaded by `npm run test:unit` before this file, not
// imported here: these tests prove that the tier's preload is in force in a test file's process.
// What it does with a refusal that a test catches, and that the runner hands the preload to each
// file's process, is tested from outside in test/integration/unit-tier.test.ts.

// The refusals each test provokes on purpose are taken, so that they do not fail the file. The
// guard is imported only now, after they happened: the same module instance as the preload.
afterEach(async () => {
  const { takeRefusals } = await import('../helpers/unit-tier.js');
  takeRefusals();
});

const refused = (what: RegExp) => (err: unknown) =>
  err instanceof Error && err.name === 'UnitTierViolation' && what.test(err.message) && /move this test to test\/integration/.test(err.message);

test("an attempt to listen is refused, through http servers (as express's app.listen) and plain net servers alike", () => {
  for (const server of [createServer(), net.createServer()]) {
    try {
      assert.throws(() => server.listen(0, '127.0.0.1'), refused(/net\.Server#listen/));
    } finally {
      // Reached only where the guard is missing and the listen went through.
      server.close();
    }
    assert.equal(server.listening, false);
  }
});

test('an attempt to connect is refused, by net, by http clients and by fetch', async () => {
  assert.throws(() => connect(9, '127.0.0.1'), refused(/net\./));
  assert.throws(() => new net.Socket().connect(9, '127.0.0.1'), refused(/net\.Socket#connect/));
  assert.throws(() => get('http://127.0.0.1:9/'), refused(/net\.createConnection/));
  await assert.rejects(async () => fetch('http://127.0.0.1:9/'), refused(/fetch\(http:\/\/127\.0\.0\.1:9\/\)/));
});

test('starting a process or a worker is refused, whether imported by name or through the module', () => {
  assert.throws(() => spawn(process.execPath, ['-e', '']), refused(/child_process\.spawn/));
  assert.throws(() => childProcess.fork('nothing.js'), refused(/child_process\.fork/));
  assert.throws(() => childProcess.exec('true'), refused(/child_process\.exec/));
  assert.throws(() => execFileSync(process.execPath, ['-e', '']), refused(/child_process\.execFileSync/));
  assert.throws(() => new Worker('process.exit(0)', { eval: true }), refused(/worker_threads\.Worker/));
});
