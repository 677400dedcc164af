// The unit tier's purity, enforced: loaded before every unit test file (`node --test --import
// ./dist/test/helpers/unit-tier.js dist/test/unit/*.test.js`, see package.json), it makes every
// way of opening a socket or starting a process throw, so a test that needs one fails at once
// with the reason instead of passing slowly, or only where a network or a port is free.
//
// `node --test` starts each file in a child process with the runner's own execArgv, --import
// included, and marks the child with NODE_TEST_CONTEXT. The runner itself must still spawn those
// children, so the guard stays off there: it is on in a test file's process, whether started by
// the runner or by hand with --import.

import childProcess from 'node:child_process';
import dgram from 'node:dgram';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import workerThreads from 'node:worker_threads';

export const UNIT_TIER_REFUSAL = 'unit tests open no sockets / start no processes: move this test to test/integration';


const isRunner = process.env.NODE_TEST_CONTEXT === undefined && process.execArgv.includes('--test');

// Every refusal is also remembered: code that catches the error (a probe such as "is git
// there?", a library's fallback) would otherwise turn it into a skip or a quiet pass. A file
// with a refusal fails as its process exits, naming what it tried.
const refusals = new Set<string>();

/** Throws the refusal, named UnitTierViolation; `what` names the call. */
function refuse(what: string): never {
  refusals.add(what);
  throw Object.assign(new Error(`${what}: ${UNIT_TIER_REFUSAL}`), { name: 'UnitTierViolation' });
}

/** Takes the refusals so far, which then no longer fail the file: for the guard's own test. */
export function takeRefusals(): string[] {
  const taken = [...refusals];
  refusals.clear();
  return taken;
}

function refuseMethods(target: object, names: readonly string[], prefix: string): void {
  for (const name of names) {
    Object.defineProperty(target, name, {
      configurable: true,
      writable: true,
      value: function refused() {
        refuse(`${prefix}${name}`);
      },
    });
  }
}

if (!isRunner) {
  // Every TCP, TLS, HTTP(S) and IPC socket, client or server, goes through these two: http's
  // agent, tls.connect and undici's connector all end in net.Socket#connect, and every server
  // (express's app.listen included) in net.Server#listen.
  refuseMethods(net.Server.prototype, ['listen'], 'net.Server#');
  refuseMethods(net.Socket.prototype, ['connect'], 'net.Socket#');
  refuseMethods(net, ['connect', 'createConnection'], 'net.');
  refuseMethods(dgram.Socket.prototype, ['bind', 'send', 'connect'], 'dgram.Socket#');
  // fetch would wrap the refused connect in a bare "fetch failed"; refuse it by name instead.
  const realFetch = globalThis.fetch;
  globalThis.fetch = function guardedFetch(input: Parameters<typeof fetch>[0], init?: RequestInit) {
    const url = input instanceof Request ? input.url : String(input);
    if (/^(https?|wss?):/i.test(url)) refuse(`fetch(${url})`);
    return realFetch(input, init);
  };

  // Each exported function (exec and execFile reach spawn through module-internal references,
  // not the export), and ChildProcess#spawn beneath them for anything that builds one itself.
  refuseMethods(childProcess, ['spawn', 'fork', 'exec', 'execFile', 'spawnSync', 'execSync', 'execFileSync'], 'child_process.');
  refuseMethods(childProcess.ChildProcess.prototype, ['spawn'], 'ChildProcess#');
  Object.defineProperty(workerThreads, 'Worker', {
    configurable: true,
    writable: true,
    value: function Worker() {
      refuse('new worker_threads.Worker');
    },
  });

  process.on('exit', () => {
    if (refusals.size === 0) return;
    process.stderr.write(`${UNIT_TIER_REFUSAL}. This file tried, even where it caught the error:\n${[...refusals].map((r) => `  ${r}\n`).join('')}`);
    process.exitCode = 1;
  });

  // ESM named imports (`import { spawn } from 'node:child_process'`) are bindings taken when the
  // builtin was first loaded: this makes them see the replacements.
  syncBuiltinESMExports();
}
