import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sha256OfFile, uploadBlob as uploadFileBlob } from '../../src/backend/blob-upload.js';

export const hearthBin = fileURLToPath(new URL('../../../bin/hearth.js', import.meta.url));

export interface EngineProcess {
  url: string;
  modelsDir: string;
  child: ChildProcess;
  /** The engine's log lines so far (parsed JSON). */
  logs: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

/**
 * Starts `hearth engine` as a real child process on a fresh temp store and an ephemeral port
 * (read back from its "engine listening" log line).
 */
export async function startEngineProcess(extraArgs: string[] = [], modelsDir?: string): Promise<EngineProcess> {
  const dir = modelsDir ?? (await mkdtemp(join(tmpdir(), 'hearth-engine-')));
  const child = spawn(process.execPath, [hearthBin, 'engine', '--models', dir, '--listen', '127.0.0.1:0', '--gpu', 'off', '--threads', '1', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`engine did not start in 60 s; stderr: ${stderr}`)), 60_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.message === 'engine listening') {
          clearTimeout(timer);
          resolve(String(entry.url));
        }
      } catch {
        logs.push({ raw: line });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`engine exited with ${code} before listening; stderr: ${stderr}`));
    });
  });
  return {
    url,
    modelsDir: dir,
    child,
    logs,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      if (!modelsDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Uploads a file as a blob (HEAD, then POST if missing) and returns its digest. */
export async function uploadBlob(url: string, bytes: Buffer): Promise<string> {
  const { createHash } = await import('node:crypto');
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const head = await fetch(`${url}/api/blobs/${digest}`, { method: 'HEAD' });
  if (head.status !== 200) {
    const res = await fetch(`${url}/api/blobs/${digest}`, { method: 'POST', body: bytes });
    if (res.status !== 201) throw new Error(`blob upload failed: ${res.status} ${await res.text()}`);
  }
  return digest;
}

/**
 * Uploads a GGUF file and registers it under `name` with /api/create (not streamed). `headers`:
 * for a daemon's engine, its secret (DaemonProcess.engineHeaders()).
 */
export async function createModelFromFile(url: string, name: string, path: string, headers: Record<string, string> = {}): Promise<string> {
  const digest = await sha256OfFile(path);
  await uploadFileBlob(url, path, (await stat(path)).size, digest, undefined, headers);
  const res = await fetch(`${url}/api/create`, { method: 'POST', headers, body: JSON.stringify({ model: name, files: { 'model.gguf': digest }, stream: false }) });
  if (res.status !== 200) throw new Error(`create ${name} failed: ${res.status} ${await res.text()}`);
  return digest;
}
