import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { hearthBin } from './engine-process.js';

export interface DaemonProcess {
  url: string;
  dataDir: string;
  adminToken: string;
  child: ChildProcess;
  logs: Array<Record<string, unknown>>;
  stdout: string[];
  /** The secret the daemon gave its bundled engine at this start (<dataDir>/engine-secret); undefined for another backend. */
  engineSecret: string | undefined;
  /** Where the daemon reaches its backend (the admin health's backend.url). */
  engineUrl(): Promise<string>;
  /** Headers for calling the daemon's engine directly, as only Hearth may: its secret as `Authorization`. */
  engineHeaders(): Record<string, string>;
  /** Calls the admin API with the admin token. */
  admin<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** Calls /api/v1 with `key` (X-API-Key); a string body is sent as it is (malformed JSON tests). */
  api<T = unknown>(key: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** Creates a workspace on `plan` and a key for it; returns the key. */
  keyFor(plan: string, opts?: { workspace?: string; credits?: number | null; scopes?: string[]; expiresAt?: string }): Promise<{ key: string; id: string; workspace: string }>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

let counter = 0;

/**
 * The environment for a `hearth serve` or admin CLI child: this process's, less the test suite's
 * own HEARTH_TEST_* settings, which the product would refuse as unknown HEARTH_ variables.
 */
export function productEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(([name]) => !name.startsWith('HEARTH_TEST_'));
  return { ...Object.fromEntries(inherited), ...extra };
}

/**
 * Runs `hearth serve` as a real process on a temp data dir: the bundled engine (CPU, one
 * thread, loopback port chosen by the daemon) with its demo model, SQLite in the data dir.
 */
export async function startDaemonProcess(
  opts: { dataDir?: string; env?: Record<string, string>; args?: string[]; nodeArgs?: string[]; bin?: string; configYaml?: string } = {},
): Promise<DaemonProcess> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'hearth-daemon-')));
  // configYaml: a config file's text, written beside the data dir and given with --config.
  let configArgs: string[] = [];
  if (opts.configYaml !== undefined) {
    const file = join(await mkdtemp(join(tmpdir(), 'hearth-config-')), 'config.yaml');
    await writeFile(file, opts.configYaml);
    configArgs = ['--config', file];
  }
  // nodeArgs: options for node itself (e.g. --cpu-prof, which NODE_OPTIONS does not accept).
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.bin ?? hearthBin, 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', ...configArgs, ...(opts.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: productEnv({
      HEARTH_BACKEND_MODE: 'engine',
      HEARTH_ENGINE_LISTEN: '127.0.0.1:0',
      HEARTH_ENGINE_GPU: 'off',
      HEARTH_ENGINE_THREADS: '1',
      HEARTH_FINETUNE_THREADS: '1',
      HEARTH_DEV_VALIDATE_RESPONSES: 'true',
      ...opts.env,
    }),
  });
  const logs: Array<Record<string, unknown>> = [];
  const stdout: string[] = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon did not become ready in 120 s; stderr: ${stderr}`)), 120_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      stdout.push(line);
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.message === 'hearth ready') {
          clearTimeout(timer);
          resolve(String(entry.url));
        }
      } catch {
        // Plain lines: where a new admin token was saved, on first start.
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited with ${code} before ready; stderr: ${stderr}`));
    });
  });
  const adminToken = (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim();
  // Written before the engine starts, so there by "hearth ready"; none for an Ollama backend.
  const engineSecret = (await readFile(join(dataDir, 'engine-secret'), 'utf8').catch(() => '')).trim() || undefined;
  const request = async <T>(auth: Record<string, string>, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { ...auth, 'content-type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (res.status === 204 ? undefined : await res.json()) as T };
  };
  const admin = <T>(method: string, path: string, body?: unknown) => request<T>({ authorization: `Bearer ${adminToken}` }, method, path, body);
  const api = <T>(key: string, method: string, path: string, body?: unknown) => request<T>({ 'x-api-key': key }, method, `/api/v1${path}`, body);
  return {
    url,
    dataDir,
    adminToken,
    child,
    logs,
    stdout,
    admin,
    api,
    engineSecret,
    async engineUrl() {
      const health = await admin<{ backend: { url: string } }>('GET', '/api/v1/health');
      return health.body.backend.url;
    },
    engineHeaders: (): Record<string, string> => (engineSecret === undefined ? {} : { authorization: `Bearer ${engineSecret}` }),
    async keyFor(plan, o = {}) {
      const workspace = o.workspace ?? `ws-${plan}-${process.pid}-${++counter}`;
      const w = await admin('POST', '/api/admin/workspaces', { name: workspace, plan, ...(o.credits !== undefined ? { monthly_credits: o.credits } : {}) });
      if (w.status !== 201 && w.status !== 409) throw new Error(`workspace: ${w.status} ${JSON.stringify(w.body)}`);
      const k = await admin<{ key: string; id: string }>('POST', '/api/admin/keys', { workspace, name: `key-${counter}`, ...(o.scopes ? { scopes: o.scopes } : {}), ...(o.expiresAt ? { expires_at: o.expiresAt } : {}) });
      if (k.status !== 201) throw new Error(`key: ${k.status} ${JSON.stringify(k.body)}`);
      return { key: k.body.key, id: k.body.id, workspace };
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      if (!opts.dataDir && signal !== 'SIGKILL') await rm(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}
