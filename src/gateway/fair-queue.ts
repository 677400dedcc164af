import { clientClosed, HearthError } from '../errors.js';

// Fair admission to the inference backend: calls beyond what the backend should run at once wait
// here, one queue per tenant (a workspace), instead of in the backend's FIFO, where one tenant's
// hundred calls would delay everyone behind them. The order is the Virtual Token Counter's (Sheng
// et al., "Fairness in Serving Large Language Models", OSDI 2024):
//
//   - each tenant has a counter of the service it received: tokens read ×1, tokens written ×2
//     (a written token costs a forward pass of its own; prompt tokens are read in batches),
//     divided by the tenant's weight;
//   - a free slot goes to the waiting tenant with the smallest counter (ties: the call that has
//     waited longest);
//   - a tenant that starts waiting after it had nothing waiting is lifted to the smallest
//     counter among the tenants waiting (or, when none is, to the counter of the last tenant to
//     leave the queue), so that time spent idle cannot be banked and spent later in a burst.
//
// Work-conserving: a call waits only while every slot is taken. Kept in memory, like the
// concurrency places: a restart starts from zero with nothing in flight.

/** Service units per prompt token read and per token written. */
export const INPUT_TOKEN_COST = 1;
export const OUTPUT_TOKEN_COST = 2;
/**
 * The least an admitted call counts for, whatever it reports: a call that fails before any
 * token would otherwise be free, and a tenant sending only such calls would keep winning slots.
 */
export const MIN_CALL_COST = 1;

export interface FairQueueOptions {
  /** Calls admitted to the backend at once. */
  slots: number;
  /** Calls one tenant may have waiting; past it a new call gets 503 backend_busy. */
  maxWaitingPerTenant: number;
  /** Calls waiting, all tenants together; past it a new call gets 503 backend_busy. */
  maxWaiting: number;
  /** Milliseconds on a monotonic clock (performance.now in the daemon): how long slots are held, for Retry-After. */
  now: () => number;
}

/** An admitted call's slot. */
export interface Admission {
  /** Adds tokens the call was served to its tenant's counter, as the handler learns them. */
  charge(input: number, output: number): void;
  /** Gives the slot back (once; later calls do nothing) and admits the next waiting call. */
  release(): void;
}

export interface TenantState {
  tenant: string;
  /** Service received, in weighted token units (see the costs above). */
  counter: number;
  weight: number;
  inFlight: number;
  waiting: number;
}

interface Waiter {
  seq: number;
  admit: () => void;
}

interface Tenant {
  counter: number;
  weight: number;
  inFlight: number;
  waiting: Waiter[];
}

// Slot hold times are averaged with this weight on the newest one: a few calls make the estimate.
const HOLD_SMOOTHING = 0.2;
const MAX_RETRY_AFTER_S = 60;

export class FairQueue {
  private readonly tenants = new Map<string, Tenant>();
  private inFlight = 0;
  private waitingTotal = 0;
  private seq = 0;
  /** The tenant whose last waiting call was admitted most recently ("the last client to leave the queue"). */
  private lastLeft: Tenant | undefined;
  private meanHoldMs: number | undefined;

  constructor(private readonly options: FairQueueOptions) {
    if (!(options.slots >= 1)) throw new RangeError('slots must be at least 1');
  }

  /**
   * Admits a call of `tenant` at once when a slot is free and nobody waits, else queues it. The
   * promise rejects with 503 backend_busy when the queue is full, and with client_closed when
   * `signal` aborts while the call waits: it then leaves the queue, charged nothing.
   */
  acquire(tenant: string, weight: number, signal?: AbortSignal): Promise<Admission> {
    if (signal?.aborted) return Promise.reject(clientClosed());
    const t = this.tenantOf(tenant, weight);
    if (this.waitingTotal === 0 && this.inFlight < this.options.slots) {
      // It enters the queue and leaves it at once: the same lift as a waiting call's.
      this.lift(t);
      this.lastLeft = t;
      return Promise.resolve(this.admit(t));
    }
    if (t.waiting.length >= this.options.maxWaitingPerTenant || this.waitingTotal >= this.options.maxWaiting) {
      return Promise.reject(this.busy(t.waiting.length >= this.options.maxWaitingPerTenant));
    }
    if (t.waiting.length === 0) this.lift(t);
    return new Promise<Admission>((resolve, reject) => {
      const waiter: Waiter = {
        seq: this.seq++,
        admit: () => {
          signal?.removeEventListener('abort', abandon);
          resolve(this.admit(t));
        },
      };
      const abandon = () => {
        const i = t.waiting.indexOf(waiter);
        if (i >= 0) {
          t.waiting.splice(i, 1);
          this.waitingTotal--;
        }
        reject(clientClosed());
      };
      signal?.addEventListener('abort', abandon, { once: true });
      t.waiting.push(waiter);
      this.waitingTotal++;
    });
  }

  /** Every tenant seen, with its counter and calls (admin details, tests). */
  snapshot(): { slots: number; inFlight: number; waiting: number; tenants: TenantState[] } {
    return {
      slots: this.options.slots,
      inFlight: this.inFlight,
      waiting: this.waitingTotal,
      tenants: [...this.tenants].map(([tenant, t]) => ({ tenant, counter: t.counter, weight: t.weight, inFlight: t.inFlight, waiting: t.waiting.length })),
    };
  }

  private tenantOf(tenant: string, weight: number): Tenant {
    if (!(weight > 0)) throw new RangeError(`weight must be positive, got ${weight}`);
    let t = this.tenants.get(tenant);
    if (t === undefined) {
      t = { counter: 0, weight, inFlight: 0, waiting: [] };
      this.tenants.set(tenant, t);
    }
    // The plan's weight as it is now: an operator's change applies from the next call.
    t.weight = weight;
    return t;
  }

  /** A tenant starting to wait catches up with the others: idle time is not banked. */
  private lift(t: Tenant): void {
    let floor: number | undefined;
    for (const other of this.tenants.values()) {
      if (other !== t && other.waiting.length > 0 && (floor === undefined || other.counter < floor)) floor = other.counter;
    }
    floor ??= this.lastLeft?.counter;
    if (floor !== undefined && floor > t.counter) t.counter = floor;
  }

  private admit(t: Tenant): Admission {
    this.inFlight++;
    t.inFlight++;
    const started = this.options.now();
    // Raw cost units this call reported; it counts for at least MIN_CALL_COST.
    let cost = 0;
    t.counter += MIN_CALL_COST / t.weight;
    let released = false;
    return {
      charge: (input, output) => {
        const before = Math.max(cost, MIN_CALL_COST);
        cost += input * INPUT_TOKEN_COST + output * OUTPUT_TOKEN_COST;
        t.counter += (Math.max(cost, MIN_CALL_COST) - before) / t.weight;
      },
      release: () => {
        if (released) return;
        released = true;
        this.inFlight--;
        t.inFlight--;
        const held = this.options.now() - started;
        this.meanHoldMs = this.meanHoldMs === undefined ? held : this.meanHoldMs + HOLD_SMOOTHING * (held - this.meanHoldMs);
        this.dispatch();
      },
    };
  }

  /** Fills free slots from the queues, least served tenant first. */
  private dispatch(): void {
    while (this.inFlight < this.options.slots && this.waitingTotal > 0) {
      let next: Tenant | undefined;
      for (const t of this.tenants.values()) {
        const head = t.waiting[0];
        if (head === undefined) continue;
        if (next === undefined || t.counter < next.counter || (t.counter === next.counter && head.seq < next.waiting[0]!.seq)) next = t;
      }
      const waiter = next!.waiting.shift()!;
      this.waitingTotal--;
      if (next!.waiting.length === 0) this.lastLeft = next;
      waiter.admit();
    }
  }

  /** 503 with a Retry-After from how long slots are held and how many calls wait ahead. */
  private busy(ownQueueFull: boolean): HearthError {
    const ahead = this.waitingTotal + 1;
    const seconds = this.meanHoldMs === undefined ? 1 : Math.ceil((this.meanHoldMs * ahead) / this.options.slots / 1000);
    const retryAfterS = Math.min(MAX_RETRY_AFTER_S, Math.max(1, seconds));
    const message = ownQueueFull
      ? `the backend is busy and this workspace already has ${this.options.maxWaitingPerTenant} calls waiting for it, as many as may wait; retry later`
      : `the backend is busy and ${this.options.maxWaiting} calls are waiting for it, as many as may wait; retry later`;
    return new HearthError('unavailable', message, { code: 'backend_busy', retryAfterS });
  }
}
