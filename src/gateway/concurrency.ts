import { HearthError } from '../errors.js';

/**
 * Places in flight per key (a workspace's inference calls, its dataset uploads, all uploads), each
 * bounded by a limit given at the call. Kept in memory: a request holds its place from the guard
 * until its response closes, so a restart starts from zero with nothing in flight.
 */
export class ConcurrencyLimiter {
  private readonly inFlight = new Map<string, number>();

  /**
   * Takes a place under `key`, or throws what `refuse` makes of the count when `limit` are
   * already taken; the returned function gives the place back (once).
   */
  acquire(key: string, limit: number, refuse: (inFlight: number) => HearthError): () => void {
    const n = this.inFlight.get(key) ?? 0;
    if (n >= limit) throw refuse(n);
    this.inFlight.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(key) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(key);
      else this.inFlight.set(key, left);
    };
  }

  /**
   * Takes a place under each of `places` in order (e.g. the workspace's, then the server's), or
   * none: a refusal gives back those already taken and throws. The returned function gives all
   * of them back (once).
   */
  acquireAll(places: ReadonlyArray<{ key: string; limit: number; refuse: (inFlight: number) => HearthError }>): () => void {
    const taken: Array<() => void> = [];
    try {
      for (const p of places) taken.push(this.acquire(p.key, p.limit, p.refuse));
    } catch (err) {
      for (const release of taken) release();
      throw err;
    }
    return () => {
      for (const release of taken) release();
    };
  }

  /** Places taken under a key (tests, metrics). */
  count(key: string): number {
    return this.inFlight.get(key) ?? 0;
  }
}

/** The refusal of an inference call past the workspace's plan's max_concurrent. */
export const tooManyInferenceCalls = (n: number) =>
  new HearthError('rate_limited', `this workspace already has ${n} inference calls in flight, as many as its plan allows at once; retry when one has finished`, {
    code: 'concurrency_limit_exceeded',
    retryAfterS: 1,
  });
