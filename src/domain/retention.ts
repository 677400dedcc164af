import type { Database } from '../db/database.js';

// What the daily job removes from the request log (migration 0011). The ledger is never
// pruned: it is append-only and every balance is a sum over it.

const DAY_MS = 86_400_000;

/** The moment before which rows kept `days` are removed; undefined when they are kept forever. */
export function retentionCutoff(now: Date, days: number): Date | undefined {
  return Number.isFinite(days) ? new Date(now.getTime() - days * DAY_MS) : undefined;
}

/**
 * Deletes the request log's rows that arrived before `before`, oldest first, in batches: each
 * batch is one short write transaction, and the event loop (the daemon's requests, its request
 * log's own writes) runs between them. Returns the rows removed.
 */
export async function pruneRequestLog(db: Database, before: Date, options: { batchRows?: number; signal?: AbortSignal } = {}): Promise<number> {
  const batchRows = options.batchRows ?? 5000;
  const remove = db.prepare('DELETE FROM request_log WHERE id IN (SELECT id FROM request_log WHERE at < ? ORDER BY at LIMIT ?)');
  // `at` is ISO 8601 UTC with milliseconds, so text order is time order.
  const cutoff = before.toISOString();
  let removed = 0;
  for (;;) {
    const { changes } = remove.run(cutoff, batchRows);
    removed += changes;
    if (changes < batchRows) return removed;
    await new Promise((resolve) => setImmediate(resolve));
    // The rest waits for the next day when the daemon is stopping.
    if (options.signal?.aborted) return removed;
  }
}
