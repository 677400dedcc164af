-- Fine-tuning datasets. The records live in a JSON-lines file under <data_dir>/datasets/,
-- named after the id (which the server generates: no client text ever becomes a path); this
-- row is what the API lists and what jobs reference.
CREATE TABLE datasets (
  id              TEXT PRIMARY KEY,
  workspace_id    TEXT NOT NULL REFERENCES workspaces(id),
  title           TEXT NOT NULL,
  format          TEXT NOT NULL CHECK (format IN ('chat', 'prompt_completion', 'instruction')),
  record_count    INTEGER NOT NULL CHECK (record_count > 0),
  token_estimate  INTEGER NOT NULL,
  bytes           INTEGER NOT NULL,
  created_at      TEXT NOT NULL
);
CREATE INDEX datasets_by_workspace ON datasets(workspace_id, created_at);
