import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { openapiDir } from '../paths.js';
import { operationsOf, type Operation } from './operations.js';

// The document is parsed once per process: parsing its YAML takes a quarter of a second, and the
// daemon's start needs it twice (the catalog's operations, the gateway's validator).
let parsed: Record<string, unknown> | undefined;

function document(): Record<string, unknown> {
  parsed ??= parse(readFileSync(join(openapiDir, 'hearth.yaml'), 'utf8')) as Record<string, unknown>;
  return parsed;
}

/** The OpenAPI document (openapi/hearth.yaml), a copy of its own: callers may change it. */
export function loadHearthSpec(): Record<string, unknown> {
  return structuredClone(document());
}

let operations: readonly Operation[] | undefined;

/** The contract's operations, read once per process (the daemon and the admin CLI seed the catalog from them). */
export function hearthOperations(): readonly Operation[] {
  operations ??= Object.freeze(operationsOf(document()));
  return operations;
}
