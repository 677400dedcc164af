// Checks of what Hearth drives: the backend of the running daemon, the GPUs, the trainers.

import type { HearthConfig } from '../config/schema.js';
import { readBackendRecord } from '../daemon/backend-record.js';
import { ENGINE_SECRET_FILE, readEngineSecret } from '../daemon/engine-secret-file.js';
import { fail, formatBytes, ok, warn, type CheckResult } from './check.js';
import { PEFT_MODULES, type DoctorProbes } from './probes.js';

const startFix = (serve: string) => `start it: systemctl start hearth (or ${serve}); the daemon starts and supervises the backend`;

const listed = (names: readonly string[]) => (names.length === 0 ? 'none' : names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')} and ${names.length - 5} more`);

/**
 * The backend the daemon of this data dir uses, as it recorded it at start (backend.json): its
 * version, models and loaded models. With no daemon running there is no backend to ask.
 * `serve`: the command that starts the daemon on this config, for the fix.
 */
export async function backendCheck(config: HearthConfig, probes: Pick<DoctorProbes, 'daemon' | 'backend'>, serve = `hearth serve --data-dir ${config.dataDir}`): Promise<CheckResult> {
  const name = 'backend';
  const { dataDir } = config;
  const holder = probes.daemon(dataDir);
  const record = readBackendRecord(dataDir);
  if (!holder.held) {
    const stale = record === undefined ? '' : ` (backend.json is left from pid ${record.pid}, which is gone)`;
    return fail(name, `hearth serve is not running on ${dataDir}${stale}, so no backend serves`, startFix(serve));
  }
  const daemon = `hearth serve${holder.pid === undefined ? '' : ` pid ${holder.pid}`}`;
  if (record === undefined) return warn(name, `${daemon} is starting: it has not chosen its backend yet`, 'run hearth doctor again in a minute');
  let headers: Record<string, string> = {};
  if (record.kind === 'engine') {
    try {
      const secret = readEngineSecret(dataDir);
      if (secret !== undefined) headers = { authorization: `Bearer ${secret}` };
    } catch (err) {
      return fail(name, `cannot read the engine's secret in ${dataDir}/${ENGINE_SECRET_FILE} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, 'run doctor as the user hearth serve runs as (sudo -u hearth hearth doctor)');
    }
  }
  const where = `the ${record.kind} backend of ${daemon} at ${record.url}`;
  const answer = await probes.backend(record.url, headers);
  if (!answer.ok) {
    if (answer.status === 401) return fail(name, `${where} refuses the secret in ${ENGINE_SECRET_FILE}`, 'restart the daemon (systemctl restart hearth): it writes its engine\'s secret at each start');
    const why = record.kind === 'ollama' ? `; check that ${config.backend.ollamaPath} serve can start` : record.kind === 'external' ? `; start the server at ${record.url}` : '';
    return fail(name, `${where} does not answer: ${answer.error}`, `read why in the daemon's log (journalctl -u hearth -e); it restarts a backend it started, with backoff${why}`);
  }
  const found = `${record.kind} ${answer.version} at ${record.url}, the backend of ${daemon}: ${answer.models.length} model${answer.models.length === 1 ? '' : 's'} (${listed(answer.models)}); loaded: ${listed(answer.loaded)}`;
  if (answer.models.length === 0) return warn(name, found, 'import one: hearth models import FILE.gguf --name NAME (or ollama pull, for an Ollama backend)');
  return ok(name, found);
}

export async function gpuCheck(config: HearthConfig, probes: Pick<DoctorProbes, 'gpus'>): Promise<CheckResult> {
  const name = 'gpu';
  const gpus = await probes.gpus();
  if (gpus.length === 0) {
    if (config.engine.gpu === 'off') return ok(name, 'no GPU found, and engine.gpu is off: CPU only');
    return warn(name, 'no GPU found: models run on the CPU only', 'for a GPU that is there, install its driver (nvidia-smi must list an NVIDIA one); on a CPU-only machine use small quantized models');
  }
  const described = gpus
    .map((g) => {
      const vram = g.vramFreeBytes !== null && g.vramTotalBytes !== null ? `, ${formatBytes(g.vramFreeBytes)} of ${formatBytes(g.vramTotalBytes)} VRAM free` : g.vramTotalBytes !== null ? `, ${formatBytes(g.vramTotalBytes)} VRAM` : '';
      return `${g.model} (driver ${g.driver ?? 'none'}${vram})`;
    })
    .join('; ');
  const noDriver = gpus.filter((g) => g.driver === null);
  if (noDriver.length > 0) return warn(name, described, `install the driver of ${noDriver.map((g) => g.model).join(', ')} (NVIDIA: nvidia-smi must list it), then restart hearth`);
  if (config.engine.gpu === 'off') return warn(name, `${described}; engine.gpu is off, so the bundled engine does not use them`, 'set engine.gpu: auto');
  return ok(name, described);
}

/** llama.cpp's libraries from node-llama-cpp: the built-in trainer (and engine) load them. */
export async function llamacppTrainerCheck(config: HearthConfig, probes: Pick<DoctorProbes, 'llamaBins'>): Promise<CheckResult> {
  const name = 'trainer-llamacpp';
  try {
    const bins = await probes.llamaBins(config.engine.gpu);
    return ok(name, `llama.cpp ${bins.flavor} libraries in ${bins.dir}`);
  } catch (err) {
    const found = `no llama.cpp libraries: ${err instanceof Error ? err.message : String(err)}`;
    const fix = "reinstall Hearth's dependencies on this machine (npm ci in its folder, or the installer again)";
    return config.finetune.trainer === 'llamacpp' ? fail(name, found, fix) : warn(name, found, fix);
  }
}

/** A Python with torch, transformers and peft: needed only by the peft trainer. */
export async function peftTrainerCheck(config: HearthConfig, probes: Pick<DoctorProbes, 'python'>): Promise<CheckResult> {
  const name = 'trainer-peft';
  const isDefault = config.finetune.trainer === 'peft';
  const python = config.finetune.python;
  const answer = await probes.python(python);
  const unusable = (found: string, fix: string) => (isDefault ? fail(name, found, fix) : warn(name, `${found}; needed only by jobs with trainer "peft"`, fix));
  const install = `install them into it (${python} -m pip install torch transformers peft), or set finetune.python to a Python that has them`;
  if (!answer.found) return unusable(`${answer.error} (finetune.python)`, install);
  const missing = PEFT_MODULES.filter((m) => answer.modules[m] === null);
  if (missing.length > 0) return unusable(`Python ${answer.python} (${python}) lacks ${missing.join(', ')}`, install);
  const found = `Python ${answer.python} with ${PEFT_MODULES.map((m) => `${m} ${answer.modules[m]}`).join(', ')}`;
  if (config.finetune.hfModelsDir === '') {
    const fix = "set finetune.hf_models_dir to a folder of Hugging Face weights, one folder per base model's name";
    return isDefault ? fail(name, `${found}, but finetune.hf_models_dir is not set, so peft jobs are refused`, fix) : ok(name, `${found}; set finetune.hf_models_dir to use it`);
  }
  return ok(name, `${found}; weights in ${config.finetune.hfModelsDir}`);
}
