import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { integrityCheck, loadMigrations, migrationsDir, openDatabase } from '../../src/db/database.js';
import { HearthError } from '../../src/errors.js';
import { modelKey } from '../../src/domain/model-metadata.js';
import { tempDir } from '../helpers/domain-db.js';

const isHearthError = (code: string) => (e: unknown) => e instanceof HearthError && e.code === code;
const LATEST = loadMigrations().length;

describe('openDatabase', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  /** A folder holding the first `n` migrations: the schema of an older Hearth. */
  const migrationsUpTo = (n: number): string => {
    const older = join(dir, `v${n}`);
    mkdirSync(older);
    for (const f of loadMigrations().slice(0, n)) copyFileSync(join(migrationsDir, f.name), join(older, f.name));
    return older;
  };

  it('creates the schema on a fresh file, with the pragmas set on purpose', () => {
    const path = join(dir, 'hearth.db');
    const db = openDatabase(path);
    assert.equal(db.pragma('user_version', { simple: true }), LATEST);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('synchronous', { simple: true }), 1); // NORMAL
    assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
    assert.ok((db.pragma('busy_timeout', { simple: true }) as number) >= 1000);
    const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all();
    assert.deepEqual(tables, ['admin_sessions', 'api_keys', 'audit_log', 'datasets', 'endpoint_costs', 'finetune_jobs', 'ledger', 'ledger_sweep', 'model_metadata', 'period_usage', 'plans', 'request_log', 'workspace_blobs', 'workspaces']);
    assert.deepEqual(integrityCheck(db), { ok: true, problems: [] });
    db.close();
  });

  it('re-opens an up-to-date database without touching it', () => {
    const path = join(dir, 'hearth.db');
    const db = openDatabase(path);
    db.prepare("INSERT INTO plans (id, title, description, scopes, monthly_credits, rpm) VALUES ('p', 'P', '', '[]', 1, 1)").run();
    db.close();
    for (let i = 0; i < 2; i++) {
      const again = openDatabase(path);
      assert.equal(again.pragma('user_version', { simple: true }), LATEST);
      assert.equal(again.prepare("SELECT title FROM plans WHERE id = 'p'").pluck().get(), 'P');
      again.close();
    }
  });

  it('refuses a schema newer than the code and leaves it as it was', () => {
    const path = join(dir, 'hearth.db');
    openDatabase(path).close();
    const raw = new BetterSqlite3(path);
    raw.pragma(`user_version = ${LATEST + 1}`);
    raw.close();
    assert.throws(() => openDatabase(path), (e: unknown) => isHearthError('database_too_new')(e) && /newer than this Hearth knows/.test((e as Error).message));
    const check = new BetterSqlite3(path);
    assert.equal(check.pragma('user_version', { simple: true }), LATEST + 1);
    check.close();
  });

  it('refuses a file that is not a database and does not overwrite it', () => {
    const path = join(dir, 'hearth.db');
    const junk = Buffer.from('this is not a SQLite database, but someone cares about it\n'.repeat(100));
    writeFileSync(path, junk);
    assert.throws(() => openDatabase(path), isHearthError('database_unavailable'));
    assert.deepEqual(readFileSync(path), junk);
  });

  it('refuses a SQLite database that is not Hearth’s', () => {
    const path = join(dir, 'other.db');
    const raw = new BetterSqlite3(path);
    raw.exec('CREATE TABLE notes (body TEXT)');
    raw.close();
    assert.throws(() => openDatabase(path), isHearthError('database_foreign'));
  });

  it('stops with a clear error when the folder does not exist', () => {
    assert.throws(() => openDatabase(join(dir, 'missing', 'hearth.db')), isHearthError('database_unavailable'));
    assert.equal(existsSync(join(dir, 'missing')), false);
  });

  it('applies only the newer migrations to an older schema, in one transaction', () => {
    const v1 = join(dir, 'v1');
    const v2 = join(dir, 'v2');
    mkdirSync(v1);
    mkdirSync(v2);
    copyFileSync(join(migrationsDir, '0001_init.sql'), join(v1, '0001_init.sql'));
    copyFileSync(join(migrationsDir, '0001_init.sql'), join(v2, '0001_init.sql'));
    writeFileSync(join(v2, '0002_notes.sql'), 'CREATE TABLE notes (body TEXT NOT NULL);');
    const path = join(dir, 'hearth.db');
    const db1 = openDatabase(path, { migrationsDir: v1 });
    db1.prepare("INSERT INTO plans (id, title, description, scopes, monthly_credits, rpm) VALUES ('kept', 'K', '', '[]', NULL, 5)").run();
    db1.close();
    const db2 = openDatabase(path, { migrationsDir: v2 });
    assert.equal(db2.pragma('user_version', { simple: true }), 2);
    assert.equal(db2.prepare("SELECT rpm FROM plans WHERE id = 'kept'").pluck().get(), 5);
    db2.prepare("INSERT INTO notes VALUES ('x')").run();
    db2.close();
  });

  it('0005 gives models registered before it the workspace of the job that registered them', () => {
    const path = join(dir, 'hearth.db');
    const old = openDatabase(path, { migrationsDir: migrationsUpTo(4) });
    old.exec(`INSERT INTO plans (id, title, description, scopes, monthly_credits, rpm) VALUES ('p', 'P', '', '[]', NULL, 5);
      INSERT INTO workspaces (id, name, plan_id, monthly_credits, created_at) VALUES ('ws_a', 'a', 'p', NULL, '2026-01-01T00:00:00Z');
      INSERT INTO datasets VALUES ('ds_1', 'ws_a', 't', 'chat', 1, 1, 1, '2026-01-01T00:00:00Z');
      INSERT INTO finetune_jobs (id, workspace_id, dataset_id, base_model, trainer, hyperparameters, state, created_at, finished_at, registered_model)
        VALUES ('ftjob_1', 'ws_a', 'ds_1', 'base', 'llamacpp', '{}', 'succeeded', '2026-01-01T00:00:00Z', '2026-01-01T01:00:00Z', 'tuned');
      INSERT INTO model_metadata (model_id, description, updated_at) VALUES ('tuned', 'mine', '2026-01-01T01:00:00Z'), ('base:latest', 'the operator''s', '2026-01-01T00:00:00Z');`);
    old.close();
    const db = openDatabase(path, { migrationsDir: migrationsUpTo(5) });
    const owners = db.prepare('SELECT model_id, owner_workspace_id FROM model_metadata ORDER BY model_id').all();
    assert.deepEqual(owners, [
      { model_id: 'base:latest', owner_workspace_id: null },
      { model_id: 'tuned', owner_workspace_id: 'ws_a' },
    ]);
    db.close();
  });

  it('0006 keys model metadata by the name as the backend resolves it; of two rows for one model the later stands', () => {
    const path = join(dir, 'hearth.db');
    const old = openDatabase(path, { migrationsDir: migrationsUpTo(5) });
    const row = old.prepare('INSERT INTO model_metadata (model_id, description, updated_at) VALUES (?, ?, ?)');
    for (const [id, description, at] of [
      ['My-Model', 'bare, mixed case', '2026-01-01T00:00:00Z'],
      ['my-model:latest', 'set later', '2026-01-02T00:00:00Z'],
      ['library/Other:V2', 'namespace and tag', '2026-01-01T00:00:00Z'],
      ['registry.ollama.ai/library/third', 'host', '2026-01-01T00:00:00Z'],
      ['team/Tuned', 'own namespace', '2026-01-01T00:00:00Z'],
      ['hf.co/org/repo:Q4_K_M', 'another host', '2026-01-01T00:00:00Z'],
      ['localhost:5000/x/y', 'a port is not a tag', '2026-01-01T00:00:00Z'],
    ]) row.run(id, description, at);
    old.close();
    const db = openDatabase(path);
    const rows = db.prepare('SELECT model_id, description FROM model_metadata ORDER BY model_id').all() as Array<{ model_id: string; description: string }>;
    assert.deepEqual(
      rows.map((r) => [r.model_id, r.description]),
      [
        ['hf.co/org/repo:q4_k_m', 'another host'],
        ['localhost:5000/x/y:latest', 'a port is not a tag'],
        ['my-model:latest', 'set later'],
        ['other:v2', 'namespace and tag'],
        ['team/tuned:latest', 'own namespace'],
        ['third:latest', 'host'],
      ],
    );
    // The SQL and the code agree on every key.
    for (const r of rows) assert.equal(modelKey(r.model_id), r.model_id);
    db.close();
  });

  it('0007 gives plans a bound on concurrent inference calls: the seeded plans theirs, the operator\'s own the default', () => {
    const path = join(dir, 'hearth.db');
    const old = openDatabase(path, { migrationsDir: migrationsUpTo(6) });
    old.exec(`INSERT INTO plans (id, title, description, scopes, monthly_credits, rpm) VALUES
      ('trial_chat', 'Trial', '', '["chat"]', 15000, 60), ('enterprise', 'E', '', '["chat"]', NULL, 1000), ('gold', 'Gold', '', '["chat"]', 5, 5);`);
    old.close();
    const db = openDatabase(path, { migrationsDir: migrationsUpTo(7) });
    assert.deepEqual(db.prepare('SELECT id, max_concurrent FROM plans ORDER BY id').all(), [
      { id: 'enterprise', max_concurrent: 16 },
      { id: 'gold', max_concurrent: 4 },
      { id: 'trial_chat', max_concurrent: 2 },
    ]);
    assert.throws(() => db.prepare("UPDATE plans SET max_concurrent = 0 WHERE id = 'gold'").run(), /CHECK/);
    db.close();
  });

  it('0008 gives plans a weight: Enterprise 2, every other plan, the operator\'s own too, 1; never below 1', () => {
    const path = join(dir, 'hearth.db');
    const old = openDatabase(path, { migrationsDir: migrationsUpTo(7) });
    old.exec(`INSERT INTO plans (id, title, description, scopes, monthly_credits, rpm) VALUES
      ('trial_chat', 'Trial', '', '["chat"]', 15000, 60), ('enterprise', 'E', '', '["chat"]', NULL, 1000), ('gold', 'Gold', '', '["chat"]', 5, 5);`);
    old.close();
    const db = openDatabase(path, { migrationsDir: migrationsUpTo(8) });
    assert.deepEqual(db.prepare('SELECT id, weight FROM plans ORDER BY id').all(), [
      { id: 'enterprise', weight: 2 },
      { id: 'gold', weight: 1 },
      { id: 'trial_chat', weight: 1 },
    ]);
    assert.throws(() => db.prepare("UPDATE plans SET weight = 0.5 WHERE id = 'gold'").run(), /CHECK/);
    db.prepare("UPDATE plans SET weight = 1.5 WHERE id = 'gold'").run();
    assert.equal(db.prepare("SELECT weight FROM plans WHERE id = 'gold'").pluck().get(), 1.5);
    db.close();
  });

  it('rolls a failing migration back entirely', () => {
    const bad = join(dir, 'bad');
    mkdirSync(bad);
    copyFileSync(join(migrationsDir, '0001_init.sql'), join(bad, '0001_init.sql'));
    writeFileSync(join(bad, '0002_broken.sql'), 'CREATE TABLE half (x INTEGER);\nTHIS IS NOT SQL;');
    const path = join(dir, 'hearth.db');
    assert.throws(() => openDatabase(path, { migrationsDir: bad }), (e: unknown) => isHearthError('migration_failed')(e) && /0002_broken\.sql/.test((e as Error).message));
    const raw = new BetterSqlite3(path);
    assert.equal(raw.pragma('user_version', { simple: true }), 0);
    assert.equal(raw.prepare("SELECT count(*) FROM sqlite_schema WHERE name IN ('plans', 'half')").pluck().get(), 0);
    raw.close();
  });

  it('rejects gaps in migration numbering', () => {
    const gap = join(dir, 'gap');
    mkdirSync(gap);
    writeFileSync(join(gap, '0001_a.sql'), 'SELECT 1;');
    writeFileSync(join(gap, '0003_c.sql'), 'SELECT 1;');
    assert.throws(() => loadMigrations(gap), isHearthError('migrations_invalid'));
  });
});

describe('ledger table', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it('is append-only: UPDATE and DELETE raise', () => {
    const db = openDatabase(join(dir, 'hearth.db'));
    db.exec(`
      INSERT INTO plans (id, title, description, scopes, monthly_credits, rpm) VALUES ('p', 'P', '', '["chat"]', 100, 60);
      INSERT INTO workspaces (id, name, plan_id, monthly_credits, created_at) VALUES ('ws_1', 'one', 'p', NULL, '2025-01-01T00:00:00.000Z');
      INSERT INTO ledger (workspace_id, key_id, period, endpoint, kind, credits, request_id, created_at)
        VALUES ('ws_1', NULL, '2025-01', 'POST /chat', 'reserve', 1, 'r1', '2025-01-01T00:00:00.000Z');
    `);
    assert.throws(() => db.prepare('UPDATE ledger SET credits = 0').run(), /append-only: UPDATE refused/);
    assert.throws(() => db.prepare('DELETE FROM ledger').run(), /append-only: DELETE refused/);
    assert.throws(() => db.prepare("INSERT INTO ledger (workspace_id, period, endpoint, kind, credits, request_id, created_at) VALUES ('ws_1', '2025-01', 'x', 'refund', 1, 'r', 'now')").run(), /CHECK/);
    // A conclusion must point at its reservation, and a reservation can be concluded only once.
    const conclude = db.prepare("INSERT INTO ledger (workspace_id, period, endpoint, kind, credits, request_id, reservation, created_at) VALUES ('ws_1', '2025-01', 'POST /chat', ?, 1, 'r1', ?, 'now')");
    assert.throws(() => conclude.run('settle', null), /CHECK/);
    conclude.run('settle', 1);
    assert.throws(() => conclude.run('release', 1), /UNIQUE/);
    assert.equal(db.prepare('SELECT count(*) FROM ledger').pluck().get(), 2);
    assert.equal(integrityCheck(db).ok, true);
    db.close();
  });
});
