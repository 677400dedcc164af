import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import type { HearthConfig } from '../config/schema.js';
import { openDatabase } from '../db/database.js';
import { Catalog } from '../domain/catalog.js';
import { hearthOperations } from '../contract/hearth-spec.js';
import { endpointDefaults } from '../contract/operations.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { Keys } from '../domain/keys.js';
import { Ledger } from '../domain/ledger.js';
import { ModelMetadata } from '../domain/model-metadata.js';
import { Workspaces } from '../domain/workspaces.js';
import { AdminSessions } from '../domain/admin-sessions.js';
import { AuditLog } from '../domain/audit-log.js';
import { WorkspaceBlobs } from '../domain/workspace-blobs.js';
import { Datasets } from '../finetune/datasets.js';
import { Jobs } from '../finetune/jobs.js';

/** The database and the domain objects on it: what the daemon and the admin CLI share. */
export interface Stores {
  db: Database;
  catalog: Catalog;
  workspaces: Workspaces;
  keys: Keys;
  ledger: Ledger;
  metadata: ModelMetadata;
  /** What each workspace has uploaded to the backend's blob store (its limits.blob_quota_per_workspace). */
  blobs: WorkspaceBlobs;
  datasets: Datasets;
  jobs: Jobs;
  /** The console's sign-in sessions. */
  sessions: AdminSessions;
  /** What was done through /api/admin, by whom. */
  audit: AuditLog;
  close(): void;
}

/** The database's file name in the data dir. */
export const DATABASE_FILE = 'hearth.db';

export function openStores(config: HearthConfig, serverSecret: Buffer, clock: Clock = systemClock): Stores {
  const db = openDatabase(join(config.dataDir, DATABASE_FILE));
  const catalog = new Catalog(db, endpointDefaults(hearthOperations()));
  const workspaces = new Workspaces(db, clock);
  const keys = new Keys(db, serverSecret, clock);
  const ledger = new Ledger(db, { clock, timeZone: config.timezone });
  const metadata = new ModelMetadata(db, () => clock.now());
  const jobs = new Jobs(db, clock);
  const blobs = new WorkspaceBlobs(db, clock);
  const datasets = new Datasets(
    db,
    join(config.dataDir, 'datasets'),
    clock,
    { maxBytes: config.finetune.maxDatasetBytes, maxRecords: config.finetune.maxDatasetRecords, quotaBytes: config.finetune.datasetQuota },
    (id) => jobs.usesDataset(id),
  );
  const sessions = new AdminSessions(db, clock, { ttlMs: config.console.sessionTtl, maxLive: config.console.maxSessions }, serverSecret);
  const audit = new AuditLog(db, clock);
  return {
    db,
    catalog,
    workspaces,
    keys,
    ledger,
    metadata,
    blobs,
    datasets,
    jobs,
    sessions,
    audit,
    close() {
      keys.close();
      db.close();
    },
  };
}
