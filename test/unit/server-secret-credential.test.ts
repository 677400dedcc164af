// Where the daemon's server secret comes from: a systemd credential ($CREDENTIALS_DIRECTORY,
// from the unit's LoadCredential=server-secret:…) when there is one, else the data dir.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSecrets, SECRET_FILE } from '../../src/daemon/secrets.js';
import { DATABASE_FILE } from '../../src/daemon/stores.js';

const CREDENTIAL = 'ab'.repeat(32);

describe('loadSecrets and $CREDENTIALS_DIRECTORY', () => {
  let root: string;
  let n = 0;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hearth-secret-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  /** A fresh data dir and a credentials dir holding `credential` (none when undefined). */
  async function dirs(credential?: string): Promise<{ dataDir: string; credDir: string }> {
    const base = join(root, String(n++));
    const credDir = join(base, 'credentials');
    await mkdir(credDir, { recursive: true });
    if (credential !== undefined) await writeFile(join(credDir, SECRET_FILE), credential + '\n', { mode: 0o600 });
    return { dataDir: join(base, 'data'), credDir };
  }

  test('the credential is the secret, and no copy of it is written to the data dir', async () => {
    const { dataDir, credDir } = await dirs(CREDENTIAL);
    const s = await loadSecrets(dataDir, 'file', { CREDENTIALS_DIRECTORY: credDir });
    assert.equal(s.serverSecret.toString('hex'), CREDENTIAL);
    assert.equal(existsSync(join(dataDir, SECRET_FILE)), false);
    assert.equal(s.created, true, 'the admin token is still made in the data dir');
    assert.equal((await stat(join(dataDir, 'admin-token'))).mode & 0o777, 0o600);
  });

  test('the credential wins over a secret file left in the data dir', async () => {
    const { dataDir, credDir } = await dirs(CREDENTIAL);
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, SECRET_FILE), 'cd'.repeat(32) + '\n');
    const s = await loadSecrets(dataDir, 'file', { CREDENTIALS_DIRECTORY: credDir });
    assert.equal(s.serverSecret.toString('hex'), CREDENTIAL);
  });

  test('a credentials dir without server-secret (other credentials only): the data dir file, made 0600 on the first start', async () => {
    const { dataDir, credDir } = await dirs();
    const first = await loadSecrets(dataDir, 'file', { CREDENTIALS_DIRECTORY: credDir });
    const file = join(dataDir, SECRET_FILE);
    assert.equal((await readFile(file, 'utf8')).trim(), first.serverSecret.toString('hex'));
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const again = await loadSecrets(dataDir, 'file', {});
    assert.deepEqual(again.serverSecret, first.serverSecret);
    assert.equal(again.created, false);
  });

  test('a malformed credential is refused, naming the credential file', async () => {
    const { dataDir, credDir } = await dirs('not-hex');
    await assert.rejects(loadSecrets(dataDir, 'file', { CREDENTIALS_DIRECTORY: credDir }), (err: Error) => {
      assert.ok(err.message.includes(`the credential ${join(credDir, SECRET_FILE)} is malformed`), err.message);
      return true;
    });
  });

  test('a database without its secret (the CLI run on a service install without the credential) is refused: no new secret is made', async () => {
    const { dataDir } = await dirs();
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, DATABASE_FILE), '');
    await assert.rejects(loadSecrets(dataDir, 'file', {}), /no server secret for .*CREDENTIALS_DIRECTORY.*hearth-admin/s);
    assert.equal(existsSync(join(dataDir, SECRET_FILE)), false);
  });
});
