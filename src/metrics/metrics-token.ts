import { randomBytes } from 'node:crypto';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HearthError } from '../errors.js';

/** The metrics token's file in the data dir, when metrics.token_file names none. */
export const METRICS_TOKEN_FILE = 'metrics-token';

/** Shorter than this is no token worth the name: the one Hearth makes has 32 random bytes. */
const MIN_TOKEN_LENGTH = 16;

export interface MetricsToken {
  token: string;
  path: string;
  /** True when this call made it (the first start with the default file). */
  created: boolean;
}

const configError = (message: string) => new HearthError('invalid_request', `metrics.token_file: ${message}`, { code: 'invalid_metrics_token_file' });

/**
 * The token GET /metrics accepts besides the admin token. With metrics.token_file "", it lives
 * in the data dir (mode 0600), made like the admin token on the first start; otherwise it is the
 * operator's file, which must exist, hold a token, and not be readable by every user (Prometheus
 * may share it through a group).
 */
export async function loadMetricsToken(dataDir: string, tokenFile: string): Promise<MetricsToken> {
  if (tokenFile !== '') {
    let mode: number;
    let text: string;
    try {
      mode = (await stat(tokenFile)).mode;
      text = await readFile(tokenFile, 'utf8');
    } catch (err) {
      throw configError(`cannot read ${tokenFile} (${(err as NodeJS.ErrnoException).code ?? String(err)}): write a token there, or set "" to use ${METRICS_TOKEN_FILE} in the data dir`);
    }
    if ((mode & 0o004) !== 0) throw configError(`${tokenFile} is readable by every user: chmod o-r ${tokenFile}`);
    const token = text.trim();
    if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) throw configError(`${tokenFile} must hold one token of at least ${MIN_TOKEN_LENGTH} characters without spaces (e.g. openssl rand -hex 32)`);
    return { token, path: tokenFile, created: false };
  }
  const path = join(dataDir, METRICS_TOKEN_FILE);
  const kept = (await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err))))?.trim();
  if (kept) {
    await chmod(path, 0o600);
    return { token: kept, path, created: false };
  }
  const token = `hth_metrics_${randomBytes(32).toString('base64url')}`;
  // An empty file (a start cut short) is written over; a file another start made meanwhile is not.
  await writeFile(path, token + '\n', { mode: 0o600, flag: kept === '' ? 'w' : 'wx' });
  await chmod(path, 0o600);
  return { token, path, created: true };
}
