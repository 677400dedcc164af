// The shapes the console reads from the admin API (openapi/hearth.yaml and issue 19's
// agreement). Optional fields are ones a daemon may leave out; the pages show what is there.

export interface Session {
  expires_at: string;
  csrf_token: string;
}

export interface Workspace {
  id: string;
  name: string;
  plan: string;
  monthly_credits: number | null;
  created_at: string;
}

export const SCOPES = ['chat', 'chat_agent', 'chat_agent_train', 'local_model_access'] as const;

export interface Key {
  id: string;
  workspace_id: string;
  name: string;
  scopes: string[];
  created_at: string;
  expires_at?: string | null;
  revoked_at?: string | null;
  last_used_at?: string | null;
}

export interface NewKey extends Key {
  key: string;
}

export interface Plan {
  id: string;
  title: string;
  description: string;
  scopes: string[];
  monthly_credits: number | null;
  rpm: number;
  max_concurrent: number;
  weight: number;
}

export interface EndpointCost {
  endpoint: string;
  scope: string | null;
  credits: number;
}

export interface ModelDefaults {
  temperature?: number;
  top_p?: number;
  top_k?: number;
  max_tokens?: number;
  seed?: number;
  stop?: string | string[];
}

export interface AdminModel {
  id: string;
  workspace_id: string | null;
  name?: string;
  description?: string;
  is_active?: boolean;
  parameters: ModelDefaults;
  on_backend?: boolean;
  size_bytes?: number;
  family?: string;
}

export interface UsageReport {
  workspace: { id: string; name: string };
  plan: { id: string; title: string };
  period: { id: string; start: string; end: string };
  credits: { limit: number | null; used: number; remaining: number | null };
  endpoints: Array<{ endpoint: string; calls: number; credits: number }>;
}

export interface DailyUsageRow {
  day: string;
  workspace_id: string;
  key_id: string | null;
  model: string | null;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  credits: number;
}

export interface Overview {
  backend: { state: string; kind: string; version?: string | null; protected?: boolean };
  models_loaded: Array<{ name: string; size_bytes?: number; size_vram_bytes?: number; expires_at?: string | null }>;
  system: {
    cpu: { model: string; cores: number; load_percent: number | null };
    memory: { total_bytes: number; used_bytes: number };
    gpus: Array<{ model: string; vendor?: string; driver?: string | null; vram_total_bytes?: number | null; vram_used_bytes?: number | null }>;
  };
  jobs: { running: number; queued: number };
  admin_token: { created_at: string | null; age_days: number | null };
}

export interface StatsBucket {
  start: string;
  requests: number;
  errors: number;
  credits: number;
  prompt_tokens: number;
  completion_tokens: number;
}

export interface Stats {
  window: 'hour' | 'day';
  bucket_seconds: number;
  buckets: StatsBucket[];
}

// Fine-tuning as /api/admin/finetune answers it: /api/v1's datasets and jobs in snake_case,
// each with its workspace.

export interface Dataset {
  id: string;
  workspace_id: string;
  title: string;
  format: string;
  record_count: number;
  token_estimate: number;
  bytes: number;
  created_at: string;
}

export interface LossPoint {
  step: number;
  epoch: number;
  loss: number;
  eval_loss: number | null;
}

export interface JobProgress {
  step: number;
  total_steps: number;
  epoch: number;
  loss: number | null;
  eval_loss: number | null;
  tokens_per_s: number | null;
  eta_s: number | null;
}

/** A progress event of a job's stream: the progress, and the loss points since the stream's previous progress event. */
export interface ProgressEvent extends JobProgress {
  loss_points: LossPoint[];
}

export const FINAL_JOB_STATES = ['succeeded', 'failed', 'cancelled'];

export interface Job {
  id: string;
  workspace_id: string;
  dataset_id: string;
  base_model: string;
  trainer: string;
  hyperparameters: { epochs: number; learning_rate: number; context_size: number; output: string; seed: number };
  state: 'created' | 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  start_at: string | null;
  created_at: string;
  queued_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  progress: JobProgress | null;
  loss_history: LossPoint[];
  error: string | null;
  model_name: string | null;
}

/** The answer of POST …/jobs/{id}/register: the job, the registered model's first answer, and what to look at. */
export interface RegisteredJob extends Job {
  smoke: { reply: string; finish_reason: string; completion_tokens: number; max_tokens: number };
  warnings: string[];
}

export interface AuditEntry {
  id: number | string;
  at: string;
  actor: string;
  source: string;
  action: string;
  method: string;
  path: string;
  /** The path's parameters ({id: ...} for /api/admin/keys/{id}/revoke); empty for a path without any. */
  target: Record<string, string>;
  details: unknown;
}
