// installer/install.sh, run for real into a temporary root (--root, as packagers use DESTDIR):
// install, upgrade over it, a refused upgrade, the installed code serving, uninstall, purge, and
// the refusals before anything is installed. No network: --node-modules links this checkout's
// node_modules instead of npm ci. Under --root every file belongs to the user running it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { appendFile, chmod, chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../src/paths.js';
import { productEnv, startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';

const installer = join(packageRoot, 'installer', 'install.sh');
const nodeModules = join(packageRoot, 'node_modules');
/** The node the installer must find and write into the unit: this one, first on PATH. */
const nodeDir = dirname(process.execPath);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function sh(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 300_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function install(root: string, args: string[] = [], path = `${nodeDir}:${process.env.PATH ?? ''}`): Promise<Run> {
  return sh('bash', [installer, '--root', root, ...args], productEnv({ PATH: path }));
}

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

/** A loopback port free right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe('installer/install.sh into a temporary root', () => {
  let root: string;
  let port: number;
  let daemon: DaemonProcess | undefined;
  const p = (path: string) => join(root, path);
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hearth-install-'));
    port = await freePort();
  });
  after(async () => {
    await daemon?.stop();
    await rm(root, { recursive: true, force: true });
  });

  test('a fresh install lays out code, config, secret, data dir and unit, with their modes, and prints the next steps', async () => {
    const r = await install(root, ['--node-modules', nodeModules, '--listen', `127.0.0.1:${port}`]);
    assert.equal(r.code, 0, r.stderr);

    for (const f of ['bin/hearth.js', 'dist/src/cli/main.js', 'dist/console/index.html', 'src/db/migrations/0001_init.sql', 'openapi/hearth.yaml']) {
      assert.ok(existsSync(p(`opt/hearth/${f}`)), `/opt/hearth/${f} installed`);
    }
    assert.equal(realpathSync(p('opt/hearth/node_modules')), realpathSync(nodeModules), 'node_modules is the one given, linked');
    assert.equal(await mode(p('opt/hearth/bin/hearth-admin')), 0o755);
    assert.match(await readFile(p('opt/hearth/bin/hearth-admin'), 'utf8'), new RegExp(`^NODE=${realpathSync(process.execPath)}$`, 'm'));

    assert.equal(await mode(p('etc/hearth')), 0o750);
    assert.equal(await mode(p('etc/hearth/config.yaml')), 0o640);
    const config = await readFile(p('etc/hearth/config.yaml'), 'utf8');
    assert.match(config, /^data_dir: \/var\/lib\/hearth$/m, 'the config names the real data dir, not the staging root');
    assert.match(config, new RegExp(`^listen: 127\\.0\\.0\\.1:${port}$`, 'm'));
    assert.equal(await mode(p('etc/hearth/server-secret')), 0o600);
    assert.match(await readFile(p('etc/hearth/server-secret'), 'utf8'), /^[0-9a-f]{64}\n$/);

    assert.equal(await mode(p('var/lib/hearth')), 0o700);
    assert.equal(await mode(p('var/lib/hearth/admin-token')), 0o600);
    assert.ok(existsSync(p('var/lib/hearth/hearth.db')), 'init made the database');
    assert.equal(existsSync(p('var/lib/hearth/server-secret')), false, 'the secret is only in /etc/hearth, for the credential');
    const uid = process.getuid!();
    for (const f of ['opt/hearth', 'etc/hearth/config.yaml', 'etc/hearth/server-secret', 'var/lib/hearth', 'var/lib/hearth/hearth.db']) {
      assert.equal((await stat(p(f))).uid, uid, `${f} belongs to the installing user under --root`);
    }

    const unit = await readFile(p('etc/systemd/system/hearth.service'), 'utf8');
    const shipped = await readFile(join(packageRoot, 'systemd', 'hearth.service'), 'utf8');
    assert.equal(await mode(p('etc/systemd/system/hearth.service')), 0o644);
    assert.equal(unit, shipped.replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${realpathSync(process.execPath)} `), 'the unit as shipped, with the node the installer checked');

    const token = (await readFile(p('var/lib/hearth/admin-token'), 'utf8')).trim();
    assert.ok(r.stdout.includes(token), 'a first install prints the new admin token');
    assert.match(r.stdout, /Admin token: +sudo cat \/var\/lib\/hearth\/admin-token/);
    assert.ok(r.stdout.includes(`http://127.0.0.1:${port}/admin/`), 'the console URL');
    assert.ok(r.stdout.includes(`http://127.0.0.1:${port}/docs/`), 'the API reference URL');
    assert.match(r.stdout, /hearth-admin keys create --workspace NAME/);
  });

  test('re-running it upgrades in place: new code, the same data, config, secret and admin token', async () => {
    await writeFile(p('var/lib/hearth/marker'), 'data\n');
    await appendFile(p('etc/hearth/config.yaml'), '# operator marker\n');
    await writeFile(p('opt/hearth/stale-file'), 'from the old version\n');
    const before = {
      config: await readFile(p('etc/hearth/config.yaml'), 'utf8'),
      secret: await readFile(p('etc/hearth/server-secret'), 'utf8'),
      token: await readFile(p('var/lib/hearth/admin-token'), 'utf8'),
    };
    const r = await install(root, ['--node-modules', nodeModules]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Hearth upgraded to .*kept/);
    assert.ok(!r.stdout.includes(before.token.trim()), 'an upgrade prints no token');
    assert.equal(await readFile(p('var/lib/hearth/marker'), 'utf8'), 'data\n');
    assert.equal(await readFile(p('etc/hearth/config.yaml'), 'utf8'), before.config);
    assert.equal(await readFile(p('etc/hearth/server-secret'), 'utf8'), before.secret);
    assert.equal(await readFile(p('var/lib/hearth/admin-token'), 'utf8'), before.token);
    assert.equal(existsSync(p('opt/hearth/stale-file')), false, 'the code was replaced, not copied over');
    assert.ok(existsSync(p('opt/hearth/dist/src/cli/main.js')));
    assert.equal(existsSync(p('opt/hearth.new')) || existsSync(p('opt/hearth.old')), false, 'nothing left beside it');
  });

  test('an upgrade whose listen address another process holds is refused, naming it, and leaves the install as it was', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(port, '127.0.0.1', r));
    try {
      const config = await readFile(p('etc/hearth/config.yaml'), 'utf8');
      const r = await install(root, ['--node-modules', nodeModules]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`listen 127\\.0\\.0\\.1:${port} in .*config\\.yaml is in use by another process`));
      assert.ok(existsSync(p('opt/hearth/dist/src/cli/main.js')), 'the installed version stays');
      assert.equal(existsSync(p('opt/hearth.new')), false, 'the staged build is removed');
      assert.equal(await readFile(p('etc/hearth/config.yaml'), 'utf8'), config);
    } finally {
      await new Promise((r) => holder.close(r));
    }
  });

  test('the installed code serves with the secret from the credential, and accepts a key its CLI made with it', async () => {
    const hearth = p('opt/hearth/bin/hearth.js');
    const cli = (env: Record<string, string>) =>
      sh(process.execPath, [hearth, 'keys', 'create', '--workspace', 'installed', '--plan', 'paid_chat', '--config', p('etc/hearth/config.yaml'), '--data-dir', p('var/lib/hearth'), '--json'], productEnv(env));

    const without = await cli({});
    assert.equal(without.code, 2, 'without the credential the CLI refuses rather than make a second secret');
    assert.match(without.stderr, /no server secret .*CREDENTIALS_DIRECTORY/);
    assert.equal(existsSync(p('var/lib/hearth/server-secret')), false);

    const credentials = { CREDENTIALS_DIRECTORY: p('etc/hearth') };
    const made = await cli(credentials);
    assert.equal(made.code, 0, made.stderr);
    const { key } = JSON.parse(made.stdout) as { key: string };

    daemon = await startDaemonProcess({ bin: hearth, dataDir: p('var/lib/hearth'), env: credentials, args: ['--config', p('etc/hearth/config.yaml')] });
    const usage = await daemon.api(key, 'GET', '/usage');
    assert.equal(usage.status, 200, JSON.stringify(usage.body));
    await daemon.stop();
    daemon = undefined;
  });

  test('--uninstall removes the unit and the code and keeps data, config and secret; --purge removes those too', async () => {
    const r = await install(root, ['--uninstall']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(existsSync(p('opt/hearth')), false);
    assert.equal(existsSync(p('etc/systemd/system/hearth.service')), false);
    assert.equal(await readFile(p('var/lib/hearth/marker'), 'utf8'), 'data\n');
    assert.ok(existsSync(p('var/lib/hearth/hearth.db')));
    assert.match(await readFile(p('etc/hearth/config.yaml'), 'utf8'), /# operator marker/);
    assert.ok(existsSync(p('etc/hearth/server-secret')));
    assert.ok(existsSync(join(nodeModules, 'typescript', 'package.json')), 'the linked node_modules is left alone');
    assert.match(r.stdout, /Kept: the data in \/var\/lib\/hearth/);

    const purge = await install(root, ['--uninstall', '--purge']);
    assert.equal(purge.code, 0, purge.stderr);
    assert.equal(existsSync(p('var/lib/hearth')), false);
    assert.equal(existsSync(p('etc/hearth')), false);
  });
});

describe('install.sh refuses before it changes anything', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hearth-install-refused-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  test('a node older than package.json asks for', async () => {
    const fake = join(root, 'fake-bin');
    await mkdir(fake);
    await writeFile(join(fake, 'node'), '#!/bin/sh\necho v18.19.1\n');
    await chmod(join(fake, 'node'), 0o755);
    const target = join(root, 'old-node');
    const r = await install(target, ['--node-modules', nodeModules], `${fake}:${nodeDir}:${process.env.PATH ?? ''}`);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Node\.js v18\.19\.1; Hearth needs 20 or newer/);
    assert.equal(existsSync(join(target, 'opt')) || existsSync(join(target, 'etc')), false, 'nothing installed');
  });

  test('a data dir that belongs to another user', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root, to give the data dir to nobody');
    const target = join(root, 'foreign-data');
    await mkdir(join(target, 'var/lib/hearth'), { recursive: true });
    await chown(join(target, 'var/lib/hearth'), 65534, 65534);
    const r = await install(target, ['--node-modules', nodeModules]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the data dir .*var\/lib\/hearth belongs to nobody, not root: if it is Hearth's, chown -R root:root/);
    assert.equal(existsSync(join(target, 'opt')) || existsSync(join(target, 'etc')), false, 'nothing installed');
  });
});
