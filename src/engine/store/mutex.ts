// An in-process async mutex. Re-entrant within one locked call chain (tracked with
// AsyncLocalStorage), so a caller that wraps several store mutations in withLock can still
// call the store's own locking methods inside without deadlocking.
import { AsyncLocalStorage } from 'node:async_hooks';

interface Hold {
  active: boolean;
}

export class AsyncMutex {
  private tail: Promise<void> = Promise.resolve();
  private readonly context = new AsyncLocalStorage<Hold>();

  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    // A task spawned inside a locked call that outlives it sees an inactive hold, and
    // queues like anyone else instead of slipping past the lock.
    if (this.context.getStore()?.active) return fn();

    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    const hold: Hold = { active: true };
    try {
      return await this.context.run(hold, fn);
    } finally {
      hold.active = false;
      release();
    }
  }
}
