import { createServer, type AddressInfo } from 'node:net';

/**
 * A TCP port free on `host` right now, from the kernel's ephemeral range. The port is released
 * before this returns, so another process could take it first; the caller learns that when its
 * child fails to listen.
 */
export function pickFreePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
