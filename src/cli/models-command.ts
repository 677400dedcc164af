import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { Ollama } from 'ollama';
import { BlobRefused, sha256OfFile, uploadBlob } from '../backend/blob-upload.js';
import { parseCommandArgs } from './args.js';
import { CliError } from './cli-error.js';
import { ProgressBar } from './progress.js';

const help = `Usage: hearth models import FILE.gguf --name NAME [--adapter-for BASE] [--backend URL]

Uploads a local GGUF file to an Ollama-compatible server (a real Ollama or Hearth's engine)
through its API (POST /api/blobs, then POST /api/create) and registers it as NAME.

Options:
  --name NAME          model name to register, e.g. "mymodel" or "team/mymodel:v2"  (required)
  --adapter-for BASE   FILE is a GGUF LoRA adapter: register NAME as BASE plus this adapter
  --backend URL        server to import into (default: $OLLAMA_HOST or http://127.0.0.1:11434)
`;

async function sha256File(path: string, size: number): Promise<string> {
  const bar = new ProgressBar('hashing', size);
  const digest = await sha256OfFile(path, (done) => bar.update(done));
  bar.finish();
  return digest;
}

async function upload(base: string, path: string, size: number, digest: string): Promise<void> {
  // Drawn from the first byte sent: a blob the server already has gets no upload bar.
  let bar: ProgressBar | undefined;
  const progress = () => (bar ??= new ProgressBar('uploading', size));
  let sent: boolean;
  try {
    sent = await uploadBlob(base, path, size, digest, (n) => progress().update(n));
  } catch (err) {
    if (err instanceof BlobRefused) throw new CliError(err.message, 1);
    throw err;
  }
  if (sent) progress().finish();
  else process.stderr.write('blob already on the server, skipping upload\n');
}

async function importModel(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { name: { type: 'string' }, 'adapter-for': { type: 'string' }, backend: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    true,
  );
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const [file, ...extra] = positionals;
  if (!file || extra.length > 0) throw new CliError('give exactly one FILE.gguf\n\n' + help);
  if (!values.name) throw new CliError('--name NAME is required\n\n' + help);
  const path = resolve(file);
  const info = await stat(path).catch(() => {
    throw new CliError(`cannot read ${path}`);
  });
  if (!info.isFile()) throw new CliError(`${path} is not a file`);
  const base = (values.backend ?? process.env.OLLAMA_HOST ?? 'http://127.0.0.1:11434').replace(/\/+$/, '');
  const url = /^https?:\/\//.test(base) ? base : `http://${base}`;

  const digest = await sha256File(path, info.size);
  try {
    await upload(url, path, info.size, digest);
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot reach ${url}: ${err instanceof Error ? err.message : String(err)}`, 1);
  }
  const fileName = basename(path).toLowerCase().endsWith('.gguf') ? basename(path) : `${basename(path)}.gguf`;
  const client = new Ollama({ host: url });
  const request = values['adapter-for']
    ? { model: values.name, from: values['adapter-for'], adapters: { [fileName]: digest } }
    : { model: values.name, files: { [fileName]: digest } };
  try {
    for await (const progress of await client.create({ ...request, stream: true })) {
      process.stderr.write(`${progress.status}\n`);
    }
  } catch (err) {
    throw new CliError(`create failed: ${err instanceof Error ? err.message : String(err)}`, 1);
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
