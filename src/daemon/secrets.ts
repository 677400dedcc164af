import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecretStore } from '../config/schema.js';
import { HearthError } from '../errors.js';
import { DATABASE_FILE } from './stores.js';

export interface DaemonSecrets {
  /** HMAC key for API keys: losing it invalidates every key, so it is created once and kept. */
  serverSecret: Buffer;
  adminToken: string;
  /** True when this call made the admin token (the first `init` or `serve` on a data dir). */
  created: boolean;
}

/** The secret's file name in the data dir, and its credential name under systemd (LoadCredential=server-secret:…). */
export const SECRET_FILE = 'server-secret';
export const ADMIN_TOKEN_FILE = 'admin-token';

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** keytar is optional (it needs the OS secret service); loaded only when the config asks for it. */
async function keychain(): Promise<{ get(a: string): Promise<string | null>; set(a: string, v: string): Promise<void> }> {
  try {
    const keytar = (await import('keytar' as string)) as { default?: unknown } & Record<string, unknown>;
    const k = (keytar.default ?? keytar) as { getPassword(s: string, a: string): Promise<string | null>; setPassword(s: string, a: string, p: string): Promise<void> };
    return { get: (a) => k.getPassword('hearth', a), set: (a, v) => k.setPassword('hearth', a, v) };
  } catch (err) {
    throw new HearthError('internal', `secrets.store is "keychain" but keytar is not usable here (${err instanceof Error ? err.message : String(err)}); it is built at install where libsecret-1-dev is present: install that and run npm ci again, or use "file"`, { cause: err });
  }
}

/**
 * Loads the server secret and the admin token, creating both on the first start. A server
 * secret that systemd hands over as a credential ($CREDENTIALS_DIRECTORY/server-secret, from the
 * unit's LoadCredential=) wins over the store and is never copied anywhere. Otherwise, with
 * `store: file` the secret lives in the data dir (mode 0600); with `keychain` in the OS keychain.
 * The admin token is also written 0600 in the data dir so the operator can find it again.
 */
export async function loadSecrets(dataDir: string, store: SecretStore, env: NodeJS.ProcessEnv = process.env): Promise<DaemonSecrets> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const tokenPath = join(dataDir, ADMIN_TOKEN_FILE);
  const credentialPath = env.CREDENTIALS_DIRECTORY ? join(env.CREDENTIALS_DIRECTORY, SECRET_FILE) : undefined;
  const credential = credentialPath === undefined ? undefined : await readIfExists(credentialPath);
  let secretHex: string;
  let secretFrom: string;
  if (credential !== undefined) {
    secretHex = credential;
    secretFrom = `the credential ${credentialPath}`;
  } else {
    const stored = await storedSecret(dataDir, store);
    secretHex = stored.hex;
    secretFrom = stored.from;
  }
  let adminToken = await readIfExists(tokenPath);
  let created = false;
  if (!adminToken) {
    adminToken = `hth_admin_${randomBytes(24).toString('base64url')}`;
    await writeFile(tokenPath, adminToken + '\n', { mode: 0o600, flag: 'wx' });
    created = true;
  }
  await chmod(tokenPath, 0o600);
  if (!/^[0-9a-f]{64}$/.test(secretHex)) throw new HearthError('internal', `the server secret in ${secretFrom} is malformed (64 hex digits expected)`);
  return { serverSecret: Buffer.from(secretHex, 'hex'), adminToken, created };
}

/** The secret from the configured store, made there when this data dir has none yet. */
async function storedSecret(dataDir: string, store: SecretStore): Promise<{ hex: string; from: string }> {
  const secretPath = join(dataDir, SECRET_FILE);
  const kc = store === 'keychain' ? await keychain() : undefined;
  const from = kc ? 'the keychain' : secretPath;
  const existing = kc ? ((await kc.get(dataDir)) ?? undefined) : await readIfExists(secretPath);
  if (existing) return { hex: existing, from };
  // A database without its secret holds keys that a new secret would silently invalidate: this is
  // the CLI run on a service install, whose secret is a systemd credential, without it.
  if (existsSync(join(dataDir, DATABASE_FILE))) {
    throw new HearthError(
      'internal',
      `no server secret for ${dataDir}: neither ${kc ? 'the keychain' : secretPath} nor $CREDENTIALS_DIRECTORY/${SECRET_FILE} holds one, and its database has keys made with one. A service install keeps it in /etc/hearth/${SECRET_FILE}: run the command through sudo /opt/hearth/bin/hearth-admin, or with CREDENTIALS_DIRECTORY set to the folder that holds ${SECRET_FILE}`,
    );
  }
  const hex = randomBytes(32).toString('hex');
  if (kc) await kc.set(dataDir, hex);
  else await writeFile(secretPath, hex + '\n', { mode: 0o600, flag: 'wx' });
  return { hex, from };
}
