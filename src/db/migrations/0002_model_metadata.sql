-- Operator-set metadata shown in /api/v1/models beside what the backend reports.
CREATE TABLE model_metadata (
  model_id    TEXT PRIMARY KEY,
  name        TEXT,
  description TEXT,
  is_active   INTEGER,
  parameters  TEXT,
  updated_at  TEXT NOT NULL
);
