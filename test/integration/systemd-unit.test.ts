// systemd/hearth.service, checked by systemd itself: `systemd-analyze security --offline=yes`
// rates it at most 2.5, and `systemd-analyze verify` finds nothing to say. .ci/run installs
// Debian's systemd package where systemd-analyze is missing; elsewhere these skip, saying why.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/paths.js';
import { findExecutable } from '../../src/backend/find-executable.js';

const shippedUnit = join(packageRoot, 'systemd', 'hearth.service');
const MAX_EXPOSURE = 2.5;

function analyze(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('systemd-analyze', args, { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr });
    });
  });
}

describe('systemd/hearth.service', () => {
  let missing: string | undefined;
  let dir: string;
  before(async () => {
    if ((await findExecutable('systemd-analyze')) === undefined) missing = 'systemd-analyze is not installed (Debian: apt-get install systemd; .ci/run does)';
    dir = await mkdtemp(join(tmpdir(), 'hearth-unit-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test(`systemd-analyze security --offline=yes rates it at most ${MAX_EXPOSURE}`, async (t) => {
    if (missing) return t.skip(missing);
    const r = await analyze(['security', '--offline=yes', `--threshold=${MAX_EXPOSURE * 10}`, shippedUnit]);
    const level = /Overall exposure level for hearth\.service: (\d+\.\d)/.exec(r.output);
    assert.ok(level, r.output);
    assert.ok(Number(level[1]) <= MAX_EXPOSURE, `exposure ${level[1]} > ${MAX_EXPOSURE}; the settings that cost it:\n${r.output.split('\n').filter((l) => l.startsWith('✗')).join('\n')}`);
    assert.equal(r.code, 0, 'and --threshold agrees');
  });

  // verify checks that ExecStart's program exists. The shipped unit names /usr/bin/node, which the
  // installer replaces by the node it checked; so the unit verified is the one installed here:
  // this node in ExecStart, nothing else changed. Every other message (a misspelt setting, a bad
  // value, a missing dependency) is a failure.
  test('systemd-analyze verify has nothing to say about it, as installed with this machine\'s node', async (t) => {
    if (missing) return t.skip(missing);
    const shipped = await readFile(shippedUnit, 'utf8');
    assert.match(shipped, /^ExecStart=\/usr\/bin\/node \/opt\/hearth\/bin\/hearth\.js serve /m);
    const installed = join(dir, 'hearth.service');
    await writeFile(installed, shipped.replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${realpathSync(process.execPath)} `));
    const r = await analyze(['verify', installed]);
    assert.equal(r.output.trim(), '', 'no messages');
    assert.equal(r.code, 0);
  });

  test('it keeps what Hearth needs to run: V8\'s JIT, the GPUs by name, the credential, one writable dir', async () => {
    const unit = await readFile(shippedUnit, 'utf8');
    const settings = unit.split('\n').filter((l) => /^[A-Z]/.test(l));
    // node dies at start under MemoryDenyWriteExecute=true; the reason is written beside it.
    assert.ok(settings.includes('MemoryDenyWriteExecute=false'));
    assert.match(unit, /V8 .*JIT.*\n(#.*\n)*MemoryDenyWriteExecute=false/);
    assert.ok(settings.includes('DevicePolicy=closed'), 'devices: only those allowed');
    assert.deepEqual(settings.filter((l) => l.startsWith('DeviceAllow=')), ['DeviceAllow=char-nvidia* rw', 'DeviceAllow=char-drm rw']);
    assert.ok(!settings.includes('PrivateDevices=true'), 'a private /dev would hide the GPU nodes');
    assert.ok(settings.includes('LoadCredential=server-secret:/etc/hearth/server-secret'));
    assert.ok(settings.includes('ProtectSystem=strict') && settings.includes('StateDirectory=hearth'), 'the data dir is the only writable path');
    assert.deepEqual(settings.filter((l) => l.startsWith('ReadWritePaths=')), []);
    assert.ok(settings.includes('StandardOutput=journal'));
  });
});
