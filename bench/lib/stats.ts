// Small statistics for noisy machines: medians and quartiles, never means (one descheduled
// round would drag a mean; it cannot move a median much).

/** The q-quantile (0 ≤ q ≤ 1) of the values, linearly interpolated. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new RangeError('quantile of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

export const median = (values: readonly number[]): number => quantile(values, 0.5);

export interface Summary {
  median: number;
  p25: number;
  p75: number;
}

export function summarize(values: readonly number[]): Summary {
  return { median: median(values), p25: quantile(values, 0.25), p75: quantile(values, 0.75) };
}

/**
 * One generation as either side saw it. Times are milliseconds on the caller's own clock:
 * `firstTokenAt` and `lastTokenAt` relative to the moment the request (or call) was made.
 */
export interface GenerationTiming {
  firstTokenAt: number;
  lastTokenAt: number;
  /** Generated tokens, all of them (the first included). */
  tokens: number;
  text: string;
}

/** Time to first token, ms: request sent (or call made) → first token seen. */
export const ttftMs = (t: GenerationTiming): number => t.firstTokenAt;

/**
 * Decode speed from token timestamps after the first one: (tokens − 1) / (last − first). The
 * first token is excluded because its time is prompt processing, which TTFT measures.
 * node-llama-cpp occasionally hands over two tokens at once (an incomplete UTF-8 character);
 * both sides generate the same tokens (checked), so they are chunked the same way and this
 * formula treats them alike.
 */
export function decodeTokensPerSecond(t: GenerationTiming): number {
  if (t.tokens < 2 || t.lastTokenAt <= t.firstTokenAt) throw new Error(`cannot measure decode speed from ${t.tokens} token(s)`);
  return (t.tokens - 1) / ((t.lastTokenAt - t.firstTokenAt) / 1000);
}
