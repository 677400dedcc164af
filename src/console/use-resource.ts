import { useCallback, useEffect, useRef, useState } from 'react';

export interface Resource<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Loads again (after a change), keeping the data shown until the new answer comes. */
  reload: () => void;
}

/**
 * What `load` answers, loaded when `key` changes (a filter, a period) and on reload(). An answer
 * that comes after a newer request started is dropped, so a slow old filter never overwrites a
 * new one.
 */
export function useResource<T>(load: () => Promise<T>, key: string = ''): Resource<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const [round, setRound] = useState(0);
  const latest = useRef(0);
  const loader = useRef(load);
  loader.current = load;

  useEffect(() => {
    const mine = ++latest.current;
    setLoading(true);
    loader.current().then(
      (d) => {
        if (mine !== latest.current) return;
        setData(d);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (mine !== latest.current) return;
        setError(e);
        setLoading(false);
      },
    );
  }, [key, round]);

  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { data, error, loading, reload };
}

/** Calls reload every `ms` while the page is visible (the overview's live figures). */
export function useEvery(ms: number, reload: () => void): void {
  useEffect(() => {
    const timer = window.setInterval(() => {
      if (document.visibilityState === 'visible') reload();
    }, ms);
    return () => window.clearInterval(timer);
  }, [ms, reload]);
}

export interface Action {
  busy: boolean;
  error: unknown;
  /** Runs one change; its error is kept for the page to show, and the answer returned (undefined on failure). */
  run: <T>(change: () => Promise<T>) => Promise<T | undefined>;
  clear: () => void;
}

/** The state of one kind of change a page makes (create, save, revoke): busy while it runs, its error after. */
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const run = useCallback(async <T,>(change: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    try {
      const answer = await change();
      setError(undefined);
      return answer;
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  const clear = useCallback(() => setError(undefined), []);
  return { busy, error, run, clear };
}
