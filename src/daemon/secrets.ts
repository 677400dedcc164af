import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecretStore } from '../config/schema.js';
import { HearthError } from '../errors.js';

export interface DaemonSecrets {
  /** HMAC key for API keys: losing it invalidates every key, so it is created once and kept. */
  serverSecret: Buffer;
  adminToken: string;
  /** True when this call made the admin token (the first `init` or `serve` on a data dir). */
  created: boolean;
}

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
 * Loads the server secret and the admin token, creating both on the first start. With
 * `store: file` the secret lives in the data dir (mode 0600); with `keychain` in the OS keychain.
 * The admin token is also written 0600 in the data dir so the operator can find it again.
 */
export async function loadSecrets(dataDir: string, store: SecretStore): Promise<DaemonSecrets> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const secretPath = join(dataDir, SECRET_FILE);
  const tokenPath = join(dataDir, ADMIN_TOKEN_FILE);
  const kc = store === 'keychain' ? await keychain() : undefined;
  let secretHex = kc ? ((await kc.get(dataDir)) ?? undefined) : await readIfExists(secretPath);
  let adminToken = await readIfExists(tokenPath);
  let created = false;
  if (!secretHex) {
    secretHex = randomBytes(32).toString('hex');
    if (kc) await kc.set(dataDir, secretHex);
    else await writeFile(secretPath, secretHex + '\n', { mode: 0o600, flag: 'wx' });
  }
  if (!adminToken) {
    adminToken = `hth_admin_${randomBytes(24).toString('base64url')}`;
    await writeFile(tokenPath, adminToken + '\n', { mode: 0o600, flag: 'wx' });
    created = true;
  }
  await chmod(tokenPath, 0o600);
  if (!/^[0-9a-f]{64}$/.test(secretHex)) throw new HearthError('internal', `the server secret in ${kc ? 'the keychain' : secretPath} is malformed`);
  return { serverSecret: Buffer.from(secretHex, 'hex'), adminToken, created };
}
