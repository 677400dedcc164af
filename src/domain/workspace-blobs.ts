import type { Database } from 'better-sqlite3';
import type { Clock } from './clock.js';

/** "sha256-<hex>" and "sha256:<hex>" name one blob (Ollama accepts both): one key for both. */
export const blobKey = (digest: string): string => digest.toLowerCase().replace(/^sha256-/, 'sha256:');

/**
 * Rows one reconcile checks at most, largest first: a backend call each, so a workspace that has
 * stored thousands of tiny blobs cannot make every refused upload cost thousands of calls. Rows
 * past it stay counted (the quota errs towards refusing).
 */
export const RECONCILE_MAX_ROWS = 64;

/**
 * Whether the backend still has a blob: true or false, or it throws when its answer says neither
 * (the backend down, an error status).
 */
export type BlobProbe = (digest: string) => Promise<boolean>;

/** What a reconcile did: the digests given back, and the error that stopped it, if one did. */
export interface Reconciled {
  released: string[];
  failed?: unknown;
}

interface Row {
  digest: string;
  bytes: number;
  created_at: string;
}

/**
 * The bytes of blobs each workspace has uploaded (workspace_blobs), which its quota
 * (limits.blob_quota_per_workspace) bounds. A digest counts once per workspace: sending the same
 * file again stores nothing new.
 *
 * A row counts while its blob exists on the backend. The backend removes a blob once no model
 * uses it (deleting a model removes the blobs only it referenced; the bundled engine, like
 * Ollama, also collects old unreferenced blobs when it starts), so `reconcile` asks the backend
 * about a workspace's rows and gives back those whose blob is gone. A blob two workspaces both
 * uploaded counts for each of them while it exists, whoever's model uses it: the backend's store
 * knows no owner, and splitting its size would let one workspace's delete change another's room.
 */
export class WorkspaceBlobs {
  private readonly stmts;

  constructor(
    db: Database,
    private readonly clock: Clock,
  ) {
    this.stmts = {
      used: db.prepare<[string], { bytes: number }>('SELECT COALESCE(SUM(bytes), 0) AS bytes FROM workspace_blobs WHERE workspace_id = ?'),
      holds: db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM workspace_blobs WHERE workspace_id = ? AND digest = ?'),
      record: db.prepare<[string, string, number, string]>('INSERT OR IGNORE INTO workspace_blobs (workspace_id, digest, bytes, created_at) VALUES (?, ?, ?, ?)'),
      largest: db.prepare<[string, number], Row>('SELECT digest, bytes, created_at FROM workspace_blobs WHERE workspace_id = ? ORDER BY bytes DESC, digest LIMIT ?'),
      release: db.prepare<[string, string]>('DELETE FROM workspace_blobs WHERE workspace_id = ? AND digest = ?'),
    };
  }

  /** Bytes of the blobs the workspace has uploaded. */
  usedBytes(workspaceId: string): number {
    return this.stmts.used.get(workspaceId)!.bytes;
  }

  /** Whether the workspace has uploaded this blob already. */
  holds(workspaceId: string, digest: string): boolean {
    return this.stmts.holds.get(workspaceId, blobKey(digest)) !== undefined;
  }

  /** Notes a stored upload; a digest the workspace holds already keeps its first row. */
  record(workspaceId: string, digest: string, bytes: number): void {
    this.stmts.record.run(workspaceId, blobKey(digest), bytes, this.clock.now().toISOString());
  }

  /** Stops counting a blob for the workspace (its row, if any, is removed); whether one was. */
  release(workspaceId: string, digest: string): boolean {
    return this.stmts.release.run(workspaceId, blobKey(digest)).changes > 0;
  }

  /**
   * Asks `exists` about the workspace's rows (RECONCILE_MAX_ROWS of them, one at a time, largest
   * first) and releases those whose blob is gone. It never throws: the first probe that fails
   * stops it, and the rows not yet confirmed gone stay counted.
   *
   * A row is released, then its blob asked about once more: an upload of the same blob that was
   * stored while the first answer was on its way found the row still there and so recorded
   * nothing; the second answer puts the row back for it.
   */
  async reconcile(workspaceId: string, exists: BlobProbe, maxRows = RECONCILE_MAX_ROWS): Promise<Reconciled> {
    const released: string[] = [];
    for (const row of this.stmts.largest.all(workspaceId, maxRows)) {
      try {
        if (await exists(row.digest)) continue;
      } catch (err) {
        return { released, failed: err };
      }
      // Another reconcile may have released it while the backend answered.
      if (!this.release(workspaceId, row.digest)) continue;
      let back: boolean;
      let failed: unknown;
      try {
        back = await exists(row.digest);
      } catch (err) {
        back = true;
        failed = err;
      }
      if (back) this.stmts.record.run(workspaceId, row.digest, row.bytes, row.created_at);
      else released.push(row.digest);
      if (failed !== undefined) return { released, failed };
    }
    return { released };
  }
}
