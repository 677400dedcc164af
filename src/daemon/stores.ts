import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import type { HearthConfig } from '../config/schema.js';
import { openDatabase } from '../db/database.js';
import { Catalog } from '../domain/catalog.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { Keys } from '../domain/keys.js';
import { Ledger } from '../domain/ledger.js';
import { ModelMetadata } from '../domain/model-metadata.js';
import { Workspaces } from '../domain/workspaces.js';

/** The database and the domain objects on it: what the daemon and the admin CLI share. */
export interface Stores {
  db: Database;
  catalog: Catalog;
  workspaces: Workspaces;
  keys: Keys;
  ledger: Ledger;
  metadata: ModelMetadata;
  close(): void;
}

export function openStores(config: HearthConfig, serverSecret: Buffer, clock: Clock = systemClock): Stores {
  const db = openDatabase(join(config.dataDir, 'hearth.db'));
  const catalog = new Catalog(db);
  const workspaces = new Workspaces(db, clock);
  const keys = new Keys(db, serverSecret, clock);
  const ledger = new Ledger(db, { clock, timeZone: config.timezone });
  const metadata = new ModelMetadata(db, () => clock.now());
  return {
    db,
    catalog,
    workspaces,
    keys,
    ledger,
    metadata,
    close() {
      keys.close();
      db.close();
    },
  };
}
