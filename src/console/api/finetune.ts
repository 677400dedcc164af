import { FINAL_JOB_STATES, type Job, type JobProgress, type LossPoint } from './types.js';

// The job resource is the contract's Job (camelCase, as /api/v1 answers it); issue 19's
// agreement wrote some of its fields in snake_case (loss_history, eval_loss, total_steps). The
// console reads either, so it shows the curve whichever spelling the daemon sends.

type Loose = Record<string, unknown>;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function progressOf(raw: unknown): JobProgress | null {
  if (raw === null || typeof raw !== 'object') return null;
  const p = raw as Loose;
  return {
    step: num(p.step) ?? 0,
    totalSteps: num(p.totalSteps ?? p.total_steps) ?? 0,
    epoch: num(p.epoch) ?? 0,
    loss: num(p.loss),
    evalLoss: num(p.evalLoss ?? p.eval_loss),
    tokensPerS: num(p.tokensPerS ?? p.tokens_per_s),
    etaS: num(p.etaS ?? p.eta_s),
  };
}

export function jobOf(raw: unknown): Job {
  const j = raw as Loose;
  const history = (j.lossHistory ?? j.loss_history ?? []) as Loose[];
  return {
    ...(j as unknown as Job),
    progress: progressOf(j.progress),
    lossHistory: history.map((h) => ({ step: num(h.step) ?? 0, epoch: num(h.epoch) ?? 0, loss: num(h.loss) ?? 0, evalLoss: num(h.evalLoss ?? h.eval_loss) })),
  };
}

export const isFinal = (state: string): boolean => FINAL_JOB_STATES.includes(state);

/** The loss curve: the job's history, then the live progress events past its last step. */
export function lossCurve(history: LossPoint[], live: LossPoint[]): LossPoint[] {
  const last = history.at(-1)?.step ?? -1;
  return [...history, ...live.filter((p) => p.step > last)];
}
