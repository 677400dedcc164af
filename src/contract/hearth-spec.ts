import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { openapiDir } from '../paths.js';
import { operationsOf, type Operation } from './operations.js';

/** The OpenAPI document (openapi/hearth.yaml), freshly parsed: callers may change their copy. */
export function loadHearthSpec(): Record<string, unknown> {
  return parse(readFileSync(join(openapiDir, 'hearth.yaml'), 'utf8')) as Record<string, unknown>;
}

let operations: readonly Operation[] | undefined;

/** The contract's operations, read once per process (the daemon and the admin CLI seed the catalog from them). */
export function hearthOperations(): readonly Operation[] {
  operations ??= Object.freeze(operationsOf(loadHearthSpec()));
  return operations;
}
