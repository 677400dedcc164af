// Small filesystem helpers shared by the engine's blob and manifest stores and the dataset store.
import { randomUUID } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * Prefix of every temp file the store writes. Valid name parts and blob names never start
 * with ".", so a temp file can never be mistaken for a manifest or a blob, and leftovers
 * from a crash are easy to find.
 */
export const PARTIAL_PREFIX = '.partial-';

export function tempPathIn(dir: string): string {
  return join(dir, `${PARTIAL_PREFIX}${randomUUID()}`);
}

export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** unlink that treats "already gone" as success; returns whether a file was removed. */
export async function unlinkIfExists(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Makes a rename durable: the new directory entry is only on disk once the directory itself
 * is synced. Best effort, because some platforms and filesystems refuse to fsync a directory.
 */
export async function fsyncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = errnoCode(err);
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EBADF') throw err;
  } finally {
    await handle?.close();
  }
}

/**
 * Writes `data` to `path` so readers see either the old file or the complete new one:
 * temp file in the same directory (same filesystem, so rename is atomic), fsync, rename.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  const temp = tempPathIn(dir);
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await unlinkIfExists(temp).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dir);
}
