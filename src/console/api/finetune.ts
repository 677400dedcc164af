import { FINAL_JOB_STATES, type LossPoint } from './types.js';

export const isFinal = (state: string): boolean => FINAL_JOB_STATES.includes(state);

/** The loss curve: the job's history, then the points streamed since, past its last step. */
export function lossCurve(history: LossPoint[], live: LossPoint[]): LossPoint[] {
  const last = history.at(-1)?.step ?? -1;
  return [...history, ...live.filter((p) => p.step > last)];
}
