// The bundled engine's secret of the running `hearth serve`, kept in its data dir for Hearth's
// own CLI (`hearth models import` uploads into that engine, which refuses requests without it).
// Mode 0600 in a 0700 data dir: readable by the daemon's user only, as the admin token is. A new
// one is written at each start; the daemon removes it at stop.

import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../engine/store/fs-util.js';

export const ENGINE_SECRET_FILE = 'engine-secret';

/** Written whole (a temporary file renamed over it): a reader never sees half a secret. */
export async function writeEngineSecret(dataDir: string, secret: string): Promise<void> {
  await writeFileAtomic(join(dataDir, ENGINE_SECRET_FILE), secret + '\n', 0o600);
}

export function removeEngineSecret(dataDir: string): void {
  rmSync(join(dataDir, ENGINE_SECRET_FILE), { force: true });
}

/** The secret, or undefined when there is no file; a file this user may not read throws (EACCES says why). */
export function readEngineSecret(dataDir: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(join(dataDir, ENGINE_SECRET_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const secret = text.trim();
  return secret === '' ? undefined : secret;
}
