import { HearthError } from '../errors.js';

/**
 * Inference calls in flight per workspace, bounded by the workspace's plan (plans.max_concurrent).
 * Kept in memory: a call holds its place from the guard until its response closes, so a restart
 * starts from zero with nothing in flight.
 */
export class ConcurrencyLimiter {
  private readonly inFlight = new Map<string, number>();

  /** Takes a place for the workspace, or throws 429 when it already has `limit` calls in flight; the returned function gives it back (once). */
  acquire(workspaceId: string, limit: number): () => void {
    const n = this.inFlight.get(workspaceId) ?? 0;
    if (n >= limit) {
      throw new HearthError(
        'rate_limited',
        `this workspace already has ${n} inference calls in flight, as many as its plan allows at once; retry when one has finished`,
        { code: 'concurrency_limit_exceeded', retryAfterS: 1 },
      );
    }
    this.inFlight.set(workspaceId, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(workspaceId) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(workspaceId);
      else this.inFlight.set(workspaceId, left);
    };
  }

  /** Calls in flight for a workspace (tests, metrics). */
  count(workspaceId: string): number {
    return this.inFlight.get(workspaceId) ?? 0;
  }
}
