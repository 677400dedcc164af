/** Anything that emits `state` events (the supervisor, the backend manager). */
export interface StateEmitter<S> {
  on(event: 'state', listener: (state: S) => void): unknown;
  off(event: 'state', listener: (state: S) => void): unknown;
}

export interface WaitForState<S> {
  current: S;
  /** The state waited for. */
  target: S;
  /** States from which the target can no longer be reached. */
  terminal: readonly S[];
  timeoutMs: number;
  /** The error for a terminal state, or for the timeout (state undefined). */
  failure(state: S | undefined): Error;
}

/**
 * Resolves once an emitter of `state` events reaches the target state; rejects when it reaches
 * a terminal one or the timeout passes. Shared by the supervisor and the backend manager.
 */
export function waitForState<S>(emitter: StateEmitter<S>, w: WaitForState<S>): Promise<void> {
  if (w.current === w.target) return Promise.resolve();
  if (w.terminal.includes(w.current)) return Promise.reject(w.failure(w.current));
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      emitter.off('state', onState);
      if (err) reject(err);
      else resolve();
    };
    const onState = (state: S) => {
      if (state === w.target) done();
      else if (w.terminal.includes(state)) done(w.failure(state));
    };
    const timer = setTimeout(() => done(w.failure(undefined)), w.timeoutMs);
    emitter.on('state', onState);
  });
}
