import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { Logger } from '../log.js';
import { drainServer, watchConnections } from '../http/lifecycle.js';
import { createEngineApp } from './app.js';
import { ModelStore } from './store/model-store.js';
import { ModelPool, type LlamaFactory, type PoolSettings } from './runtime/model-pool.js';

export interface EngineOptions {
  modelsDir: string;
  /** How long shutdown waits for requests in flight before cutting their connections. */
  drainMs?: number;
  host: string;
  port: number;
  pool: PoolSettings;
  limits: { jsonBodyBytes: number; blobBytes: number };
  log: Logger;
  llamaFactory?: LlamaFactory;
  /** Requests without `Authorization: Bearer <secret>` are refused (401); undefined: none are. */
  secret?: string;
}

export interface RunningEngine {
  url: string;
  server: Server;
  store: ModelStore;
  pool: ModelPool;
  close(): Promise<void>;
}

export async function startEngine(opts: EngineOptions): Promise<RunningEngine> {
  const store = await ModelStore.open(opts.modelsDir);
  const pool = new ModelPool(opts.pool, (level, msg) => opts.log.log(level, msg, { source: 'llama.cpp' }), opts.llamaFactory);
  const app = createEngineApp({ store, pool, log: opts.log, limits: opts.limits, ...(opts.secret === undefined ? {} : { secret: opts.secret }) });
  const server = createServer(app);
  // Long generations on slow CPUs must not be cut by Node's default request timeout.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  // A connection that has sent no request yet (one a client left after an abort) must not hold
  // the drain to its deadline.
  const connections = watchConnections(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    server,
    store,
    pool,
    close() {
      closing ??= (async () => {
        await drainServer(server, opts.drainMs ?? 10_000, connections);
        await pool.close();
      })();
      return closing;
    },
  };
}
