import { HearthError } from '../errors.js';

export interface RateDecision {
  limit: number;
  remaining: number;
  /** Unix seconds when the current window ends. */
  resetS: number;
  allowed: boolean;
}

/**
 * Requests per minute per key, in fixed one-minute windows. Kept in memory: a restart forgives
 * at most one minute, and the hot path stays free of disk writes.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { window: number; count: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  take(keyId: string, limit: number): RateDecision {
    const nowMs = this.now();
    const window = Math.floor(nowMs / 60_000);
    let w = this.windows.get(keyId);
    if (!w || w.window !== window) {
      w = { window, count: 0 };
      this.windows.set(keyId, w);
      if (this.windows.size > 100_000) this.sweep(window);
    }
    const allowed = w.count < limit;
    if (allowed) w.count++;
    return { limit, remaining: Math.max(0, limit - w.count), resetS: (window + 1) * 60, allowed };
  }

  static exceeded(d: RateDecision, now: number): HearthError {
    const retryAfterS = Math.max(1, d.resetS - Math.floor(now / 1000));
    return new HearthError('rate_limited', `rate limit exceeded: ${d.limit} requests per minute for this key; retry in ${retryAfterS} s`, { code: 'rate_limit_exceeded', retryAfterS });
  }

  private sweep(current: number): void {
    for (const [k, w] of this.windows) if (w.window !== current) this.windows.delete(k);
  }
}
