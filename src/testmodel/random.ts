// Deterministic pseudo-random numbers for generated test weights. Only integer arithmetic,
// Math.sqrt/log/cos (V8's fdlibm port, identical on every platform) and Float32 rounding are
// used, so the same seed yields the same bytes on any machine.

/** 32-bit FNV-1a of a string, used to give every tensor its own independent stream. */
export function hashString32(s: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(s, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** splitmix32: returns uniform floats in [0, 1) with 32 bits of resolution. */
export function splitmix32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let t = a ^ (a >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    t ^= t >>> 15;
    return (t >>> 0) / 4294967296;
  };
}

/** A stream keyed by (seed, label): changing one tensor's shape never shifts another's values. */
export function streamFor(seed: number, label: string): () => number {
  return splitmix32(Math.imul(seed | 0, 0x9e3779b1) ^ hashString32(label));
}

/** Fills `out` with N(0, std²) samples (Box–Muller, both outputs used). */
export function fillNormal(out: Float32Array, std: number, uniform: () => number): Float32Array {
  for (let i = 0; i < out.length; i += 2) {
    const u1 = 1 - uniform(); // (0, 1]: keeps log() finite
    const u2 = uniform();
    const r = Math.sqrt(-2 * Math.log(u1)) * std;
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}
