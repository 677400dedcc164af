/** A camelCase name in snake_case: tokensPerS → tokens_per_s. */
export const snakeName = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * A camelCase JSON view (the fine-tune API's, under /api/v1) in the admin API's snake_case:
 * every key at every depth, except below the keys named in `opaque`, whose values are kept as
 * they are (a trainer's artifact names are its own).
 */
export function snakeKeys(value: unknown, opaque: ReadonlySet<string> = new Set()): unknown {
  if (Array.isArray(value)) return value.map((v) => snakeKeys(v, opaque));
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [snakeName(k), opaque.has(k) ? v : snakeKeys(v, opaque)]));
}
