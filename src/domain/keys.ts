import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { dateOrNull, type Database } from '../db/database.js';
import { conflict, HearthError, invalidRequest, notFound } from '../errors.js';
import { parseScopes, planFromRow, scopesFromJson, type Plan, type Scope } from './catalog.js';
import type { Clock } from './clock.js';
import { workspaceFromRow, type Workspace } from './workspaces.js';

// API keys are `hth_<id>_<secret>`: <id> (16 hex digits) finds the row, <secret> (32 random
// bytes, base64url) proves possession. Only HMAC-SHA256(server secret, full key) is stored: a
// random 256-bit secret needs no slow password hash, and an HMAC costs about a microsecond
// where bcrypt would block the event loop on every request. A copy of the database without the
// server secret cannot be used to check guesses.

export interface ApiKeyRecord {
  id: string;
  workspaceId: string;
  name: string;
  /** Scopes granted when the key was made; what it may use is these ∩ its plan's current scopes. */
  scopes: Scope[];
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  /** Set when the key was replaced by rotate(): the id of its successor. */
  rotatedTo: string | null;
}

export type VerifyResult =
  | { ok: true; record: ApiKeyRecord; workspace: Workspace; plan: Plan; scopes: Scope[] }
  | { ok: false; reason: 'malformed' | 'unknown' | 'revoked' | 'expired' };

const KEY_RE = /^hth_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const MAX_NAME = 100;
/** last_used_at is advisory; writes are gathered and made at most this often. */
const TOUCH_FLUSH_MS = 1000;

/** Splits a presented key into id and secret, or null when it does not have the shape of one. */
export function parseKey(presented: string): { id: string; secret: string } | null {
  if (typeof presented !== 'string') return null;
  const m = KEY_RE.exec(presented);
  return m === null ? null : { id: m[1] as string, secret: m[2] as string };
}

interface KeyRow {
  id: string;
  workspace_id: string;
  name: string;
  scopes: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  rotated_to: string | null;
}

interface VerifyRow extends KeyRow {
  hash: Buffer;
  ws_name: string;
  ws_monthly_credits: number | null;
  ws_created_at: string;
  plan_id: string;
  plan_title: string;
  plan_description: string;
  plan_scopes: string;
  plan_monthly_credits: number | null;
  plan_rpm: number;
  plan_max_concurrent: number;
  plan_weight: number;
}

function recordFromRow(r: KeyRow): ApiKeyRecord {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    name: r.name,
    scopes: scopesFromJson(r.scopes),
    createdAt: new Date(r.created_at),
    expiresAt: dateOrNull(r.expires_at),
    revokedAt: dateOrNull(r.revoked_at),
    lastUsedAt: dateOrNull(r.last_used_at),
    rotatedTo: r.rotated_to,
  };
}

const KEY_COLS = 'k.id, k.workspace_id, k.name, k.scopes, k.created_at, k.expires_at, k.revoked_at, k.last_used_at, k.rotated_to';

export class Keys {
  private readonly stmts;
  /** A hash to compare against when the id is unknown, so both failures take the same time. */
  private readonly decoyHash: Buffer;
  private readonly pendingTouches = new Map<string, string>();
  private touchTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database,
    private readonly secret: Buffer,
    private readonly clock: Clock,
  ) {
    if (!Buffer.isBuffer(secret) || secret.length < 32) {
      throw new HearthError('internal', 'the key-hashing secret must be at least 32 bytes', { code: 'invalid_secret' });
    }
    this.decoyHash = this.hash(`hth_${'0'.repeat(16)}_${'A'.repeat(43)}`);
    this.stmts = {
      workspace: db.prepare<[string], { id: string; plan_scopes: string }>(
        'SELECT w.id, p.scopes AS plan_scopes FROM workspaces w JOIN plans p ON p.id = w.plan_id WHERE w.id = ?',
      ),
      insert: db.prepare(
        'INSERT INTO api_keys (id, workspace_id, name, scopes, hash, created_at, expires_at) VALUES (@id, @workspaceId, @name, @scopes, @hash, @createdAt, @expiresAt)',
      ),
      get: db.prepare<[string], KeyRow>(`SELECT ${KEY_COLS} FROM api_keys k WHERE k.id = ?`),
      // One indexed lookup joining key, workspace and plan: the gateway runs it on every request.
      verify: db.prepare<[string], VerifyRow>(
        `SELECT ${KEY_COLS}, k.hash,
                w.name AS ws_name, w.monthly_credits AS ws_monthly_credits, w.created_at AS ws_created_at,
                p.id AS plan_id, p.title AS plan_title, p.description AS plan_description, p.scopes AS plan_scopes,
                p.monthly_credits AS plan_monthly_credits, p.rpm AS plan_rpm, p.max_concurrent AS plan_max_concurrent, p.weight AS plan_weight
           FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id JOIN plans p ON p.id = w.plan_id
          WHERE k.id = ?`,
      ),
      touch: db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)'),
      revoke: db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
      update: db.prepare('UPDATE api_keys SET name = ?, expires_at = ? WHERE id = ?'),
      rotated: db.prepare('UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?), rotated_to = ? WHERE id = ?'),
      listAll: db.prepare<[], KeyRow>(`SELECT ${KEY_COLS} FROM api_keys k ORDER BY k.created_at, k.rowid`),
      listByWorkspace: db.prepare<[string], KeyRow>(`SELECT ${KEY_COLS} FROM api_keys k WHERE k.workspace_id = ? ORDER BY k.created_at, k.rowid`),
    };
  }

  /**
   * Issues a key. `scopes` defaults to the workspace plan's scopes; a scope the plan does not
   * grant is refused. The returned `key` is the only copy there will ever be.
   */
  create(input: { workspaceId: string; name: string; scopes?: readonly Scope[]; expiresAt?: Date | null }): { key: string; record: ApiKeyRecord } {
    const ws = this.stmts.workspace.get(input.workspaceId);
    if (ws === undefined) throw notFound(`no workspace '${input.workspaceId}'`, 'workspace_not_found');
    const planScopes = scopesFromJson(ws.plan_scopes);
    let scopes: Scope[];
    if (input.scopes === undefined) {
      scopes = planScopes;
    } else {
      scopes = parseScopes(input.scopes);
      const beyond = scopes.filter((s) => !planScopes.includes(s));
      if (beyond.length > 0) {
        throw invalidRequest(`scope ${beyond.map((s) => `'${s}'`).join(', ')} is not in the workspace's plan (${planScopes.join(', ')})`, 'scope_not_in_plan');
      }
    }
    return this.db.transaction(() => this.insert(ws.id, checkName(input.name), scopes, this.checkExpiry(input.expiresAt ?? null)))();
  }

  /**
   * Checks a presented key. Distinguishes revoked and expired only for a key whose secret
   * matches, so a guess learns nothing about which ids exist.
   */
  verify(presented: string): VerifyResult {
    const parsed = parseKey(presented);
    if (parsed === null) return { ok: false, reason: 'malformed' };
    const row = this.stmts.verify.get(parsed.id);
    const matches = timingSafeEqual(this.hash(presented), row?.hash ?? this.decoyHash); // hash is 32 bytes by the schema's CHECK
    if (row === undefined || !matches) return { ok: false, reason: 'unknown' };
    if (row.revoked_at !== null) return { ok: false, reason: 'revoked' };
    if (row.expires_at !== null && new Date(row.expires_at).getTime() <= this.clock.now().getTime()) return { ok: false, reason: 'expired' };
    const plan = planFromRow({
      id: row.plan_id,
      title: row.plan_title,
      description: row.plan_description,
      scopes: row.plan_scopes,
      monthly_credits: row.plan_monthly_credits,
      rpm: row.plan_rpm,
      max_concurrent: row.plan_max_concurrent,
      weight: row.plan_weight,
    });
    const record = recordFromRow(row);
    const workspace = workspaceFromRow({ id: row.workspace_id, name: row.ws_name, plan_id: row.plan_id, monthly_credits: row.ws_monthly_credits, created_at: row.ws_created_at });
    // A plan change takes effect at once: a key never uses more than its workspace's plan grants now.
    const scopes = record.scopes.filter((s) => plan.scopes.includes(s));
    return { ok: true, record, workspace, plan, scopes };
  }

  /**
   * Notes that a key was used. Gathered in memory and written in one transaction at most once
   * a second, so the request path does not pay for a write; a crash loses at most that second.
   */
  touch(id: string): void {
    this.pendingTouches.set(id, this.clock.now().toISOString());
    if (this.touchTimer === undefined) {
      this.touchTimer = setTimeout(() => this.flushTouches(), TOUCH_FLUSH_MS);
      this.touchTimer.unref();
    }
  }

  /** Writes gathered last_used_at times now (called by close() and by tests). */
  flushTouches(): void {
    if (this.touchTimer !== undefined) clearTimeout(this.touchTimer);
    this.touchTimer = undefined;
    if (this.pendingTouches.size === 0 || !this.db.open) return;
    const batch = [...this.pendingTouches];
    this.pendingTouches.clear();
    this.db.transaction(() => {
      for (const [id, at] of batch) this.stmts.touch.run(at, id, at);
    })();
  }

  /** Flushes pending touches; call before closing the database. */
  close(): void {
    this.flushTouches();
  }

  get(id: string): ApiKeyRecord {
    const row = this.stmts.get.get(id);
    if (row === undefined) throw notFound(`no API key '${id}'`, 'key_not_found');
    return recordFromRow(row);
  }

  /** Revokes a key at once; revoking it again changes nothing. */
  revoke(id: string): ApiKeyRecord {
    this.get(id);
    this.stmts.revoke.run(this.clock.now().toISOString(), id);
    return this.get(id);
  }

  /**
   * Renames a key or changes its expiry (null: never). An expiry at or before now expires the key
   * at once: expires_at becomes now, not the time given, so that the record never says it had
   * expired while it was still being used (a key expired already keeps its time). A revoked key
   * (rotated ones included) is final: 409 key_revoked.
   */
  update(id: string, changes: { name?: string; expiresAt?: Date | null }): ApiKeyRecord {
    return this.db.transaction(() => {
      const key = this.get(id);
      if (key.revokedAt !== null) throw conflict(`API key '${id}' is revoked and cannot be changed`, 'key_revoked');
      const name = changes.name === undefined ? key.name : checkName(changes.name);
      let expiresAt = key.expiresAt;
      if (changes.expiresAt !== undefined) {
        const now = this.clock.now();
        const asked = changes.expiresAt;
        if (asked !== null && !(asked instanceof Date && Number.isFinite(asked.getTime()))) throw invalidRequest('expires_at must be a valid date-time', 'invalid_expiry');
        const expired = key.expiresAt !== null && key.expiresAt.getTime() <= now.getTime();
        expiresAt = asked === null || asked.getTime() > now.getTime() ? asked : expired ? key.expiresAt : now;
      }
      this.stmts.update.run(name, expiresAt?.toISOString() ?? null, id);
      return this.get(id);
    }).immediate();
  }

  /**
   * Replaces a key by a new one of the same workspace, name and scopes and revokes the old one,
   * pointing it at its successor. Usage and budget belong to the workspace, so they carry over.
   * The new key keeps the old one's expiry unless `expiresAt` is given (null = never); an
   * already expired key can be rotated only with an explicit `expiresAt`.
   */
  rotate(id: string, options: { expiresAt?: Date | null } = {}): { key: string; record: ApiKeyRecord } {
    return this.db.transaction(() => {
      const old = this.get(id);
      if (old.revokedAt !== null) throw conflict(`API key '${id}' is revoked and cannot be rotated`, 'key_revoked');
      let expiresAt = old.expiresAt;
      if (options.expiresAt !== undefined) expiresAt = this.checkExpiry(options.expiresAt);
      else if (expiresAt !== null && expiresAt.getTime() <= this.clock.now().getTime()) {
        throw invalidRequest(`API key '${id}' has expired; give the new key an expiry (or null for none)`, 'key_expired');
      }
      const issued = this.insert(old.workspaceId, old.name, old.scopes, expiresAt);
      this.stmts.rotated.run(this.clock.now().toISOString(), issued.record.id, id);
      return issued;
    }).immediate();
  }

  /** Key records, without hashes, oldest first. */
  list(filter: { workspaceId?: string } = {}): ApiKeyRecord[] {
    const rows = filter.workspaceId === undefined ? this.stmts.listAll.all() : this.stmts.listByWorkspace.all(filter.workspaceId);
    return rows.map(recordFromRow);
  }

  private insert(workspaceId: string, name: string, scopes: Scope[], expiresAt: Date | null): { key: string; record: ApiKeyRecord } {
    const id = randomBytes(8).toString('hex');
    const key = `hth_${id}_${randomBytes(32).toString('base64url')}`;
    const createdAt = this.clock.now();
    this.stmts.insert.run({
      id,
      workspaceId,
      name,
      scopes: JSON.stringify(scopes),
      hash: this.hash(key),
      createdAt: createdAt.toISOString(),
      expiresAt: expiresAt?.toISOString() ?? null,
    });
    const record: ApiKeyRecord = { id, workspaceId, name, scopes, createdAt, expiresAt, revokedAt: null, lastUsedAt: null, rotatedTo: null };
    return { key, record };
  }

  private hash(key: string): Buffer {
    return createHmac('sha256', this.secret).update(key).digest();
  }

  private checkExpiry(expiresAt: Date | null): Date | null {
    if (expiresAt === null) return null;
    if (!(expiresAt instanceof Date) || !Number.isFinite(expiresAt.getTime())) throw invalidRequest('expires_at must be a valid date-time', 'invalid_expiry');
    if (expiresAt.getTime() <= this.clock.now().getTime()) throw invalidRequest('expires_at must be in the future', 'invalid_expiry');
    return expiresAt;
  }
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_NAME || /[\u0000-\u001f\u007f]/.test(name)) {
    throw invalidRequest(`key name must be 1–${MAX_NAME} printable characters`, 'invalid_key_name');
  }
  return name;
}
