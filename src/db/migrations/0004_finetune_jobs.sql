-- Fine-tune jobs. A job's life: created → (start) pending → running → succeeded | failed |
-- cancelled; a created or pending job may be cancelled before it runs. Progress, the loss
-- history and the trainer's output are written by the runner as the trainer reports them.
CREATE TABLE finetune_jobs (
  id               TEXT PRIMARY KEY,
  workspace_id     TEXT NOT NULL REFERENCES workspaces(id),
  dataset_id       TEXT NOT NULL REFERENCES datasets(id),
  base_model       TEXT NOT NULL,
  trainer          TEXT NOT NULL,
  hyperparameters  TEXT NOT NULL,                 -- JSON: epochs, learningRate, contextSize, output, seed
  state            TEXT NOT NULL CHECK (state IN ('created', 'pending', 'running', 'succeeded', 'failed', 'cancelled')),
  start_at         TEXT,                          -- run no earlier than this (ISO), when set
  created_at       TEXT NOT NULL,
  queued_at        TEXT,
  started_at       TEXT,
  finished_at      TEXT,
  progress         TEXT,                          -- JSON: the trainer's last progress report
  loss_history     TEXT NOT NULL DEFAULT '[]',    -- JSON: [{step, epoch, loss, evalLoss}]
  error            TEXT,
  output           TEXT,                          -- JSON: the trainer's artifacts
  registered_model TEXT
);
CREATE INDEX finetune_jobs_by_workspace ON finetune_jobs(workspace_id, created_at);
CREATE INDEX finetune_jobs_by_dataset ON finetune_jobs(dataset_id);
CREATE INDEX finetune_jobs_by_state ON finetune_jobs(state, queued_at);
