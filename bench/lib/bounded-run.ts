// One bound for a whole benchmark run: its --timeout, or Ctrl-C, aborts a single signal that
// everything in the run listens to.

export interface BoundedRun {
  signal: AbortSignal;
  /** Rejects with the reason once the run is aborted (for Promise.race); never unhandled. */
  aborted: Promise<never>;
  /** Clears the timer and the SIGINT handler, and aborts whatever still listens. */
  end(): void;
}

export function boundedRun(timeoutS: number): BoundedRun {
  const run = new AbortController();
  const timer = setTimeout(() => run.abort(new Error(`benchmark exceeded --timeout ${timeoutS} s`)), timeoutS * 1000);
  const onSigint = () => run.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  const aborted = new Promise<never>((_, reject) => run.signal.addEventListener('abort', () => reject(run.signal.reason), { once: true }));
  aborted.catch(() => {});
  return {
    signal: run.signal,
    aborted,
    end() {
      clearTimeout(timer);
      process.off('SIGINT', onSigint);
      run.abort(new Error('finished'));
    },
  };
}
