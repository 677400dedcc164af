import { formatDuration } from '../../config/kinds.js';
import { HearthError, invalidRequest } from '../../errors.js';

/** Milliseconds a model stays loaded after its last request; Infinity means until unloaded. */
export type KeepAliveMs = number;

const unitMs: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Ollama's keep_alive: a number of seconds, or a Go duration string ("5m", "1h30m", "0",
 * "-1"). Any negative value keeps the model loaded forever; 0 unloads right after the request.
 */
export function parseKeepAlive(value: unknown, field = 'keep_alive'): KeepAliveMs {
  if (typeof value === 'number' && Number.isFinite(value)) return value < 0 ? Infinity : value * 1000;
  if (typeof value !== 'string') throw invalidRequest(`${field} must be a duration string or a number of seconds`);
  const text = value.trim();
  if (/^-?\d+(\.\d+)?$/.test(text)) return parseKeepAlive(Number(text), field);
  const negative = text.startsWith('-');
  const body = negative ? text.slice(1) : text;
  const parts = [...body.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== body) {
    throw invalidRequest(`${field}: invalid duration "${value}" (use e.g. "5m", "1h30m", "0" or "-1")`);
  }
  if (negative) return Infinity;
  return parts.reduce((ms, p) => ms + Number(p[1]) * (unitMs[p[2] as string] ?? 0), 0);
}

/**
 * The inverse of parseKeepAlive, exact: "400ms", "1500ms", "5m", "-1" for Infinity. The daemon
 * hands its engine.keep_alive to `hearth engine --keep-alive` in this form; rounding to seconds
 * there once turned 400 ms into "0s", which unloads a model as soon as its request ends.
 */
export function formatKeepAlive(ms: KeepAliveMs): string {
  if (Number.isNaN(ms)) throw new HearthError('internal', 'keep-alive must be a number of milliseconds (got NaN)');
  if (ms < 0 || ms === Infinity) return '-1';
  // formatDuration writes whole milliseconds; a fraction (from "1500us", say) is written as is.
  return Number.isInteger(ms) ? formatDuration(ms) : `${ms}ms`;
}
