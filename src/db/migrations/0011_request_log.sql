-- One row per request to a key-authenticated operation of /api/v1, /v1 and /ollama: what the
-- console's charts and daily usage read (src/domain/request-log.ts writes it in batches, off the
-- request path; src/domain/request-stats.ts reads it). The ledger stays the authority for
-- credits and balances: `credits` here repeats what the request's settle charged, for grouping
-- by day, key and model, which the ledger does not record.
--
-- No foreign keys: a log row must never fail to be written, or stop a workspace or key from
-- changing, because of what it refers to; workspace_id and key_id are NULL for a request whose
-- key was refused (no workspace is known).
CREATE TABLE request_log (
  id                INTEGER PRIMARY KEY,
  at                TEXT NOT NULL,      -- arrival, ISO 8601 UTC with milliseconds (sorts as text)
  workspace_id      TEXT,
  key_id            TEXT,
  surface           TEXT NOT NULL,      -- '/api/v1', '/v1', '/ollama'
  route             TEXT NOT NULL,      -- the contract operation: 'POST /v1/chat/completions'
  model             TEXT,               -- an inference call's model, under its key ('llama3:latest'); NULL for other calls
  status            INTEGER NOT NULL,   -- as sent; 499: the client left before any answer
  prompt_tokens     INTEGER NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
  completion_tokens INTEGER NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
  credits           INTEGER NOT NULL DEFAULT 0 CHECK (credits >= 0),
  duration_ms       REAL NOT NULL CHECK (duration_ms >= 0),
  ttft_ms           REAL CHECK (ttft_ms IS NULL OR ttft_ms >= 0) -- a stream's first token; NULL for an answer sent whole
) STRICT;
CREATE INDEX request_log_by_at ON request_log(at);
CREATE INDEX request_log_by_workspace_at ON request_log(workspace_id, at);
