-- The browser console's sign-in sessions and the operator's audit log (issue 19).
--
-- A session is known by the SHA-256 of its random id: the id itself lives only in the browser's
-- cookie, so a copy of this file signs no one in. Rows outlive a restart (a signed-in operator
-- stays signed in), and signing out deletes the row, so an old copy of the cookie is refused.
CREATE TABLE admin_sessions (
  id_hash     TEXT PRIMARY KEY,
  created_at  TEXT NOT NULL,
  expires_at  TEXT NOT NULL
);
CREATE INDEX admin_sessions_by_created ON admin_sessions (created_at);

-- Who changed what through /api/admin, and every sign-in, sign-out and refused sign-in. Only
-- appended to: the triggers refuse an UPDATE or DELETE, whoever issues it. target and details
-- are JSON objects (the path parameters, and the request body with fields named like secrets
-- left out); a response is never recorded, since a key's create and rotate answers hold its secret.
CREATE TABLE audit_log (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  at       TEXT NOT NULL,
  actor    TEXT NOT NULL,
  source   TEXT NOT NULL,
  action   TEXT NOT NULL,
  method   TEXT NOT NULL,
  path     TEXT NOT NULL,
  target   TEXT NOT NULL,
  details  TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
