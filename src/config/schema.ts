// The daemon's configuration: its TypeScript type and the one table that describes every key —
// kind, default, description. The loader, the generated config.example.yaml, the env-var docs
// and the tests all read this table; nothing else knows the keys.
import {
  boolean,
  command,
  cronSchedule,
  duration,
  hostPort,
  integer,
  oneOf,
  path,
  retentionDays,
  size,
  text,
  timeZone,
  url,
  type Kind,
} from './kinds.js';
import type { HostPort } from './host-port.js';

export type { HostPort } from './host-port.js';

// The closed sets of values some keys take: the table below checks them, and the code that
// acts on them (the backend manager, the engine, the trainers) takes its types from here.
export const logLevels = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof logLevels)[number];
export const backendModes = ['auto', 'ollama', 'engine', 'external'] as const;
export type BackendMode = (typeof backendModes)[number];
export const gpuModes = ['auto', 'off', 'cuda', 'vulkan'] as const;
export type GpuMode = (typeof gpuModes)[number];
export const trainerKinds = ['llamacpp', 'peft'] as const;
export type TrainerKind = (typeof trainerKinds)[number];
export const secretStores = ['file', 'keychain'] as const;
export type SecretStore = (typeof secretStores)[number];

/** Durations are milliseconds, sizes bytes, paths absolute. Deeply frozen once loaded. */
export interface HearthConfig {
  readonly listen: HostPort;
  /** Absolute path. */
  readonly dataDir: string;
  /** Canonical IANA name; billing periods are calendar months in this zone. */
  readonly timezone: string;
  /** "" when unset; else an http(s) URL without trailing slash. */
  readonly publicBaseUrl: string;
  readonly log: { readonly level: LogLevel };
  readonly backend: BackendConfig;
  readonly engine: EngineConfig;
  readonly limits: LimitsConfig;
  readonly finetune: FinetuneConfig;
  readonly secrets: { readonly store: SecretStore };
  readonly console: ConsoleConfig;
  readonly metrics: MetricsConfig;
  readonly backup: BackupConfig;
  readonly retention: RetentionConfig;
  readonly dev: { readonly validateResponses: boolean };
}

export interface BackendConfig {
  readonly mode: BackendMode;
  /** Without trailing slash. */
  readonly url: string;
  /** A bare command name (looked up on PATH) or an absolute path. */
  readonly ollamaPath: string;
  /** Milliseconds. */
  readonly healthInterval: number;
  /** Milliseconds. */
  readonly startTimeout: number;
  /** Milliseconds. */
  readonly restartInitialDelay: number;
  /** Milliseconds; ≥ restartInitialDelay. */
  readonly restartMaxDelay: number;
  /** Milliseconds. */
  readonly requestTimeout: number;
}

export interface EngineConfig {
  readonly listen: HostPort;
  readonly parallel: number;
  readonly maxQueue: number;
  /** Tokens per sequence. */
  readonly numCtx: number;
  /** 0: as many as the cgroup allows (detectCpuThreads() at engine start). */
  readonly threads: number;
  readonly gpu: GpuMode;
  /** Milliseconds; Infinity keeps models loaded forever. */
  readonly keepAlive: number;
  readonly demoModel: boolean;
}

export interface LimitsConfig {
  /** Bytes. */
  readonly maxBody: number;
  readonly maxMessages: number;
  readonly maxTokens: number;
  /** Tokens: the largest context a call may make the backend allocate (num_ctx). */
  readonly maxContext: number;
  /** Milliseconds. */
  readonly streamHeartbeat: number;
  /** Milliseconds. */
  readonly shutdownDrain: number;
  /** Milliseconds to receive one whole request, headers and body. */
  readonly receiveTimeout: number;
  /** Open connections, all clients together. */
  readonly maxConnections: number;
  /** Open connections of one client (an IPv4 address, an IPv6 /64). */
  readonly maxConnectionsPerClient: number;
  /** Inference calls the backend runs at once for one model; 0: engine.parallel. */
  readonly backendSlots: number;
  /** Inference calls waiting for a backend slot, all workspaces together. */
  readonly maxWaiting: number;
  /** Inference calls one workspace may have waiting for a backend slot. */
  readonly maxWaitingPerWorkspace: number;
  /** Bytes of one blob uploaded on /ollama. */
  readonly maxBlob: number;
  /** Bytes of blobs one workspace may upload on /ollama, all together. */
  readonly blobQuotaPerWorkspace: number;
}

export interface FinetuneConfig {
  /** Bytes of one dataset's records (as stored JSON lines). */
  readonly maxDatasetBytes: number;
  readonly maxDatasetRecords: number;
  /** Bytes of stored datasets per workspace. */
  readonly datasetQuota: number;
  /** Dataset uploads received and parsed at once, all workspaces together (one per workspace). */
  readonly maxUploads: number;
  readonly trainer: TrainerKind;
  /** Interpreter with torch, transformers and peft (the peft trainer). */
  readonly python: string;
  /** Hugging Face weights per base model name, for the peft trainer; "" when none. */
  readonly hfModelsDir: string;
  /** Trainers running at once. */
  readonly concurrency: number;
  /** Due jobs waiting to train (no startAt, or one that has come), all workspaces together. */
  readonly maxQueued: number;
  /** Jobs one workspace may have waiting, due or not. */
  readonly maxQueuedPerWorkspace: number;
  /** Milliseconds: how far ahead a job's startAt may lie. */
  readonly maxStartDelay: number;
  /** 0: as many as the cgroup allows. */
  readonly threads: number;
  /** Milliseconds after SIGTERM before a cancelled trainer is killed. */
  readonly stopTimeout: number;
}

export interface ConsoleConfig {
  /** Milliseconds from sign-in until a console session ends. */
  readonly sessionTtl: number;
  /** Console sessions alive at once; a sign-in past it ends the oldest. */
  readonly maxSessions: number;
  /** Wrong admin tokens one client address may send before it must wait. */
  readonly signInAttempts: number;
  /** Milliseconds of the first wait; doubles with each further wrong token. */
  readonly lockoutDelay: number;
  /** Milliseconds: the longest wait. */
  readonly lockoutMax: number;
}

export interface MetricsConfig {
  /** Absolute path of the file holding the metrics token; "": <dataDir>/metrics-token, made at first start. */
  readonly tokenFile: string;
  /** Serve GET /metrics without a token to a scraper on this machine. */
  readonly openOnLoopback: boolean;
}

export interface BackupConfig {
  /** Whether the daily job takes a backup of the database. */
  readonly enabled: boolean;
  /** Cron expression of the daily job (backup and retention), read in `timezone`. */
  readonly schedule: string;
  /** Backups kept in `dir`; older ones are removed after each new one. */
  readonly keep: number;
  /** Absolute path; "" for <data_dir>/backups. */
  readonly dir: string;
}

export interface RetentionConfig {
  /** Days of request_log rows kept; Infinity keeps them all. */
  readonly requestLog: number;
  /** Days a finished fine-tune job's log is kept after it ended; Infinity keeps them all. */
  readonly jobLogs: number;
}

// ---- Key paths, derived from HearthConfig so the table below is checked against it. ----

type Snake<S extends string> = S extends `${infer C}${infer Rest}`
  ? `${C extends Lowercase<C> ? C : `_${Lowercase<C>}`}${Snake<Rest>}`
  : '';
type Camel<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<Camel<Tail>>}` : S;
type Leaf = HostPort | string | number | boolean;
type LeafPaths<T, Prefix extends string = ''> = {
  [K in keyof T & string]: T[K] extends Leaf ? `${Prefix}${Snake<K>}` : LeafPaths<T[K], `${Prefix}${Snake<K>}.`>;
}[keyof T & string];

/** A key as written in YAML: "engine.num_ctx". */
export type ConfigKey = LeafPaths<HearthConfig>;
/** The TypeScript type of a key's loaded value. */
export type ValueOf<K extends string, T = HearthConfig> = K extends `${infer Head}.${infer Rest}`
  ? ValueOf<Rest, T[Camel<Head> & keyof T]>
  : T[Camel<K> & keyof T];

/** A value as it may be written in YAML, an environment variable or a flag. */
export type RawValue = string | number | boolean;

export interface ConfigField<K extends ConfigKey = ConfigKey> {
  readonly key: K;
  readonly kind: Kind<ValueOf<K>>;
  /** As written in config.example.yaml; parsed by `kind` like any user value. */
  readonly default: RawValue;
  /** One line, for config.example.yaml and the env-var table. */
  readonly description: string;
  /** Replaced in redactedConfig() output. */
  readonly secret?: true;
}

const field = <K extends ConfigKey>(
  key: K,
  kind: Kind<ValueOf<K>>,
  defaultValue: RawValue,
  description: string,
  extra: { secret?: true } = {},
): ConfigField<K> => Object.freeze({ key, kind, default: defaultValue, description, ...extra });

const s = 1000;

/** Every key, in the order config.example.yaml shows them. */
export const configSchema = Object.freeze([
  // Loopback: nothing is exposed until the operator decides how (a TLS proxy, or 0.0.0.0).
  field('listen', hostPort(), '127.0.0.1:8080', 'Address the API listens on (HOST:PORT; [::1]:8080 for IPv6)'),
  // Relative to the config file (or the CWD when not set in a file); packaged installs set an absolute path.
  field('data_dir', path(), './data', 'Folder of the database, models and server secret; relative to the config file (env, flags: the CWD)'),
  field('timezone', timeZone(), 'UTC', 'Time zone of billing periods (calendar months), e.g. Europe/Paris'),
  field('public_base_url', url({ allowEmpty: true }), '', 'URL at which clients reach this daemon\'s root (e.g. through a reverse proxy); the served OpenAPI document and Swagger UI name it as the server; "" for the address the page came from'),

  field('log.level', oneOf(logLevels), 'info', 'Least severe level written to the log'),

  field('backend.mode', oneOf(backendModes), 'auto',
    'Inference backend: auto = Ollama if available, else engine; ollama = start Ollama; engine = bundled; external = backend.url'),
  // Ollama's own default address.
  field('backend.url', url(), 'http://127.0.0.1:11434', 'URL of the Ollama server (ollama and external modes)'),
  field('backend.ollama_path', command(), 'ollama', 'Ollama executable to start; a bare name is looked up on PATH'),
  // Notices a dead backend within seconds; one GET per poll costs nothing. Below 100ms is just load.
  field('backend.health_interval', duration({ min: 100 }), '2s', 'How often the backend\'s health is checked'),
  // Ollama's first start discovers GPUs and can take tens of seconds on a cold box.
  field('backend.start_timeout', duration({ min: s }), '60s', 'How long the daemon waits at start for its backend (started, or external) to answer before it serves without it (503 until it is up)'),
  field('backend.restart_initial_delay', duration({ min: 1 }), '500ms', 'Delay before the first restart of a crashed backend; doubles per crash'),
  // Caps the backoff so a backend that comes back is used again within half a minute.
  field('backend.restart_max_delay', duration({ min: 1 }), '30s', 'Longest delay between restarts of a crashed backend'),
  // Long CPU generations take minutes; the bound frees connections held by a wedged backend.
  field('backend.request_timeout', duration({ min: s }), '10m', 'Longest one chat or generation may take at the backend, stream included; past it the call fails with 503 backend_timeout'),

  // Next to Ollama's 11434 so both can run on one box.
  field('engine.listen', hostPort(), '127.0.0.1:11435', 'Address of the bundled engine; keep it on loopback. A port another process holds is replaced by a free one at start'),
  // Each parallel sequence holds its own num_ctx of KV cache: 2 overlaps requests without doubling memory much.
  field('engine.parallel', integer({ min: 1, max: 256 }), 2, 'Requests one model serves at once'),
  // Past 64 waiting requests, a client is better told 503 now than answered minutes later.
  field('engine.max_queue', integer({ min: 1, max: 100_000 }), 64, "Requests waiting per model before new ones get 503; one workspace's share is bounded first by its plan's max_concurrent (hearth plans set --max-concurrent)"),
  // Ollama's long-time default; enough for chat, small enough for CPU boxes.
  field('engine.num_ctx', integer({ min: 256, max: 1_048_576 }), 2048, 'Default context size per sequence, in tokens'),
  field('engine.threads', integer({ min: 0, max: 1024 }), 0, 'CPU threads for inference; 0: as many as the cgroup allows'),
  field('engine.gpu', oneOf(gpuModes), 'auto', 'GPU backend; off runs on the CPU only'),
  // Ollama's default: a follow-up within minutes skips the load.
  field('engine.keep_alive', duration({ negativeIsForever: true }), '5m', 'How long an idle model stays loaded; 0 unloads at once, -1 never'),
  field('engine.demo_model', boolean(), true, 'With an empty model store, offer an untrained demo model'),

  // Chat JSON of max_messages text messages fits well under 1 MiB; raise it for base64 images.
  field('limits.max_body', size({ min: 1024, max: 1024 ** 3 }), '1mb', 'Largest request body (dataset uploads have their own limit, finetune.max_dataset_bytes)'),
  field('limits.max_messages', integer({ min: 1, max: 100_000 }), 256, 'Most messages in one chat request'),
  field('limits.max_tokens', integer({ min: 1, max: 1_048_576 }), 16384, 'Largest max_tokens a request may ask for'),
  // A context is allocated whole when a model is loaded for it: an Ollama client's num_ctx of
  // millions would take the backend's memory from every workspace.
  field('limits.max_context', integer({ min: 256, max: 1_048_576 }), 32768,
    'Largest context (num_ctx, in tokens) a call on /ollama may make the backend allocate; a larger num_ctx is lowered to it, and num_predict to limits.max_tokens'),
  // Far below the idle timeouts of common proxies (nginx 60s, cloud load balancers 60s).
  field('limits.stream_heartbeat', duration({ min: 100 }), '5s', "Interval of keep-alive comments on a stream while it has nothing else to send: a chat before its first token, a fine-tune job's event stream while the job is quiet"),
  // Leaves room under systemd's default TimeoutStopSec (90s) to stop the backend too.
  field('limits.shutdown_drain', duration(), '30s', 'On SIGTERM, how long requests in flight may finish'),
  // Node's own default. The largest body, a 32 MB dataset (up to 64 MB as escaped JSON), arrives
  // in it at 2 Mbit/s; a request that has not arrived by then is held open by its client, not sent.
  field('limits.receive_timeout', duration({ min: s }), '5m',
    'Longest a client may take to send one request, headers and body (uploads included); past it the daemon answers 408 and closes the connection. Responses, streams included, are not bound by it'),
  // Each connection costs a file descriptor, and a proxied call a second one to the backend:
  // 1024 stays far below the unit's LimitNOFILE (65536) and the usual hard limits, and far above
  // what a LAN's clients keep open.
  field('limits.max_connections', integer({ min: 1, max: 1_000_000 }), 1024, 'Most connections open at once, all clients together; past it a new connection is closed at once'),
  // Twice what one model serves and queues (engine.parallel + engine.max_queue): a busy client
  // is answered 503 by the queue first, while one client alone cannot fill max_connections.
  field('limits.max_connections_per_client', integer({ min: 1, max: 1_000_000 }), 128,
    'Most connections open at once from one client address (IPv6: one /64); past it a new connection is closed at once. Behind a reverse proxy every client has the proxy\'s address: raise it to max_connections'),
  // Calls past what the backend runs at once wait in Hearth, where a queue per workspace is served
  // least served first, rather than in the backend's FIFO: what runs there is what it can batch.
  // Per model, as the engine and Ollama run that many sequences for each loaded model.
  field('limits.backend_slots', integer({ min: 0, max: 4096 }), 0,
    'Inference calls sent to the backend at once per model; the rest wait in Hearth, one queue per workspace, the least served workspace first. 0: engine.parallel (for Ollama, set it to the OLLAMA_NUM_PARALLEL of Ollama)'),
  // The bundled engine used to queue 64 per model; Hearth's queue takes that role, for all models.
  field('limits.max_waiting', integer({ min: 1, max: 100_000 }), 256, 'Inference calls that may wait for a backend slot, all workspaces together; more get 503 backend_busy'),
  // Each workspace is first bounded by its plan's max_concurrent (16 at most by default); this
  // bounds a plan the operator raised.
  field('limits.max_waiting_per_workspace', integer({ min: 1, max: 100_000 }), 64, 'Inference calls one workspace may have waiting for a backend slot; more get 503 backend_busy'),
  // The largest single GGUF a home server runs: a 70B model at Q6_K is ~58 GB; larger models
  // come split in shards (gguf-split), each its own blob. At 1 Gbit/s, 64 GB takes ~9 minutes:
  // limits.receive_timeout bounds the upload too.
  field('limits.max_blob', size({ min: 1024, max: 1024 ** 4 }), '64gb',
    'Largest blob a workspace may upload on /ollama (POST /ollama/api/blobs, a model\'s GGUF); a larger one gets 413 blob_too_large. The upload must also arrive within limits.receive_timeout'),
  // Two of the largest blobs, or a handful of 7B–13B models: room to bring one's own models,
  // while no one workspace fills the backend's disk alone.
  field('limits.blob_quota_per_workspace', size({ min: 1024, max: 1024 ** 4 }), '128gb',
    'Bytes of blobs one workspace may upload on /ollama, all together (a digest counts once); past it an upload gets 413 blob_quota_exceeded. Only blobs still on the backend count: deleting a model gives back those the backend removes with it'),

  // A LoRA run on a home GPU wants thousands of examples, not millions; 32 MB of text is ~8 M tokens.
  field('finetune.max_dataset_bytes', size({ min: 1024, max: 1024 ** 3 }), '32mb', 'Largest fine-tuning dataset (its records as JSON lines)'),
  field('finetune.max_dataset_records', integer({ min: 1, max: 10_000_000 }), 100_000, 'Most records in one fine-tuning dataset'),
  // Eight datasets of the largest size: room to work, and a workspace cannot fill the disk.
  field('finetune.dataset_quota', size({ min: 1024, max: 1024 ** 4 }), '256mb', 'Stored datasets per workspace, all together; an upload past it gets 413 dataset_quota_exceeded'),
  // A dataset upload is parsed in memory (several times its size at the peak): two at once bound
  // that on a small box; each workspace gets one of them at a time.
  field('finetune.max_uploads', integer({ min: 1, max: 64 }), 2, 'Dataset uploads received and parsed at once, all workspaces together (one per workspace); more get 503 uploads_busy'),
  field('finetune.trainer', oneOf(trainerKinds), 'llamacpp', 'Trainer of jobs that name none: llamacpp (built in, GGUF) or peft (Python, Hugging Face weights)'),
  field('finetune.python', command(), 'python3', 'Python with torch, transformers and peft (and Unsloth if wanted), for the peft trainer and its GGUF adapter conversion (which also needs git)'),
  // One folder per base model name: <dir>/llama3.2/config.json… ("/" and ":" in names become "_").
  field('finetune.hf_models_dir', path({ allowEmpty: true }), '', 'Folder of Hugging Face weights per base model name for the peft trainer; "" for none'),
  // One device, one run: two trainers on one GPU or one CPU only slow each other down.
  field('finetune.concurrency', integer({ min: 1, max: 64 }), 1, 'Training jobs run at once; the others wait in FIFO order'),
  // A queue deeper than this would take days on one device; better refuse than promise.
  field('finetune.max_queued', integer({ min: 1, max: 100_000 }), 32, 'Due jobs (no startAt, or one that has come) that may wait to train, all workspaces together; more starts get 503 queue_full'),
  // A quarter of the shared queue: no one workspace can fill it alone, and 8 waiting jobs are
  // already a day or more of one device's training.
  field('finetune.max_queued_per_workspace', integer({ min: 1, max: 100_000 }), 8, 'Jobs one workspace may have waiting to train, scheduled ones included; more starts get 429 workspace_queue_full'),
  // A week covers "tonight" and "over the weekend"; a startAt years ahead is a mistake or a
  // way to hold a place.
  field('finetune.max_start_delay', duration(), '168h', 'How far ahead a job\'s startAt may lie; a later one is a 400 start_at_too_far'),
  field('finetune.threads', integer({ min: 0, max: 1024 }), 0, 'CPU threads per llamacpp training job (peft jobs use what torch chooses); 0: as many as the cgroup allows'),
  // Cancel must end a trainer within 10 s; a step of a CPU run can take a few seconds.
  field('finetune.stop_timeout', duration({ min: 100 }), '5s', 'After SIGTERM, how long a cancelled trainer may take before SIGKILL'),

  field('secrets.store', oneOf(secretStores), 'file',
    'Where the server secret lives: file (in data_dir, mode 0600) or keychain (the Secret Service of the D-Bus session, via keytar built against libsecret-1-dev)'),

  // A working day: an operator signs in once in the morning; a cookie left in a browser does
  // not stay an open door for weeks.
  field('console.session_ttl', duration({ min: s }), '12h', 'How long a console sign-in lasts (from sign-in; the cookie and the server-side session end together)'),
  // A few browsers and devices per operator; each sign-in past it ends the oldest session.
  field('console.max_sessions', integer({ min: 1, max: 10_000 }), 16, 'Console sessions alive at once; a sign-in past it signs the oldest session out'),
  // A mistyped paste or two; a guesser gets a handful of tries before the waits start.
  field('console.sign_in_attempts', integer({ min: 1, max: 1000 }), 5,
    'Wrong admin tokens (console sign-in, or Bearer on /api/admin) one client address may send before each further try must wait (429 too_many_attempts). Behind a reverse proxy every client has the proxy\'s address'),
  field('console.lockout_delay', duration({ min: 1 }), '1s', 'The first wait after console.sign_in_attempts wrong admin tokens; it doubles with each further wrong one'),
  // Long enough that guessing is hopeless, short enough that an operator locked out by someone
  // else's tries (a shared proxy address) is back within the quarter hour.
  field('console.lockout_max', duration({ min: 1 }), '15m', 'The longest wait between tries of a client address that keeps sending wrong admin tokens'),

  // Prometheus keeps its credentials in a file (credentials_file): a token of its own, rather
  // than the admin token, which opens every workspace's keys and credits.
  field('metrics.token_file', path({ allowEmpty: true }), '',
    'File holding the token Prometheus sends as Authorization: Bearer on GET /metrics (the admin token is accepted too); "": <data_dir>/metrics-token, made at first start (mode 0600). A file every user may read is refused'),
  // A reverse proxy on the same machine makes every client a loopback one: a request it forwards
  // (X-Forwarded-For, Forwarded, X-Real-IP) still needs the token.
  field('metrics.open_on_loopback', boolean(), false,
    'Serve GET /metrics without a token to scrapers on this machine (a loopback address, and no X-Forwarded-For, Forwarded or X-Real-IP header, which a local reverse proxy adds)'),
  // 03:00 is the quietest hour of most installs; the backup is taken online, so it never stops serving.
  field('backup.enabled', boolean(), true, 'Take a backup of the database every day (backup.schedule), keeping the newest backup.keep'),
  field('backup.schedule', cronSchedule(), '0 3 * * *',
    'When the daily job runs (five-field cron, in timezone): the backup when backup.enabled, then the removals of retention.*'),
  // A week of days to go back to; each backup is the whole database, so keep bounds the disk it takes.
  field('backup.keep', integer({ min: 1, max: 1000 }), 7, 'Daily backups kept; after each new one the oldest beyond this are removed'),
  field('backup.dir', path({ allowEmpty: true }), '', 'Folder of the daily backups (hearth-YYYYMMDDTHHMMSSZ.db, mode 0600); "" for <data_dir>/backups'),

  // A quarter of a year of daily usage and charts; the ledger, which bills, is never pruned.
  field('retention.request_log', retentionDays(), '90d',
    "Days the request log (the console's charts and daily usage) keeps its rows; older ones are removed by the daily job. keep: never removed. The ledger is never pruned"),
  // A trainer's log matters while someone looks at the job; its result and loss history stay in the database.
  field('retention.job_logs', retentionDays(), '90d',
    "Days a finished fine-tune job's log (train.log) is kept after the job ended; then the daily job removes it (the job, its loss history and its artifacts stay). keep: never removed"),

  // Checking every response against openapi/hearth.yaml costs CPU on each request; the test
  // suite turns it on so the contract and the code cannot drift apart.
  field('dev.validate_responses', boolean(), false, 'Validate every response against the OpenAPI contract (slower; for development and tests)'),
] as const);

// Compile-time check that the table lists every key of HearthConfig (the reverse holds by
// construction: field() only accepts keys of HearthConfig). A missing key fails to compile here.
type Missing = Exclude<ConfigKey, (typeof configSchema)[number]['key']>;
const schemaIsComplete: [Missing] extends [never] ? true : Missing = true;
void schemaIsComplete;

/** Section names ("engine", "limits"…), derived from the table. */
export const configSections: readonly string[] = Object.freeze([
  ...new Set(configSchema.flatMap((f) => (f.key.includes('.') ? [f.key.slice(0, f.key.lastIndexOf('.'))] : []))),
]);

const byKey = new Map<string, ConfigField>(configSchema.map((f) => [f.key, f as ConfigField]));

export function fieldOf(key: string): ConfigField | undefined {
  return byKey.get(key);
}

/** A key's row, typed by its key: its kind parses a value of that key, its default is as written. */
export function schemaField<K extends ConfigKey>(key: K): ConfigField<K> {
  return byKey.get(key) as unknown as ConfigField<K>;
}

/** "num_ctx" → "numCtx". */
export const camelCase = (segment: string): string => segment.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
