-- The blobs each workspace has uploaded through POST /ollama/api/blobs/{digest}: the backend's
-- blob store is shared and knows no owner, so what a workspace may still upload
-- (limits.blob_quota_per_workspace) is counted here. A digest counts once per workspace, at the
-- size it arrived with; its row is removed once the blob has left the backend (see
-- WorkspaceBlobs.reconcile in src/domain/workspace-blobs.ts).
CREATE TABLE workspace_blobs (
  workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
  digest        TEXT NOT NULL,
  bytes         INTEGER NOT NULL CHECK (bytes >= 0),
  created_at    TEXT NOT NULL,
  PRIMARY KEY (workspace_id, digest)
);
