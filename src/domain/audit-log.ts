import type { Database } from 'better-sqlite3';
import type { Clock } from './clock.js';

/** One thing done through /api/admin: who, from where, what, to what, with which (redacted) body. */
export interface AuditEntry {
  id: number;
  at: Date;
  /** "admin-token", "session:<8 hex>", or "anonymous" (a refused sign-in). */
  actor: string;
  /** The client's address as the daemon saw it (behind a reverse proxy: the proxy's). */
  source: string;
  /** The contract's operationId. */
  action: string;
  method: string;
  /** The contract's path template: /api/admin/keys/{id}/rotate. */
  path: string;
  /** The path's parameters. */
  target: Record<string, string>;
  /** The request body, redacted (redactSecrets), or what the handler noted (a refusal's reason). */
  details: Record<string, unknown>;
}

export type NewAuditEntry = Omit<AuditEntry, 'id' | 'at'>;

/** Entries one page may hold (GET /api/admin/audit's limit). */
export const AUDIT_PAGE_MAX = 500;

interface Row {
  id: number;
  at: string;
  actor: string;
  source: string;
  action: string;
  method: string;
  path: string;
  target: string;
  details: string;
}

const entryOf = (r: Row): AuditEntry => ({
  id: r.id,
  at: new Date(r.at),
  actor: r.actor,
  source: r.source,
  action: r.action,
  method: r.method,
  path: r.path,
  target: JSON.parse(r.target) as Record<string, string>,
  details: JSON.parse(r.details) as Record<string, unknown>,
});

/** The audit_log table: appended to, listed newest first; the schema refuses changes to a row. */
export class AuditLog {
  private readonly stmts;

  constructor(
    db: Database,
    private readonly clock: Clock,
  ) {
    this.stmts = {
      insert: db.prepare<[string, string, string, string, string, string, string, string], { id: number }>(
        'INSERT INTO audit_log (at, actor, source, action, method, path, target, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id',
      ),
      page: db.prepare<[number, number], Row>('SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?'),
    };
  }

  append(e: NewAuditEntry): AuditEntry {
    const at = this.clock.now();
    const { id } = this.stmts.insert.get(at.toISOString(), e.actor, e.source, e.action, e.method, e.path, JSON.stringify(e.target), JSON.stringify(e.details))!;
    return { ...e, id, at };
  }

  /** Newest first: up to `limit` entries older than the entry `before` (all, without it). */
  list({ limit, before }: { limit: number; before?: number }): AuditEntry[] {
    return this.stmts.page.all(before ?? Number.MAX_SAFE_INTEGER, Math.min(Math.max(1, limit), AUDIT_PAGE_MAX)).map(entryOf);
  }
}

// ---- What of a request body the log keeps ----

/** Names are cut into words (snake_case, kebab-case, camelCase) and these words mark a secret. */
const SECRET_WORDS = new Set(['secret', 'secrets', 'token', 'tokens', 'password', 'passwords', 'passphrase', 'credential', 'credentials', 'cookie', 'authorization']);

/** Whether a field's name says it holds a secret: a secret word anywhere, or "key" last (api_key, key; not key_id). */
export function namedLikeSecret(name: string): boolean {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '');
  const last = words.at(-1);
  return words.some((w) => SECRET_WORDS.has(w)) || last === 'key' || last === 'keys';
}

// A Hearth key (hth_<id>_<secret>) or admin token (hth_admin_…) pasted into a field of any name.
const SECRET_VALUE = /hth_[A-Za-z0-9_-]{8,}/;
const MAX_STRING = 1000;
const MAX_ITEMS = 100;
const MAX_DEPTH = 8;

/**
 * A copy of a request body fit for the audit log. A field named like a secret is left out,
 * unless its value is a number, a boolean or null (max_tokens: 256 is a count; a credential is
 * text); a string that looks like a Hearth key or admin token is replaced wherever it is; long
 * strings and arrays are cut, deep nesting is cut off.
 */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') {
    if (SECRET_VALUE.test(value)) return '[redacted]';
    return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
  }
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (Array.isArray(value)) return value.slice(0, MAX_ITEMS).map((v) => redactSecrets(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const plain = v === null || typeof v === 'number' || typeof v === 'boolean';
    if (namedLikeSecret(k) && !plain) continue;
    out[k] = redactSecrets(v, depth + 1);
  }
  return out;
}
