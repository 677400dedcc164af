import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Database } from '../../src/db/database.js';
import { hearthOperations } from '../../src/contract/hearth-spec.js';
import { endpointDefaults } from '../../src/contract/operations.js';
import { Catalog } from '../../src/domain/catalog.js';
import { ManualClock } from '../../src/domain/clock.js';
import { Keys } from '../../src/domain/keys.js';
import { Ledger } from '../../src/domain/ledger.js';
import { Workspaces } from '../../src/domain/workspaces.js';

export const TEST_SECRET = Buffer.alloc(32, 7);

/** A temp folder removed by cleanup(). */
export function tempDir(prefix = 'hearth-domain-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Domain {
  dir: string;
  path: string;
  db: Database;
  clock: ManualClock;
  catalog: Catalog;
  workspaces: Workspaces;
  keys: Keys;
  ledger: Ledger;
  close(): void;
}

/** The domain on a real SQLite file in a temp folder; close() shuts it and removes the folder. */
export function openDomain(options: { now?: string; timeZone?: string } = {}): Domain {
  const { dir, cleanup } = tempDir();
  const path = join(dir, 'hearth.db');
  const db = openDatabase(path);
  const clock = new ManualClock(options.now ?? '2025-03-15T12:00:00Z');
  const catalog = new Catalog(db, endpointDefaults(hearthOperations()));
  const workspaces = new Workspaces(db, clock);
  const keys = new Keys(db, TEST_SECRET, clock);
  const ledger = new Ledger(db, { clock, timeZone: options.timeZone ?? 'UTC' });
  return {
    dir,
    path,
    db,
    clock,
    catalog,
    workspaces,
    keys,
    ledger,
    close() {
      keys.close();
      if (db.open) db.close();
      cleanup();
    },
  };
}
