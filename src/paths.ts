import { fileURLToPath } from 'node:url';

// Compiled code runs from dist/src/, so the package root is two levels above this file's folder.
export const packageRoot: string = fileURLToPath(new URL('../../', import.meta.url));
export const openapiDir: string = fileURLToPath(new URL('../../openapi/', import.meta.url));
