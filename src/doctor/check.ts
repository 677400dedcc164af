// One line of `hearth doctor`: a check's name, how it went, what it found, and what to do.

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  /** Short and stable ("database", "server-secret"): scripts read the JSON by it. */
  check: string;
  status: CheckStatus;
  /** What was found, with the values that matter (paths, versions, sizes). */
  message: string;
  /** What to do about a warn or fail, as a command where there is one. */
  fix?: string;
}

export const ok = (check: string, message: string): CheckResult => ({ check, status: 'ok', message });
export const warn = (check: string, message: string, fix: string): CheckResult => ({ check, status: 'warn', message, fix });
export const fail = (check: string, message: string, fix: string): CheckResult => ({ check, status: 'fail', message, fix });

/** One line per check, aligned: "fail  server-secret  … — fix: chmod 600 …". */
export function formatResults(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.check.length));
  const lines = results.map((r) => `${r.status.padEnd(4)}  ${r.check.padEnd(width)}  ${r.message}${r.fix === undefined ? '' : ` — fix: ${r.fix}`}`);
  const count = (s: CheckStatus) => results.filter((r) => r.status === s).length;
  return [...lines, '', `${count('ok')} ok, ${count('warn')} warn, ${count('fail')} fail`].join('\n');
}

export const anyFailed = (results: readonly CheckResult[]): boolean => results.some((r) => r.status === 'fail');

/** GiB with one decimal, MiB or KiB below: sizes as an operator reads them. */
export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  return bytes >= 2 ** 20 ? `${Math.round(bytes / 2 ** 20)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}
