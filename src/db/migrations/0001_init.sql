-- Hearth schema, version 1: the plan catalog, workspaces, API keys and the credit ledger.
-- Times are ISO 8601 UTC text ('2025-01-31T23:59:59.999Z'): they sort as text and read in the sqlite3 shell.
-- Applied by src/db/database.ts inside one transaction together with PRAGMA user_version = 1.

-- Plans: the catalog of what a workspace may call and how much. Seeded from src/domain/catalog.ts
-- (insert-or-ignore), then owned by the operator.
CREATE TABLE plans (
  id              TEXT PRIMARY KEY,
  title           TEXT NOT NULL,
  description     TEXT NOT NULL,
  scopes          TEXT NOT NULL CHECK (json_valid(scopes) AND json_type(scopes) = 'array'),
  monthly_credits INTEGER CHECK (monthly_credits IS NULL OR monthly_credits >= 0), -- NULL = unlimited
  rpm             INTEGER NOT NULL CHECK (rpm BETWEEN 1 AND 100000)               -- requests per minute per workspace
) STRICT;

-- What each gateway endpoint requires and costs. scope NULL = no scope needed.
CREATE TABLE endpoint_costs (
  endpoint TEXT PRIMARY KEY,                -- 'METHOD /path', ids as ':id', e.g. 'POST /finetune/jobs/:id/start'
  scope    TEXT CHECK (scope IS NULL OR scope IN ('chat', 'chat_agent', 'chat_agent_train', 'local_model_access')),
  credits  INTEGER NOT NULL CHECK (credits >= 0)
) STRICT;

CREATE TABLE workspaces (
  id              TEXT PRIMARY KEY,
  name            TEXT NOT NULL UNIQUE COLLATE NOCASE,
  plan_id         TEXT NOT NULL REFERENCES plans(id),
  monthly_credits INTEGER CHECK (monthly_credits IS NULL OR monthly_credits >= 0), -- override of the plan's; NULL = the plan's
  created_at      TEXT NOT NULL
) STRICT;

CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,              -- the <id> of hth_<id>_<secret>
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  name         TEXT NOT NULL,
  scopes       TEXT NOT NULL CHECK (json_valid(scopes) AND json_type(scopes) = 'array'),
  hash         BLOB NOT NULL CHECK (length(hash) = 32), -- HMAC-SHA256(server secret, full key); the key itself is never stored
  created_at   TEXT NOT NULL,
  expires_at   TEXT,
  revoked_at   TEXT,
  last_used_at TEXT,                          -- advisory: written in batches, may lag by a second
  rotated_to   TEXT REFERENCES api_keys(id)
) STRICT;
CREATE INDEX api_keys_by_workspace ON api_keys(workspace_id);

-- The credit ledger, append-only. A call that costs credits writes a 'reserve' row before it
-- runs, then exactly one conclusion: 'settle' (the credits stay charged) or 'release' (refunded:
-- the call failed or was aborted). A conclusion points at its reservation; the unique index
-- below makes a second conclusion of the same reservation impossible.
CREATE TABLE ledger (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT, -- AUTOINCREMENT: a seq is never reused, so sweeps can keep a mark
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  key_id       TEXT REFERENCES api_keys(id),
  period       TEXT NOT NULL CHECK (period GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]'), -- of the reservation, in the configured zone
  endpoint     TEXT NOT NULL,
  kind         TEXT NOT NULL CHECK (kind IN ('reserve', 'settle', 'release')),
  credits      INTEGER NOT NULL CHECK (credits >= 0),
  request_id   TEXT NOT NULL,
  reservation  INTEGER REFERENCES ledger(seq),   -- NULL on 'reserve'; the reserve row's seq on 'settle'/'release'
  created_at   TEXT NOT NULL,
  CHECK ((kind = 'reserve') = (reservation IS NULL))
) STRICT;
CREATE UNIQUE INDEX ledger_one_conclusion ON ledger(reservation) WHERE reservation IS NOT NULL;
CREATE INDEX ledger_by_workspace_period ON ledger(workspace_id, period);

CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN
  SELECT RAISE(ABORT, 'ledger is append-only: UPDATE refused');
END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN
  SELECT RAISE(ABORT, 'ledger is append-only: DELETE refused');
END;

-- Derived cache, written in the same transaction as every ledger row: credits of a workspace's
-- period = SUM(reserve) − SUM(release) over the ledger (settled and in-flight calls). It exists
-- so that a reservation reads one row instead of summing the ledger; Ledger.recomputeUsage()
-- derives it again from the ledger and Ledger.rebuildUsage() rewrites it.
CREATE TABLE period_usage (
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  period       TEXT NOT NULL,
  credits      INTEGER NOT NULL CHECK (credits >= 0),
  PRIMARY KEY (workspace_id, period)
) STRICT, WITHOUT ROWID;

-- Where the last dangling-reservation sweep stopped: every reservation with seq <= through_seq
-- is concluded, so the next sweep reads only newer rows instead of the whole ledger.
CREATE TABLE ledger_sweep (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  through_seq INTEGER NOT NULL
) STRICT;
INSERT INTO ledger_sweep (id, through_seq) VALUES (1, 0);
