// The value kinds of the config schema. Each kind turns a raw value (from YAML, an environment
// variable or a command-line flag, so often a string) into its typed form, or says what it
// must be. Errors are returned, not thrown, so the loader can collect every problem at once.
import { resolve } from 'node:path';
import cron from 'node-cron';
import { HOST_PORT_EXPECTED, parseHostPort, type HostPort } from './host-port.js';

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

export interface ParseContext {
  /** Folder that relative paths are resolved against: the config file's, or the CWD. */
  readonly baseDir: string;
}

export interface Kind<T> {
  /** Short form for generated docs: "integer 1–256", "auto | off | cuda | vulkan". */
  readonly hint: string;
  /** URL-typed values get their credentials masked in redacted output. */
  readonly isUrl?: true;
  parse(raw: unknown, ctx: ParseContext): Parsed<T>;
}

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (problem: string): Parsed<never> => ({ ok: false, problem });

export function text(options: { nonEmpty?: boolean } = {}): Kind<string> {
  return {
    hint: options.nonEmpty ? 'text' : 'text, may be empty',
    parse(raw) {
      if (typeof raw !== 'string') return bad('must be a string');
      if (options.nonEmpty && raw === '') return bad('must not be empty');
      return ok(raw);
    },
  };
}

export function integer(options: { min?: number; max?: number } = {}): Kind<number> {
  const { min, max } = options;
  const range =
    min !== undefined && max !== undefined ? ` from ${min} to ${max}` : min !== undefined ? ` ≥ ${min}` : max !== undefined ? ` ≤ ${max}` : '';
  return {
    hint: `integer${min !== undefined && max !== undefined ? ` ${min}–${max}` : range}`,
    parse(raw) {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^[+-]?\d+$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || (min !== undefined && n < min) || (max !== undefined && n > max)) {
        return bad(`must be an integer${range}`);
      }
      return ok(n);
    },
  };
}

export function boolean(): Kind<boolean> {
  return {
    hint: 'true | false',
    parse(raw) {
      if (typeof raw === 'boolean') return ok(raw);
      // Environment variables and flags are strings; 1/0 as systemd and Ollama's env parsing accept.
      const s = typeof raw === 'string' ? raw.toLowerCase() : undefined;
      if (s === 'true' || s === '1') return ok(true);
      if (s === 'false' || s === '0') return ok(false);
      return bad('must be true or false');
    },
  };
}

export function oneOf<const V extends string>(values: readonly V[]): Kind<V> {
  return {
    hint: values.join(' | '),
    parse(raw) {
      return typeof raw === 'string' && (values as readonly string[]).includes(raw)
        ? ok(raw as V)
        : bad(`must be one of ${values.join(', ')}`);
    },
  };
}

const msPerUnit: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "1h30m" → 5_400_000. Go-style units (ms, s, m, h), decimals allowed; "0" needs no unit. */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) return undefined;
  return Math.round(parts.reduce((ms, p) => ms + Number(p[1]) * (msPerUnit[p[2] as string] ?? NaN), 0));
}

export function formatDuration(ms: number): string {
  for (const unit of ['h', 'm', 's'] as const) {
    const per = msPerUnit[unit] as number;
    if (ms >= per && ms % per === 0) return `${ms / per}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * A duration in milliseconds. A bare number other than 0 is refused: "30" could mean seconds
 * or milliseconds, and guessing wrong by 1000× is worse than asking for a unit. With
 * `negativeIsForever`, any negative value ("-1", as in Ollama's keep_alive) becomes Infinity.
 */
export function duration(options: { min?: number; negativeIsForever?: boolean } = {}): Kind<number> {
  const min = options.min ?? 0;
  const expected = `a duration${min > 0 ? ` ≥ ${formatDuration(min)}` : ''} such as "5s", "2m" or "1h30m"${options.negativeIsForever ? ', or -1 for forever' : ''}`;
  return {
    hint: `duration${min > 0 ? ` ≥ ${formatDuration(min)}` : ''}${options.negativeIsForever ? ', -1 = forever' : ''}`,
    parse(raw) {
      const s = typeof raw === 'number' ? String(raw) : raw;
      if (typeof s !== 'string') return bad(`must be ${expected}`);
      if (options.negativeIsForever && /^-\d/.test(s) && (parseDuration(s.slice(1)) !== undefined || /^-\d+$/.test(s))) {
        return ok(Infinity);
      }
      const ms = parseDuration(s);
      if (ms === undefined || ms < min) return bad(`must be ${expected}`);
      return ok(ms);
    },
  };
}

// 1024-based, as body-parser's "1mb" means 1 MiB: the same string means the same in both places.
const bytesPerUnit: Readonly<Record<string, number>> = { b: 1, kb: 1024, kib: 1024, mb: 1024 ** 2, mib: 1024 ** 2, gb: 1024 ** 3, gib: 1024 ** 3 };

export function formatSize(bytes: number): string {
  for (const unit of ['gb', 'mb', 'kb'] as const) {
    const per = bytesPerUnit[unit] as number;
    if (bytes >= per && bytes % per === 0) return `${bytes / per}${unit}`;
  }
  return `${bytes}`;
}

/** A size in bytes: "512kb", "1mb", "1.5gb" (units of 1024) or a whole number of bytes. */
export function size(options: { min: number; max: number }): Kind<number> {
  const expected = `a size from ${formatSize(options.min)} to ${formatSize(options.max)} such as "512kb" or "1mb", or a number of bytes`;
  return {
    hint: `size ${formatSize(options.min)}–${formatSize(options.max)}`,
    parse(raw) {
      let bytes = NaN;
      if (typeof raw === 'number') bytes = Number.isInteger(raw) ? raw : NaN;
      else if (typeof raw === 'string') {
        const m = /^(\d+(?:\.\d+)?)\s*([a-z]+)?$/i.exec(raw);
        const per = m ? bytesPerUnit[(m[2] ?? 'b').toLowerCase()] : undefined;
        if (m && per !== undefined) bytes = Math.floor(Number(m[1]) * per);
      }
      if (!Number.isSafeInteger(bytes) || bytes < options.min || bytes > options.max) return bad(`must be ${expected}`);
      return ok(bytes);
    },
  };
}

/** "HOST:PORT", IPv6 in brackets ("[::1]:8080"). Port 0 asks the OS for a free port (tests). */
export function hostPort(): Kind<HostPort> {
  return {
    hint: 'HOST:PORT',
    parse(raw) {
      const parsed = typeof raw === 'string' ? parseHostPort(raw) : undefined;
      return parsed === undefined ? bad(`must be ${HOST_PORT_EXPECTED}`) : ok(parsed);
    },
  };
}

/**
 * An http(s) URL, kept as written but without trailing slashes, so callers can append
 * "/api/chat" without doubling the slash. `allowEmpty`: "" means unset.
 */
export function url(options: { allowEmpty?: boolean } = {}): Kind<string> {
  const expected = `an http:// or https:// URL${options.allowEmpty ? ', or "" for none' : ''}`;
  return {
    hint: `http(s) URL${options.allowEmpty ? ' or ""' : ''}`,
    isUrl: true,
    parse(raw) {
      if (typeof raw !== 'string') return bad(`must be ${expected}`);
      if (raw === '' && options.allowEmpty) return ok('');
      let parsed: URL;
      try {
        parsed = new URL(raw);
      } catch {
        return bad(`must be ${expected}`);
      }
      if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || raw !== raw.trim()) return bad(`must be ${expected}`);
      if (parsed.search !== '' || parsed.hash !== '') return bad(`must be ${expected} without ?query or #fragment`);
      return ok(raw.replace(/\/+$/, ''));
    },
  };
}

/** A five-field cron expression ('minute hour day-of-month month day-of-week'), as node-cron reads it. */
export function cronSchedule(): Kind<string> {
  const expected = 'a cron expression of five fields (minute hour day-of-month month day-of-week) such as "0 3 * * *"';
  return {
    hint: 'cron expression',
    parse(raw) {
      // node-cron also takes six fields, the first of them seconds: "* 3 * * * *" would run the
      // daily job every second of an hour. Five fields only, as crontab(5) reads them.
      if (typeof raw !== 'string' || raw.trim().split(/\s+/).length !== 5 || !cron.validate(raw)) return bad(`must be ${expected}`);
      return ok(raw.trim());
    },
  };
}

/**
 * How many days something is kept: "90d", a whole number of days, or "keep" (never removed,
 * Infinity). At least one day: a retention of "0" would remove what was just written.
 */
export function retentionDays(): Kind<number> {
  const expected = 'a number of days such as "90d" (at least 1), or "keep"';
  return {
    hint: 'days such as "90d", or keep',
    parse(raw) {
      if (raw === 'keep') return ok(Infinity);
      const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.replace(/d$/, '') : '';
      const days = /^\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(days) || days < 1) return bad(`must be ${expected}`);
      return ok(days);
    },
  };
}

/** An IANA time zone, checked by Intl and returned in its canonical spelling ("utc" → "UTC"). */
export function timeZone(): Kind<string> {
  return {
    hint: 'IANA time zone',
    parse(raw) {
      if (typeof raw !== 'string' || raw === '') return bad('must be an IANA time zone such as UTC or Europe/Paris');
      try {
        return ok(new Intl.DateTimeFormat('en-US', { timeZone: raw }).resolvedOptions().timeZone);
      } catch {
        return bad('must be an IANA time zone such as UTC or Europe/Paris');
      }
    },
  };
}

/** A filesystem path, returned absolute: relative ones are resolved against the context's folder. */
export function path(options: { allowEmpty?: boolean } = {}): Kind<string> {
  return {
    hint: options.allowEmpty ? 'path or ""' : 'path',
    parse(raw, ctx) {
      if (options.allowEmpty && raw === '') return ok('');
      if (typeof raw !== 'string' || raw === '') return bad('must be a path');
      // systemd runs no shell, so "~" would become a folder literally named "~".
      if (raw.startsWith('~')) return bad('must be a path without ~ (write the full path)');
      return ok(resolve(ctx.baseDir, raw));
    },
  };
}

/**
 * An executable: a bare name ("ollama") is kept for a PATH lookup at spawn time; anything with a
 * slash is a path, resolved like `path()` so "./bin/ollama" does not depend on the daemon's CWD.
 */
export function command(): Kind<string> {
  return {
    hint: 'command name or path',
    parse(raw, ctx) {
      if (typeof raw !== 'string' || raw.trim() === '') return bad('must be a command name or a path');
      return ok(raw.includes('/') ? resolve(ctx.baseDir, raw) : raw);
    },
  };
}
