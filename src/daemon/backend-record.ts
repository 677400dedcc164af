// The backend a running `hearth serve` uses, recorded in its data dir for the CLI. The config
// alone cannot say where the bundled engine listens: its port may be picked at start (engine.listen
// port 0, or the configured port held by another process), and mode "auto" decides between a
// running Ollama, `ollama serve` and the engine only then. `hearth models import` reads this file
// to upload into the daemon's own backend.

import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../engine/store/fs-util.js';

export const BACKEND_RECORD_FILE = 'backend.json';

export interface BackendRecord {
  kind: string;
  /** Where the daemon reaches its backend, e.g. http://127.0.0.1:41234. */
  url: string;
  /** The daemon's pid: a record whose daemon is gone (killed, so it could not remove it) is stale. */
  pid: number;
}

/** Written whole (a temporary file renamed over it): a reader never sees half a record. */
export async function writeBackendRecord(dataDir: string, record: BackendRecord): Promise<void> {
  await writeFileAtomic(join(dataDir, BACKEND_RECORD_FILE), JSON.stringify(record) + '\n', 0o600);
}

export function removeBackendRecord(dataDir: string): void {
  rmSync(join(dataDir, BACKEND_RECORD_FILE), { force: true });
}

/** The record, or undefined when there is none or it is not one (never trusted further than its shape). */
export function readBackendRecord(dataDir: string): BackendRecord | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(dataDir, BACKEND_RECORD_FILE), 'utf8'));
  } catch {
    return undefined;
  }
  const r = parsed as Partial<BackendRecord> | null;
  if (typeof r !== 'object' || r === null || typeof r.kind !== 'string' || typeof r.url !== 'string' || !/^https?:\/\//.test(r.url)) return undefined;
  if (typeof r.pid !== 'number' || !Number.isSafeInteger(r.pid) || r.pid <= 0) return undefined;
  return { kind: r.kind, url: r.url, pid: r.pid };
}
