// secrets.store: keychain for real: keytar against the Secret Service of a private D-Bus session
// with gnome-keyring (unlocked with a throwaway password, keyring files in a temp HOME). The CLI
// and the daemon must find the same server secret there, and none is written to the data dir.
// Skipped, with the reason, where keytar was not built (it needs libsecret-1-dev at install) or
// dbus-run-session / gnome-keyring-daemon are missing; .ci/run installs all three.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { hearthBin } from '../helpers/engine-process.js';
import { productEnv, startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';

const run = promisify(execFile);

async function whyMissing(): Promise<string | undefined> {
  for (const tool of ['dbus-run-session', 'gnome-keyring-daemon']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed (Debian packages dbus and gnome-keyring)`;
  }
  try {
    await import('keytar' as string);
  } catch (err) {
    return `keytar is not usable (an optional dependency built against libsecret-1-dev): ${(err as Error).message.split('\n')[0]}`;
  }
  return undefined;
}

describe('secrets.store: keychain', async () => {
  const missing = await whyMissing();
  let home: string;
  let session: ChildProcess | undefined;
  let env: Record<string, string>;
  let dataDir: string;
  const configYaml = 'secrets:\n  store: keychain\n';
  let configFile: string;
  let d: DaemonProcess | undefined;

  before(async () => {
    if (missing) return;
    home = await mkdtemp(join(tmpdir(), 'hearth-keyring-'));
    dataDir = join(home, 'data');
    configFile = join(home, 'config.yaml');
    await writeFile(configFile, configYaml);
    // A session bus with an unlocked keyring; it prints its address and stays up until killed.
    session = spawn(
      'dbus-run-session',
      ['--', 'sh', '-c', 'printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; echo "BUS $DBUS_SESSION_BUS_ADDRESS"; exec sleep 600'],
      { env: { ...process.env, HOME: home }, stdio: ['ignore', 'pipe', 'ignore'], detached: true },
    );
    const bus = await new Promise<string>((resolve, reject) => {
      createInterface({ input: session!.stdout! }).on('line', (l) => l.startsWith('BUS ') && resolve(l.slice(4)));
      session!.once('exit', (code) => reject(new Error(`dbus-run-session exited (${code})`)));
    });
    env = { HOME: home, DBUS_SESSION_BUS_ADDRESS: bus };
  });
  after(async () => {
    await d?.stop();
    if (session?.pid) process.kill(-session.pid, 'SIGTERM');
    if (home) await rm(home, { recursive: true, force: true });
  });

  const hearth = async (args: string[]) => {
    const { stdout } = await run(process.execPath, [hearthBin, ...args, '--data-dir', dataDir, '--config', configFile, '--json'], { env: productEnv(env), timeout: 60_000 });
    return JSON.parse(stdout) as Record<string, unknown>;
  };

  test('init keeps the server secret in the keychain; the CLI and the daemon share it', async (t) => {
    if (missing) return t.skip(missing);
    const first = await hearth(['init']);
    assert.match(String(first.admin_token), /^hth_admin_/);
    assert.equal(existsSync(join(dataDir, 'server-secret')), false, 'no secret file in the data dir');
    assert.equal((await hearth(['init'])).admin_token, null, 'the second init found the secret in the keychain');

    await hearth(['workspaces', 'create', 'kc', '--plan', 'paid_chat']);
    const { key } = (await hearth(['keys', 'create', '--workspace', 'kc'])) as { key: string };
    // The key's hash was made with the keychain's secret by the CLI; the daemon must verify it.
    d = await startDaemonProcess({ dataDir, configYaml, env });
    const usage = await fetch(`${d.url}/api/v1/usage`, { headers: { 'x-api-key': key } });
    assert.equal(usage.status, 200, await usage.text());
    assert.equal(existsSync(join(dataDir, 'server-secret')), false);
  });
});
