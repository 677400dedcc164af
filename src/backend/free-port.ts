import { createServer, type AddressInfo } from 'node:net';

/** Listens on host:port and closes again; resolves with the port listened on. */
function listenOnce(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(port, host, () => {
      const { port: bound } = server.address() as AddressInfo;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * A TCP port free on `host` right now, from the kernel's ephemeral range. The port is released
 * before this returns, so another process could take it first; the caller learns that when its
 * child fails to listen.
 */
export function pickFreePort(host: string): Promise<number> {
  return listenOnce(host, 0);
}

/**
 * Whether `host:port` can be listened on right now: false when another socket holds it
 * (EADDRINUSE, whether or not what holds it speaks HTTP). Any other failure (no such address,
 * a privileged port) rejects: another port would not help. Released at once, like pickFreePort.
 */
export async function canListen(host: string, port: number): Promise<boolean> {
  try {
    await listenOnce(host, port);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') return false;
    throw err;
  }
}
