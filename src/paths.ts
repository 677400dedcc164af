import { isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Compiled code runs from dist/src/, so the package root is two levels above this file's folder.
export const packageRoot: string = fileURLToPath(new URL('../../', import.meta.url));
export const openapiDir: string = fileURLToPath(new URL('../../openapi/', import.meta.url));

/**
 * `path` (absolute, or relative to `dir`) as a path relative to `dir` when it lies inside it;
 * undefined when it leads out of it. Names from clients and files from trainers go through this
 * before they become paths.
 */
export function insideDir(dir: string, path: string): string | undefined {
  const rel = relative(dir, resolve(dir, path));
  return rel.startsWith('..') || isAbsolute(rel) ? undefined : rel;
}
