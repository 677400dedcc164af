// The worker's stdout protocol: one JSON object per line. The parent parses nothing else there;
// human-readable logs (llama.cpp's included) go to stderr.

export interface ProgressEvent {
  type: 'progress';
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  /** Loss on evalSamples, on the last step of each epoch when there are any; else null. */
  evalLoss: number | null;
  /** Window tokens (EOS padding included: it is computed like any token) per wall-clock second so far. */
  tokensPerS: number;
  /** Remaining steps × mean wall time per step so far. */
  etaS: number;
}

export interface DoneEvent {
  type: 'done';
  artifacts: { adapter: string } | { model: string };
  steps: number;
  finalLoss: number;
  /** Training tokens per wall-clock second, the first step (graph allocation) left out; null under two steps. */
  tokensPerS: number | null;
  /** The trainer process's peak resident memory (its high-water mark), in bytes. */
  peakRssBytes: number;
}

export interface ErrorEvent {
  type: 'error';
  message: string;
}

export type WorkerEvent = ProgressEvent | DoneEvent | ErrorEvent;

/** Exit code after SIGTERM (128 + 15), the shell's convention; no artifacts are written. */
export const EXIT_TERMINATED = 143;

export function parseWorkerLine(line: string): WorkerEvent {
  const v = JSON.parse(line) as WorkerEvent;
  if (typeof v !== 'object' || v === null || !['progress', 'done', 'error'].includes(v.type)) throw new Error(`not a worker event: ${line}`);
  return v;
}
