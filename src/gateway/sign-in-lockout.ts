import { HearthError } from '../errors.js';

export interface LockoutOptions {
  /** Wrong tokens a client may send before it must wait (console.sign_in_attempts). */
  attempts: number;
  /** The first wait, in milliseconds; it doubles with each further wrong token (console.lockout_delay). */
  delayMs: number;
  /** The longest wait, in milliseconds (console.lockout_max). */
  maxDelayMs: number;
  /** Clients tracked at once; past it the one quiet the longest is forgotten. */
  maxClients?: number;
  now?: () => number;
}

interface Tracked {
  failures: number;
  /** Epoch ms before which no token from this client is looked at. */
  lockedUntil: number;
  lastFailure: number;
}

/** After a day without a wrong token (and its wait over), a client's old mistakes are forgiven. */
const FORGET_AFTER_MS = 86_400_000;

/**
 * Wrong admin tokens per client address (sign-in and Bearer on /api/admin, one count): the first
 * `attempts` are answered at once; from then on each wrong token makes the client wait, twice as
 * long each time up to the cap, and a try during the wait is refused without its token being
 * looked at (429 too_many_attempts, Retry-After), so guessing goes no faster than the waits. The
 * right token, once it may be tried, clears the count. In memory: a restart forgives, and at most
 * maxClients addresses are tracked (the one quiet the longest is dropped first).
 */
export class SignInLockout {
  private readonly clients = new Map<string, Tracked>();
  private readonly now: () => number;
  private readonly maxClients: number;

  constructor(private readonly options: LockoutOptions) {
    this.now = options.now ?? Date.now;
    this.maxClients = options.maxClients ?? 10_000;
  }

  /** Throws 429 too_many_attempts while `client` must wait. */
  check(client: string): void {
    const t = this.tracked(client);
    if (t === undefined) return;
    const waitMs = t.lockedUntil - this.now();
    if (waitMs > 0) {
      const retryAfterS = Math.ceil(waitMs / 1000);
      throw new HearthError('rate_limited', `too many wrong admin tokens from this address; retry in ${retryAfterS} s`, { code: 'too_many_attempts', retryAfterS });
    }
  }

  /** Notes a wrong token from `client`. */
  failed(client: string): void {
    const now = this.now();
    const t = this.tracked(client) ?? { failures: 0, lockedUntil: 0, lastFailure: now };
    t.failures++;
    t.lastFailure = now;
    const over = t.failures - this.options.attempts;
    // 2 ** 40 already dwarfs any cap; the bound keeps the product finite.
    if (over >= 0) t.lockedUntil = now + Math.min(this.options.maxDelayMs, this.options.delayMs * 2 ** Math.min(over, 40));
    // Re-inserted at the end: the map's order is quietest first.
    this.clients.delete(client);
    this.clients.set(client, t);
    for (const oldest of this.clients.keys()) {
      if (this.clients.size <= this.maxClients) break;
      this.clients.delete(oldest);
    }
  }

  /** The right token from `client`: its count starts again. */
  succeeded(client: string): void {
    this.clients.delete(client);
  }

  /** Clients tracked now (for tests of the bound). */
  get size(): number {
    return this.clients.size;
  }

  private tracked(client: string): Tracked | undefined {
    const t = this.clients.get(client);
    const now = this.now();
    if (t !== undefined && now - t.lastFailure > FORGET_AFTER_MS && now >= t.lockedUntil) {
      this.clients.delete(client);
      return undefined;
    }
    return t;
  }
}
