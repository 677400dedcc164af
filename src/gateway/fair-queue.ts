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
// Slots are per model: the backend (the bundled engine, or Ollama with OLLAMA_NUM_PARALLEL) runs
// `slots` sequences for each loaded model, so a call waits only while its own model's slots are
// all taken, and a freed slot of model M goes to the least served tenant among those waiting for
// M. One pool for every model would hold a call for B behind A's full slots while B's sit idle.
// What is shared by every model: the tenants' counters (service received is service, whatever
// the model), the lift (a tenant is lifted when it starts waiting at all, not per model) and the
// bounds on waiting calls. A model's pool lives only while it has calls in flight or waiting, so
// that clients naming many models leave nothing behind.
//
// Work-conserving: a call waits only while every slot of its model is taken. Kept in memory, like
// the concurrency places: a restart starts from zero with nothing in flight.

/** Service units per prompt token read and per token written. */
export const INPUT_TOKEN_COST = 1;
export const OUTPUT_TOKEN_COST = 2;
/**
 * The least an admitted call counts for, whatever it reports: a call that fails before any
 * token would otherwise be free, and a tenant sending only such calls would keep winning slots.
 */
export const MIN_CALL_COST = 1;

export interface FairQueueOptions {
  /** Calls admitted to the backend at once for one model. */
  slots: number;
  /** Calls one tenant may have waiting, all models together; past it a new call gets 503 backend_busy. */
  maxWaitingPerTenant: number;
  /** Calls waiting, all tenants and models together; past it a new call gets 503 backend_busy. */
  maxWaiting: number;
  /** Milliseconds on a monotonic clock (performance.now in the daemon): how long slots are held, for Retry-After. */
  now: () => number;
}

/** An admitted call's slot. */
export interface Admission {
  /** Adds tokens the call was served to its tenant's counter, as the handler learns them. */
  charge(input: number, output: number): void;
  /** Gives the slot back (once; later calls do nothing) and admits the next call waiting for its model. */
  release(): void;
}

export interface TenantState {
  tenant: string;
  /** Service received, in weighted token units (see the costs above), whatever the model. */
  counter: number;
  weight: number;
  inFlight: number;
  /** Calls waiting, all models together. */
  waiting: number;
}

export interface ModelState {
  model: string;
  slots: number;
  inFlight: number;
  waiting: number;
}

export interface QueueState {
  /** Slots of each model. */
  slots: number;
  /** Calls in flight and waiting, all models together. */
  inFlight: number;
  waiting: number;
  maxWaiting: number;
  maxWaitingPerTenant: number;
  /** The models with calls in flight or waiting, by name. */
  models: ModelState[];
  /** Every tenant seen since the start. */
  tenants: TenantState[];
}

interface Waiter {
  seq: number;
  admit: () => void;
}

interface Tenant {
  counter: number;
  weight: number;
  inFlight: number;
  /** Calls waiting, all models together: the lift and the per-tenant bound count these. */
  waiting: number;
}

/** One model's slots, and the calls waiting for them, one FIFO per tenant (only tenants with a call waiting). */
interface Pool {
  inFlight: number;
  waiting: number;
  queues: Map<Tenant, Waiter[]>;
}

// Slot hold times are averaged with this weight on the newest one: a few calls make the estimate.
const HOLD_SMOOTHING = 0.2;
const MAX_RETRY_AFTER_S = 60;

export class FairQueue {
  private readonly tenants = new Map<string, Tenant>();
  private readonly pools = new Map<string, Pool>();
  private inFlight = 0;
  private waitingTotal = 0;
  private seq = 0;
  /** The tenant whose last waiting call was admitted most recently ("the last client to leave the queue"). */
  private lastLeft: Tenant | undefined;
  /** One estimate for every model: a pool is dropped when idle, and its own estimate would go with it. */
  private meanHoldMs: number | undefined;

  constructor(private readonly options: FairQueueOptions) {
    if (!(options.slots >= 1)) throw new RangeError('slots must be at least 1');
  }

  /**
   * Admits a call of `tenant` for `model` at once when one of the model's slots is free and
   * nobody waits for it, else queues it. The promise rejects with 503 backend_busy when the queue
   * is full, and with client_closed when `signal` aborts while the call waits: it then leaves the
   * queue, charged nothing. `model` names the backend's model as one key for all its spellings.
   */
  acquire(tenant: string, weight: number, model: string, signal?: AbortSignal): Promise<Admission> {
    if (signal?.aborted) return Promise.reject(clientClosed());
    const t = this.tenantOf(tenant, weight);
    const pool = this.pools.get(model);
    if (pool === undefined || (pool.waiting === 0 && pool.inFlight < this.options.slots)) {
      // It enters the queue and leaves it at once: the same lift as a waiting call's, unless the
      // tenant already waits (for another model), when it is not starting to wait.
      if (t.waiting === 0) {
        this.lift(t);
        this.lastLeft = t;
      }
      return Promise.resolve(this.admit(t, model, pool ?? this.poolOf(model)));
    }
    if (t.waiting >= this.options.maxWaitingPerTenant || this.waitingTotal >= this.options.maxWaiting) {
      return Promise.reject(this.busy(t.waiting >= this.options.maxWaitingPerTenant));
    }
    if (t.waiting === 0) this.lift(t);
    return new Promise<Admission>((resolve, reject) => {
      const waiter: Waiter = {
        seq: this.seq++,
        admit: () => {
          signal?.removeEventListener('abort', abandon);
          resolve(this.admit(t, model, pool));
        },
      };
      const abandon = () => {
        if (this.unqueue(pool, t, waiter)) this.dropIfIdle(model, pool);
        reject(clientClosed());
      };
      signal?.addEventListener('abort', abandon, { once: true });
      let queue = pool.queues.get(t);
      if (queue === undefined) pool.queues.set(t, (queue = []));
      queue.push(waiter);
      pool.waiting++;
      t.waiting++;
      this.waitingTotal++;
    });
  }

  /** The whole state: each model's slots, each tenant's counter and calls, the bounds (admin view, tests). */
  snapshot(): QueueState {
    return {
      slots: this.options.slots,
      inFlight: this.inFlight,
      waiting: this.waitingTotal,
      maxWaiting: this.options.maxWaiting,
      maxWaitingPerTenant: this.options.maxWaitingPerTenant,
      models: [...this.pools]
        .map(([model, p]) => ({ model, slots: this.options.slots, inFlight: p.inFlight, waiting: p.waiting }))
        .sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : 0)),
      tenants: [...this.tenants].map(([tenant, t]) => ({ tenant, counter: t.counter, weight: t.weight, inFlight: t.inFlight, waiting: t.waiting })),
    };
  }

  private tenantOf(tenant: string, weight: number): Tenant {
    if (!(weight > 0)) throw new RangeError(`weight must be positive, got ${weight}`);
    let t = this.tenants.get(tenant);
    if (t === undefined) {
      t = { counter: 0, weight, inFlight: 0, waiting: 0 };
      this.tenants.set(tenant, t);
    }
    // The plan's weight as it is now: an operator's change applies from the next call.
    t.weight = weight;
    return t;
  }

  private poolOf(model: string): Pool {
    let pool = this.pools.get(model);
    if (pool === undefined) {
      pool = { inFlight: 0, waiting: 0, queues: new Map() };
      this.pools.set(model, pool);
    }
    return pool;
  }

  private dropIfIdle(model: string, pool: Pool): void {
    if (pool.inFlight === 0 && pool.waiting === 0 && this.pools.get(model) === pool) this.pools.delete(model);
  }

  /** Takes a waiting call out of its pool; false when it was not there (admitted meanwhile). */
  private unqueue(pool: Pool, t: Tenant, waiter: Waiter): boolean {
    const queue = pool.queues.get(t);
    const i = queue?.indexOf(waiter) ?? -1;
    if (i < 0) return false;
    queue!.splice(i, 1);
    if (queue!.length === 0) pool.queues.delete(t);
    pool.waiting--;
    t.waiting--;
    this.waitingTotal--;
    return true;
  }

  /** A tenant starting to wait catches up with the others: idle time is not banked. */
  private lift(t: Tenant): void {
    let floor: number | undefined;
    for (const other of this.tenants.values()) {
      if (other !== t && other.waiting > 0 && (floor === undefined || other.counter < floor)) floor = other.counter;
    }
    floor ??= this.lastLeft?.counter;
    if (floor !== undefined && floor > t.counter) t.counter = floor;
  }

  private admit(t: Tenant, model: string, pool: Pool): Admission {
    this.inFlight++;
    pool.inFlight++;
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
        pool.inFlight--;
        t.inFlight--;
        const held = this.options.now() - started;
        this.meanHoldMs = this.meanHoldMs === undefined ? held : this.meanHoldMs + HOLD_SMOOTHING * (held - this.meanHoldMs);
        this.dispatch(pool);
        this.dropIfIdle(model, pool);
      },
    };
  }

  /** Fills the model's free slots from the calls waiting for it, least served tenant first. */
  private dispatch(pool: Pool): void {
    while (pool.inFlight < this.options.slots && pool.waiting > 0) {
      let next: Tenant | undefined;
      let nextHead: Waiter | undefined;
      for (const [t, queue] of pool.queues) {
        const head = queue[0]!;
        if (next === undefined || t.counter < next.counter || (t.counter === next.counter && head.seq < nextHead!.seq)) {
          next = t;
          nextHead = head;
        }
      }
      this.unqueue(pool, next!, nextHead!);
      if (next!.waiting === 0) this.lastLeft = next;
      nextHead!.admit();
    }
  }

  /**
   * 503 with a Retry-After from how long slots are held (one mean for all models) and how many
   * calls wait ahead: they drain through the slots of every model that has calls waiting.
   */
  private busy(ownQueueFull: boolean): HearthError {
    const ahead = this.waitingTotal + 1;
    let draining = 0;
    for (const p of this.pools.values()) if (p.waiting > 0) draining += this.options.slots;
    const seconds = this.meanHoldMs === undefined ? 1 : Math.ceil((this.meanHoldMs * ahead) / Math.max(draining, this.options.slots) / 1000);
    const retryAfterS = Math.min(MAX_RETRY_AFTER_S, Math.max(1, seconds));
    const message = ownQueueFull
      ? `the backend is busy and this workspace already has ${this.options.maxWaitingPerTenant} calls waiting for it, as many as may wait; retry later`
      : `the backend is busy and ${this.options.maxWaiting} calls are waiting for it, as many as may wait; retry later`;
    return new HearthError('unavailable', message, { code: 'backend_busy', retryAfterS });
  }
}
