import type { Database } from 'better-sqlite3';
import type { Clock } from './clock.js';

/** "sha256-<hex>" and "sha256:<hex>" name one blob (Ollama accepts both): one key for both. */
export const blobKey = (digest: string): string => digest.toLowerCase().replace(/^sha256-/, 'sha256:');

/**
 * The bytes of blobs each workspace has uploaded (workspace_blobs), which its quota
 * (limits.blob_quota_per_workspace) bounds. A digest counts once per workspace: sending the same
 * file again stores nothing new.
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
}
