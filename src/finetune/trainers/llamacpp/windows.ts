// Training windows from tokenized samples.
//
// This API has no loss mask and no attention mask: every label of a window is trained, and
// every token attends to all tokens before it in its window. So:
// - Each sample starts a window at position 0, as a conversation does at inference time. Packing
//   several samples into one window (or repeating them to fill it) let a sample attend to the
//   ones before it; on the tiny test model that taught "continue like the previous sample"
//   instead of the answer (loss 7.1 → 0.5 with the answer never produced from a fresh prompt).
// - The rest of the window is filled with EOS. The labels there teach only "after the end comes
//   the end", which generation never reaches because it stops at the first EOS. Padding costs
//   compute when samples are much shorter than the window; the context is at least 256 tokens.
// - A sample longer than the window continues in the next windows, without the earlier part.
// Labels are the tokens shifted by one.

export interface TokenWindows {
  /** windows × n tokens, window-major. */
  data: Int32Array;
  /** Next-token labels, laid out like data. */
  labels: Int32Array;
  count: number;
  n: number;
  /** Tokens that are not padding, for throughput figures. */
  realTokens: number;
}

export function buildWindows(samples: readonly Int32Array[], n: number, pad: number): TokenWindows {
  if (samples.length === 0) throw new RangeError('no samples');
  // A sample of L tokens has L − 1 labels inside itself plus the first pad as its last label.
  const chunks: Int32Array[] = [];
  for (const s of samples) {
    for (let at = 0; at < s.length; at += n) chunks.push(s.subarray(at, Math.min(s.length, at + n + 1)));
  }
  const count = chunks.length;
  const data = new Int32Array(count * n).fill(pad);
  const labels = new Int32Array(count * n).fill(pad);
  let realTokens = 0;
  chunks.forEach((c, w) => {
    const inputs = c.subarray(0, Math.min(n, c.length));
    data.set(inputs, w * n);
    labels.set(c.subarray(1), w * n);
    realTokens += inputs.length;
  });
  return { data, labels, count, n, realTokens };
}
