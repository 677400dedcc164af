import { execFile } from 'node:child_process';
import { hearthBin } from './engine-process.js';
import { productEnv } from './daemon-process.js';

/** Runs the `hearth` CLI to its end; never rejects: the exit status is in `code`. */
export function runHearth(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [hearthBin, ...args], { env: productEnv(env), timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}
