// The one list of environment variables Hearth reads, in the spirit of Ollama's
// envconfig.AsMap(). Each overrides the config key of the same name (HEARTH_ + the key in upper
// case, dots as underscores); any other HEARTH_* variable is refused as a likely typo.
import { fieldOf, type ConfigKey } from './schema.js';

export interface EnvVar {
  readonly name: string;
  /** The key it overrides; null for HEARTH_CONFIG, which names the file instead. */
  readonly key: ConfigKey | null;
  readonly description: string;
}

export const CONFIG_FILE_ENV = 'HEARTH_CONFIG';
export const DEFAULT_CONFIG_FILE = '/etc/hearth/config.yaml';

const override = (key: ConfigKey): EnvVar =>
  Object.freeze({ name: `HEARTH_${key.toUpperCase().replace(/\./g, '_')}`, key, description: fieldOf(key)?.description ?? '' });

export const envVars: readonly EnvVar[] = Object.freeze([
  Object.freeze({
    name: CONFIG_FILE_ENV,
    key: null,
    description: `Config file to read when --config is not given (default ${DEFAULT_CONFIG_FILE}, read only if it exists)`,
  }),
  override('data_dir'),
  override('listen'),
  override('timezone'),
  override('public_base_url'),
  override('log.level'),
  override('backend.mode'),
  override('backend.url'),
  override('backend.ollama_path'),
  override('engine.listen'),
  override('engine.gpu'),
  override('engine.threads'),
  // Ollama's OLLAMA_NUM_PARALLEL, OLLAMA_MAX_QUEUE, OLLAMA_CONTEXT_LENGTH and OLLAMA_KEEP_ALIVE.
  override('engine.parallel'),
  override('engine.max_queue'),
  override('engine.num_ctx'),
  override('engine.keep_alive'),
  override('limits.receive_timeout'),
  override('limits.max_connections'),
  override('limits.max_connections_per_client'),
  override('limits.max_context'),
  override('limits.backend_slots'),
  override('limits.max_waiting'),
  override('limits.max_waiting_per_workspace'),
  override('limits.max_blob'),
  override('limits.blob_quota_per_workspace'),
  override('finetune.threads'),
  override('dev.validate_responses'),
]);

const escapeCell = (s: string) => s.replace(/\|/g, '\\|');

/** Markdown table of envVars for the README. */
export function renderEnvTable(): string {
  const rows = envVars.map((v) => {
    const def = v.key === null ? '—' : `\`${String(fieldOf(v.key)?.default)}\``;
    return `| \`${v.name}\` | ${v.key === null ? '—' : `\`${v.key}\``} | ${def === '``' ? '`""`' : def} | ${escapeCell(v.description)} |`;
  });
  return ['| Variable | Config key | Default | Description |', '| --- | --- | --- | --- |', ...rows].join('\n') + '\n';
}
