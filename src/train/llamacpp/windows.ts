// Training windows from tokenized samples.
//
// Choice: the samples are concatenated (each starting with BOS and ending where its text ends,
// usually with EOS from the chat template) into one stream, which is cut into windows of
// `n` tokens; the stream is repeated cyclically to fill the last window. Repeating real samples
// instead of padding matters because this API has no loss mask: every label is trained, so
// padding tokens would teach the model to emit padding. Labels are the stream shifted by one.

export interface TokenWindows {
  /** windows × n tokens, window-major. */
  data: Int32Array;
  /** Next-token labels, laid out like data. */
  labels: Int32Array;
  count: number;
  n: number;
}

export function buildWindows(samples: readonly Int32Array[], n: number): TokenWindows {
  const total = samples.reduce((s, t) => s + t.length, 0);
  if (total < 2) throw new RangeError('the samples hold fewer than 2 tokens');
  const count = Math.max(1, Math.ceil((total - 1) / n));
  // count·n inputs plus one more token for the last label.
  const stream = new Int32Array(count * n + 1);
  let at = 0;
  while (at < stream.length) {
    for (const s of samples) {
      const take = Math.min(s.length, stream.length - at);
      stream.set(s.subarray(0, take), at);
      at += take;
      if (at === stream.length) break;
    }
  }
  const data = new Int32Array(count * n);
  const labels = new Int32Array(count * n);
  for (let w = 0; w < count; w++) {
    data.set(stream.subarray(w * n, w * n + n), w * n);
    labels.set(stream.subarray(w * n + 1, w * n + n + 1), w * n);
  }
  return { data, labels, count, n };
}
