import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import { conflict, HearthError, notFound } from '../errors.js';
import type { Clock } from '../domain/clock.js';
import { writeFileAtomic } from '../engine/store/fs-util.js';
import { parseDataset, type DatasetFormat, type DatasetLimits, type TrainingRecord } from './dataset-records.js';

export interface Dataset {
  id: string;
  workspaceId: string;
  title: string;
  format: DatasetFormat;
  recordCount: number;
  tokenEstimate: number;
  bytes: number;
  createdAt: Date;
}

interface Row {
  id: string;
  workspace_id: string;
  title: string;
  format: DatasetFormat;
  record_count: number;
  token_estimate: number;
  bytes: number;
  created_at: string;
}

const COLS = 'id, workspace_id, title, format, record_count, token_estimate, bytes, created_at';
/** Ids are made here, so they are safe file names; the pattern is also the API's. */
export const DATASET_ID_PATTERN = /^ds_[0-9a-f]{16}$/;

const fromRow = (r: Row): Dataset => ({
  id: r.id,
  workspaceId: r.workspace_id,
  title: r.title,
  format: r.format,
  recordCount: r.record_count,
  tokenEstimate: r.token_estimate,
  bytes: r.bytes,
  createdAt: new Date(r.created_at),
});

/**
 * A workspace's fine-tuning datasets: records in <dir>/<id>.jsonl, metadata in SQLite. Every
 * lookup is scoped to a workspace, so one workspace never sees another's datasets (a foreign
 * id is simply not found).
 */
export class Datasets {
  private readonly stmts;

  constructor(
    private readonly db: Database,
    private readonly dir: string,
    private readonly clock: Clock,
    private readonly limits: DatasetLimits & {
      /** Bytes of stored datasets per workspace (finetune.dataset_quota). */
      quotaBytes: number;
    },
    /** Whether a job references the dataset (it may not be deleted then). */
    private readonly inUse: (datasetId: string) => boolean = () => false,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.stmts = {
      insert: db.prepare(`INSERT INTO datasets (${COLS}) VALUES (@id, @workspaceId, @title, @format, @recordCount, @tokenEstimate, @bytes, @createdAt)`),
      get: db.prepare<[string, string], Row>(`SELECT ${COLS} FROM datasets WHERE id = ? AND workspace_id = ?`),
      list: db.prepare<[string], Row>(`SELECT ${COLS} FROM datasets WHERE workspace_id = ? ORDER BY created_at, rowid`),
      all: db.prepare<[], Row>(`SELECT ${COLS} FROM datasets ORDER BY created_at, rowid`),
      delete: db.prepare('DELETE FROM datasets WHERE id = ? AND workspace_id = ?'),
      stored: db.prepare<[string], number>('SELECT coalesce(sum(bytes), 0) FROM datasets WHERE workspace_id = ?').pluck(),
    };
  }

  private fileOf(id: string): string {
    if (!DATASET_ID_PATTERN.test(id)) throw notFound(`no dataset '${id}'`, 'dataset_not_found');
    return join(this.dir, `${id}.jsonl`);
  }

  /** Bytes of the workspace's stored datasets. */
  storedBytes(workspaceId: string): number {
    return this.stmts.stored.get(workspaceId)!;
  }

  /**
   * 413 when a dataset of `bytes` more would take the workspace past its quota; with no size
   * (before an upload is read), when the quota is already used up.
   */
  assertRoom(workspaceId: string, bytes = 1): void {
    const stored = this.storedBytes(workspaceId);
    if (stored + bytes <= this.limits.quotaBytes) return;
    throw new HearthError(
      'payload_too_large',
      `this workspace's datasets take ${stored} bytes of its ${this.limits.quotaBytes} (finetune.dataset_quota)${bytes > 1 ? `; this one (${bytes} bytes) does not fit` : ''}: delete datasets it no longer needs`,
      { code: 'dataset_quota_exceeded' },
    );
  }

  /** Validates and stores a dataset; a bad record is a 400 naming it, and nothing is stored. */
  async create(workspaceId: string, input: { title: string; records?: unknown; jsonl?: unknown }): Promise<Dataset> {
    const parsed = parseDataset(input, this.limits);
    this.assertRoom(workspaceId, parsed.bytes);
    const id = `ds_${randomBytes(8).toString('hex')}`;
    const file = this.fileOf(id);
    const createdAt = this.clock.now();
    // The file first: a row never points at a missing file. Should the insert fail, the file goes.
    await writeFileAtomic(file, parsed.jsonl, 0o600);
    try {
      this.stmts.insert.run({
        id,
        workspaceId,
        title: input.title,
        format: parsed.format,
        recordCount: parsed.count,
        tokenEstimate: parsed.tokenEstimate,
        bytes: parsed.bytes,
        createdAt: createdAt.toISOString(),
      });
    } catch (err) {
      rmSync(file, { force: true });
      throw err;
    }
    return this.get(workspaceId, id);
  }

  get(workspaceId: string, id: string): Dataset {
    const row = DATASET_ID_PATTERN.test(id) ? this.stmts.get.get(id, workspaceId) : undefined;
    if (row === undefined) throw notFound(`no dataset '${id}' in this workspace`, 'dataset_not_found');
    return fromRow(row);
  }

  list(workspaceId: string): Dataset[] {
    return this.stmts.list.all(workspaceId).map(fromRow);
  }

  /** Every workspace's datasets, oldest first (the operator's view). */
  all(): Dataset[] {
    return this.stmts.all.all().map(fromRow);
  }

  /** The stored records (for trainers). */
  records(workspaceId: string, id: string): TrainingRecord[] {
    const d = this.get(workspaceId, id);
    return readFileSync(this.fileOf(d.id), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as TrainingRecord);
  }

  /**
   * Deletes a dataset no job references (409 otherwise). The check and the delete are one
   * immediate transaction, as a job's check and insert are (Jobs.create): of a delete and a job
   * creation that race, exactly one wins and the other gets its 4xx.
   */
  delete(workspaceId: string, id: string): void {
    const d = this.db
      .transaction(() => {
        const found = this.get(workspaceId, id);
        if (this.inUse(found.id)) throw conflict(`dataset '${found.id}' is used by a fine-tune job: delete the job first`, 'dataset_in_use');
        // The row first: a dataset without its row is unreachable garbage, never a row without its file.
        this.stmts.delete.run(found.id, workspaceId);
        return found;
      })
      .immediate();
    rmSync(this.fileOf(d.id), { force: true });
  }
}
