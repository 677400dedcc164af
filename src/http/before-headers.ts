import type { ServerResponse } from 'node:http';

/**
 * Runs `hook` with the status just before a response's headers are written: the one moment at
 * which its status is known and nothing of it has left (the on-headers pattern). Node writes the
 * status line through writeHead, also for res.json and res.end, so wrapping it sees every
 * response. Hooks added later run first; each runs once.
 */
export function beforeHeaders(res: ServerResponse, hook: (status: number) => void): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    hook(typeof args[0] === 'number' ? args[0] : this.statusCode);
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
}
