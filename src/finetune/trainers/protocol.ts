// The trainers' stdout protocol: one JSON object per line, written by the llamacpp worker
// (llamacpp/worker.ts) and the peft trainer (peft/peft_train.py) alike, and read by the runner
// through parseWorkerLine. Any other stdout line, and all of stderr, is log text.

export interface ProgressEvent {
  type: 'progress';
  step: number;
  totalSteps: number;
  epoch: number;
  /** Train loss of the step; null on a line that only reports an evaluation (peft). */
  loss: number | null;
  /** Loss on evalSamples, on the last step of each epoch when there are any; else null. */
  evalLoss: number | null;
  /** Window tokens (EOS padding included: it is computed like any token) per wall-clock second so far. */
  tokensPerS: number | null;
  /** Remaining steps × mean wall time per step so far. */
  etaS: number | null;
}

export interface DoneEvent {
  type: 'done';
  /** Artifact paths by role: llamacpp `{adapter}` or `{model}`; peft `{adapterDir, adapterFiles, adapter?}`. */
  artifacts: Record<string, unknown>;
  steps?: number;
  finalLoss?: number;
  /** Training tokens per wall-clock second, the first step (graph allocation) left out; null under two steps. */
  tokensPerS?: number | null;
  /** The trainer process's peak resident memory (its high-water mark), in bytes. */
  peakRssBytes?: number;
}

export interface ErrorEvent {
  type: 'error';
  message: string;
}

export type WorkerEvent = ProgressEvent | DoneEvent | ErrorEvent;

/** Exit code after SIGTERM (128 + 15), the shell's convention; no artifacts are written. */
export const EXIT_TERMINATED = 143;

/** The done line's figures; only finite numbers among them are kept. */
export const DONE_STATS = ['steps', 'finalLoss', 'tokensPerS', 'peakRssBytes'] as const;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The event a stdout line carries, or undefined when it carries none (not JSON, or not one of
 * the three types): such a line is log text. A trainer is another program, so each field is
 * checked: a number that is missing or not finite reads as null (step counters as 0), a done
 * line keeps only its finite figures.
 */
export function parseWorkerLine(line: string): WorkerEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isObject(v)) return undefined;
  switch (v.type) {
    case 'progress':
      return {
        type: 'progress',
        step: num(v.step) ?? 0,
        totalSteps: num(v.totalSteps) ?? 0,
        epoch: num(v.epoch) ?? 0,
        loss: num(v.loss),
        evalLoss: num(v.evalLoss),
        tokensPerS: num(v.tokensPerS),
        etaS: num(v.etaS),
      };
    case 'done': {
      const done: DoneEvent = { type: 'done', artifacts: isObject(v.artifacts) ? v.artifacts : {} };
      for (const key of DONE_STATS) {
        const n = num(v[key]);
        if (n !== null) done[key] = n;
      }
      return done;
    }
    case 'error':
      return { type: 'error', message: typeof v.message === 'string' && v.message !== '' ? v.message : 'the trainer reported an error' };
    default:
      return undefined;
  }
}
