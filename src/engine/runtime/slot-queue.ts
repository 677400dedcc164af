import { unavailable } from '../../errors.js';

/**
 * N concurrent slots with a bounded FIFO of waiters. A full queue is refused at once with 503
 * (as Ollama does with OLLAMA_MAX_QUEUE) rather than growing without limit; a waiter whose
 * request is aborted leaves the queue.
 */
export class SlotQueue<S> {
  private readonly free: S[];
  private readonly waiters: Array<{ resolve: (slot: S) => void; reject: (err: unknown) => void; signal?: AbortSignal; onAbort?: () => void }> = [];

  private readonly total: number;

  constructor(slots: readonly S[], private readonly maxQueue: number) {
    this.free = [...slots];
    this.total = slots.length;
  }

  get busy(): number {
    return this.total - this.free.length;
  }

  get queued(): number {
    return this.waiters.length;
  }

  acquire(signal?: AbortSignal): Promise<S> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const slot = this.free.pop();
    if (slot !== undefined) return Promise.resolve(slot);
    if (this.waiters.length >= this.maxQueue) {
      return Promise.reject(unavailable('server busy, please try again: maximum pending requests exceeded', 1, 'queue_full'));
    }
    return new Promise<S>((resolve, reject) => {
      const waiter: (typeof this.waiters)[number] = { resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiters.push(waiter);
    });
  }

  release(slot: S): void {
    const next = this.waiters.shift();
    if (next) {
      if (next.onAbort) next.signal?.removeEventListener('abort', next.onAbort);
      next.resolve(slot);
    } else {
      this.free.push(slot);
    }
  }

  /** Rejects every waiter (the model is being unloaded). */
  rejectWaiters(err: unknown): void {
    for (const w of this.waiters.splice(0)) {
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
      w.reject(err);
    }
  }
}
