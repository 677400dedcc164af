import { join, resolve } from 'node:path';
import { Ollama } from 'ollama';
import { BlobRefused } from '../backend/blob-upload.js';
import { checkModelFile, importModelFile } from '../backend/model-import.js';
import { urlOfListen } from '../backend/backend-manager.js';
import { probeVersion } from '../backend/probe.js';
import { BACKEND_RECORD_FILE, readBackendRecord } from '../daemon/backend-record.js';
import { ENGINE_SECRET_FILE, readEngineSecret } from '../daemon/engine-secret-file.js';
import { parseCommandArgs } from './args.js';
import { loadCliConfig } from './cli-config.js';
import { CliError } from './cli-error.js';
import { ProgressBar } from './progress.js';

const help = `Usage: hearth models import FILE.gguf --name NAME [--adapter-for BASE] [--backend URL | --config F | --data-dir D]

Uploads a local GGUF file to an Ollama-compatible server (a real Ollama or Hearth's engine)
through its API (POST /api/blobs, then POST /api/create) and registers it as NAME.

Options:
  --name NAME          model name to register, e.g. "mymodel" or "team/mymodel:v2"  (required)
  --adapter-for BASE   FILE is a GGUF LoRA adapter: register NAME as BASE plus this adapter
  --backend URL        server to import into; by default the backend of the hearth serve that
                       runs on the data dir below, as it recorded it there at start (backend.json),
                       or with none running the config's backend.url (engine.listen in backend
                       mode "engine"). The bundled engine of a hearth serve refuses callers
                       without its secret, which this command reads from the data dir
                       (engine-secret, readable by the daemon's user only): import into it by
                       --config/--data-dir, not --backend
  --config FILE        the daemon's config, as for the admin commands (default: $HEARTH_CONFIG,
                       else /etc/hearth/config.yaml where it exists)
  --data-dir DIR       the daemon's data dir (default: the config's data_dir, ./data)
`;

/** Where to import, and how that address was found: the error that cannot reach it says both. */
interface Target {
  url: string;
  source: string;
  /** Sent with every request: the secret of a hearth serve's bundled engine, as `Authorization`. */
  headers: Record<string, string>;
  /** Where that secret was read from. */
  secretFile?: string;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * The server to import into: --backend; else the backend the daemon of the configured data dir
 * uses, as it recorded it at start (the only way to know an engine port picked then); else what
 * the config says the backend is.
 */
function importTarget(values: { backend?: string; config?: string; 'data-dir'?: string }): Target {
  if (values.backend !== undefined) {
    const base = values.backend.replace(/\/+$/, '');
    return { url: /^https?:\/\//.test(base) ? base : `http://${base}`, source: '--backend', headers: {} };
  }
  const config = loadCliConfig({ file: values.config, overrides: { data_dir: values['data-dir'] } });
  const record = readBackendRecord(config.dataDir);
  const recordFile = join(config.dataDir, BACKEND_RECORD_FILE);
  if (record !== undefined) {
    const daemon = alive(record.pid) ? `the hearth serve (pid ${record.pid})` : `a hearth serve (pid ${record.pid}) that is no longer running`;
    const target = { url: record.url, source: `the ${record.kind} backend of ${daemon}, from ${recordFile}` };
    return record.kind === 'engine' ? { ...target, headers: engineAuthorization(config.dataDir), secretFile: join(config.dataDir, ENGINE_SECRET_FILE) } : { ...target, headers: {} };
  }
  const nothing = `no hearth serve runs on data dir ${config.dataDir} (no ${BACKEND_RECORD_FILE} there)`;
  if (config.backend.mode === 'engine') {
    if (config.engine.listen.port === 0) throw new CliError(`${nothing}, and engine.listen port 0 is chosen at each start: start hearth serve with this config, or give --backend URL`);
    return { url: urlOfListen(config.engine.listen.host, config.engine.listen.port), source: `engine.listen of the config, as ${nothing}`, headers: {} };
  }
  return { url: config.backend.url, source: `backend.url of the config, as ${nothing}`, headers: {} };
}

/** The secret a hearth serve gave its engine, as the header the engine wants. */
function engineAuthorization(dataDir: string): Record<string, string> {
  const file = join(dataDir, ENGINE_SECRET_FILE);
  let secret: string | undefined;
  try {
    secret = readEngineSecret(dataDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new CliError(`cannot read the bundled engine's secret in ${file} (${code}): run this as the user hearth serve runs as`, 1);
  }
  // A daemon killed before it wrote it, or one that is gone: the probe then says what answers.
  return secret === undefined ? {} : { authorization: `Bearer ${secret}` };
}

async function importModel(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { name: { type: 'string' }, 'adapter-for': { type: 'string' }, backend: { type: 'string' }, config: { type: 'string' }, 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    true,
  );
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const [file, ...extra] = positionals;
  if (!file || extra.length > 0) throw new CliError('give exactly one FILE.gguf\n\n' + help);
  if (!values.name) throw new CliError('--name NAME is required\n\n' + help);
  const modelFile = await checkModelFile(resolve(file)).catch((err: unknown) => {
    throw new CliError(err instanceof Error ? err.message : String(err));
  });
  if (values.backend !== undefined && (values.config !== undefined || values['data-dir'] !== undefined)) {
    throw new CliError('give either --backend or --config/--data-dir: --backend names the server itself');
  }
  const { url, source, headers, secretFile } = importTarget(values);
  const unreachable = (why: string) =>
    new CliError(`cannot reach ${url} (${source}): ${why}; ${source === '--backend' ? 'check --backend URL' : "is hearth serve running? Give the daemon's --config or --data-dir, or the server with --backend URL"}`, 1);
  // Before hashing: a file of gigabytes is not read to learn that nothing answers.
  const probe = await probeVersion(url, { timeoutMs: 5000, headers });
  if (!probe.ok && probe.status === 401) {
    throw new CliError(
      `${url} (${source}) refuses callers without its secret: ${secretFile === undefined ? "for the bundled engine of a hearth serve, give the daemon's --config or --data-dir instead, and this command reads the secret from there" : `${secretFile} holds no secret, or not the running engine's`}`,
      1,
    );
  }
  if (!probe.ok) throw unreachable(probe.error);

  // Bars drawn from the first byte of each step: a blob the server already has gets no upload bar.
  let hashing: ProgressBar | undefined;
  let uploading: ProgressBar | undefined;
  const client = new Ollama({ host: url, headers });
  let digest: string;
  let hashed = false;
  try {
    ({ digest } = await importModelFile({ url, headers }, { file: modelFile, name: values.name, adapterFor: values['adapter-for'] }, {
      hashing: (done) => (hashing ??= new ProgressBar('hashing', modelFile.size)).update(done),
      hashed: () => {
        hashing?.finish();
        hashed = true;
      },
      uploading: (sent) => (uploading ??= new ProgressBar('uploading', modelFile.size)).update(sent),
      uploaded: (sent) => {
        if (sent) uploading?.finish();
        else process.stderr.write('blob already on the server, skipping upload\n');
      },
      create: async (request) => {
        try {
          for await (const progress of await client.create({ ...request, stream: true })) process.stderr.write(`${progress.status}\n`);
        } catch (err) {
          throw new CliError(`create failed: ${err instanceof Error ? err.message : String(err)}`, 1);
        }
      },
    }));
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (!hashed) throw new CliError(`cannot read ${modelFile.path}: ${err instanceof Error ? err.message : String(err)}`, 1);
    if (err instanceof BlobRefused) throw new CliError(err.message, 1);
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined;
    throw unreachable(cause ?? (err instanceof Error ? err.message : String(err)));
  }
  process.stdout.write(`imported ${values.name} (${digest})\n`);
  return 0;
}

export async function runModelsCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'import') return importModel(rest);
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(help);
    return sub === undefined ? 1 : 0;
  }
  throw new CliError(`unknown models command "${sub}"\n\n${help}`);
}
