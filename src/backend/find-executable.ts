import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Where `name` would run from, as a shell finds it: a name with a slash is taken as a path,
 * anything else is looked up in each PATH directory in order. Undefined when there is none.
 */
export async function findExecutable(name: string, pathVariable: string | undefined = process.env.PATH): Promise<string | undefined> {
  if (name.includes('/')) {
    const path = isAbsolute(name) ? name : resolve(name);
    return (await isExecutableFile(path)) ? path : undefined;
  }
  for (const dir of (pathVariable ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}
