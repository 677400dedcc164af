import { useEffect, useRef, useState } from 'react';
import { isFinal } from '../api/finetune.js';
import { segment } from '../api/http.js';
import type { JobProgress, LossPoint, ProgressEvent } from '../api/types.js';

export interface JobEvents {
  lines: string[];
  progress: JobProgress | null;
  /** The loss points the progress events brought, in step order. */
  live: LossPoint[];
  /** The last state event's state, if one came. */
  state: string | undefined;
  connected: boolean;
}

// A log can be long; the page shows its tail.
const MAX_LINES = 2000;

/**
 * A job's log, progress and state as the daemon streams them (GET
 * /api/admin/finetune/jobs/{id}/events, with the session cookie). Each connection starts with
 * the log so far, so a reconnect replaces the lines rather than adding them twice. The stream
 * ends after the job's final state; EventSource would then reconnect, so it is closed at that
 * point (or at once on an error once the job is known to be final).
 */
export function useJobEvents(jobId: string, knownFinal: boolean): JobEvents {
  const [lines, setLines] = useState<string[]>([]);
  const [progress, setProgress] = useState<JobProgress | null>(null);
  const [live, setLive] = useState<LossPoint[]>([]);
  const [state, setState] = useState<string>();
  const [connected, setConnected] = useState(false);
  const knownFinalNow = useRef(knownFinal);
  knownFinalNow.current = knownFinal;

  useEffect(() => {
    setLines([]);
    setLive([]);
    setProgress(null);
    setState(undefined);
    let final = false;
    const source = new EventSource(`/api/admin/finetune/jobs/${segment(jobId)}/events`);
    source.addEventListener('open', () => {
      setConnected(true);
      setLines([]);
      setLive([]);
    });
    source.addEventListener('log', (e) => setLines((old) => [...old, e.data].slice(-MAX_LINES)));
    source.addEventListener('progress', (e) => {
      const p = safeJson(e.data) as ProgressEvent | undefined;
      if (!p) return;
      setProgress(p);
      const points = p.loss_points ?? [];
      if (points.length > 0) setLive((old) => [...old, ...points.filter((x) => x.step > (old.at(-1)?.step ?? -1))]);
    });
    source.addEventListener('state', (e) => {
      const s = (safeJson(e.data) as { state?: string } | undefined)?.state;
      if (!s) return;
      setState(s);
      if (isFinal(s)) {
        final = true;
        source.close();
        setConnected(false);
      }
    });
    source.addEventListener('error', () => {
      setConnected(false);
      if (final || knownFinalNow.current) source.close();
    });
    return () => source.close();
  }, [jobId]);

  return { lines, progress, live, state, connected };
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}
