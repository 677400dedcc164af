-- A model a workspace registered from its fine-tune job is that workspace's: only its keys see
-- it in /api/v1/models, call it, train on it or replace it. NULL: the operator's model, for all.
ALTER TABLE model_metadata ADD COLUMN owner_workspace_id TEXT REFERENCES workspaces(id);

-- Models registered before this migration: their owner is the workspace of the last job that
-- registered them (the metadata row is keyed by the name as registered, or with :latest).
UPDATE model_metadata
   SET owner_workspace_id = (
     SELECT j.workspace_id FROM finetune_jobs j
      WHERE j.registered_model = model_metadata.model_id OR j.registered_model || ':latest' = model_metadata.model_id
      ORDER BY j.finished_at DESC LIMIT 1)
 WHERE owner_workspace_id IS NULL;
