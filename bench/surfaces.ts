// The API surfaces side by side: the same chat through Hearth's own POST /api/v1/chat, OpenAI's
// POST /v1/chat/completions and Ollama's POST /ollama/api/chat on one real `hearth serve`, and
// straight to the backend's POST /api/chat, in rotated rounds of one run. Part one (one generated
// token, not streamed): the daemon's CPU per request at concurrency 1 and under load, and req/s.
// Part two (a streamed chat of --stream-tokens tokens): the time to first token each surface adds
// to the backend's, and the daemon's CPU per streamed token. Ratios to /api/v1 are the figures to
// read: the two compatible surfaces should cost what Hearth's own does. See bench/README.md.

import { parseArgs } from 'node:util';
import { startDaemonProcess, type DaemonProcess } from '../test/helpers/daemon-process.js';
import { backendOf, SHIPPED_DAEMON_ENV, unboundedKey } from './lib/bench-daemon.js';
import { boundedRun } from './lib/bounded-run.js';
import { processCpuMs } from './lib/cpu.js';
import { JsonClient } from './lib/json-client.js';
import { median, quantile } from './lib/stats.js';
import { runMain } from './lib/run-main.js';

const usage = `Usage: npm run bench:surfaces -- [options]

  --warmup-requests N  unmeasured requests per side at --concurrency first, until V8 has
                       compiled each request path (warm-up CPU is printed per 1000)   (3000)
  --rounds N           concurrency-1 rounds, each one request per side, order rotated (1000)
  --concurrency N      connections of the throughput runs                             (32)
  --load-runs N        throughput runs per side, order rotated                        (3)
  --load-requests N    requests per throughput run                                    (1000)
  --stream-tokens N    tokens of each streamed chat (max_tokens / num_predict)        (32)
  --stream-warmup N    unmeasured streamed rounds first                               (30)
  --stream-rounds N    streamed rounds, each one stream per side, order rotated       (150)
  --timeout S          bound on the whole run, seconds                                (900)

Shorter: --warmup-requests 1000 --rounds 200 --load-runs 1 --load-requests 500
         --stream-warmup 5 --stream-rounds 30
`;

interface Config {
  warmupRequests: number;
  rounds: number;
  concurrency: number;
  loadRuns: number;
  loadRequests: number;
  streamTokens: number;
  streamWarmup: number;
  streamRounds: number;
  timeoutS: number;
}

function parseConfig(argv: string[]): Config | undefined {
  const str = { type: 'string' } as const;
  const { values: v } = parseArgs({
    args: argv,
    options: {
      'warmup-requests': str, rounds: str, concurrency: str, 'load-runs': str, 'load-requests': str,
      'stream-tokens': str, 'stream-warmup': str, 'stream-rounds': str, timeout: str, help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) return undefined;
  const n = (name: keyof typeof v, fallback: number, min = 1, max = 100_000): number => {
    const raw = v[name];
    const value = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be an integer from ${min} to ${max} (got "${String(raw)}")`);
    return value;
  };
  return {
    warmupRequests: n('warmup-requests', 3000, 0),
    rounds: n('rounds', 1000, 10),
    // The daemon lets at most limits.max_waiting_per_workspace calls of one workspace wait for a
    // backend slot (raised below to 1024); the direct side queues in the engine instead.
    concurrency: n('concurrency', 32, 1, 256),
    loadRuns: n('load-runs', 3),
    loadRequests: n('load-requests', 1000, 10),
    streamTokens: n('stream-tokens', 32, 2, 1024),
    streamWarmup: n('stream-warmup', 30, 0),
    streamRounds: n('stream-rounds', 150, 5),
    timeoutS: n('timeout', 900, 10, 3600),
  };
}

const MODEL = 'hearth-demo';
const MESSAGES = [{ role: 'user', content: 'Say hello.' }];

type Name = 'api-v1' | 'openai' | 'ollama' | 'direct';
const NAMES: readonly Name[] = ['api-v1', 'openai', 'ollama', 'direct'];

/** What each side is called in the report: its route, not streamed and streamed. */
const LABEL: Record<Name, [string, string]> = {
  'api-v1': ['POST /api/v1/chat', 'POST /api/v1/chat/stream'],
  openai: ['POST /v1/chat/completions', 'POST /v1/chat/completions, stream: true'],
  ollama: ['POST /ollama/api/chat', 'POST /ollama/api/chat (streams by default)'],
  direct: ['engine POST /api/chat (direct)', 'engine POST /api/chat (direct)'],
};

type Json = Record<string, unknown>;

// ---- part one: one generated token, the whole answer at once ----

/** The same work on every side: one generated token of the same chat, not streamed. */
const ONE_TOKEN: Record<Name, { path: string; body: string; answered: (j: Json) => boolean }> = (() => {
  const ollamaBody = JSON.stringify({ model: MODEL, messages: MESSAGES, stream: false, options: { num_predict: 1 } });
  const ollamaAnswered = (j: Json) => j.done === true && j.eval_count === 1;
  const usageAnswered = (j: Json) => (j.usage as { completion_tokens?: number } | undefined)?.completion_tokens === 1;
  return {
    'api-v1': { path: '/api/v1/chat', body: JSON.stringify({ model: MODEL, messages: MESSAGES, max_tokens: 1 }), answered: usageAnswered },
    openai: { path: '/v1/chat/completions', body: JSON.stringify({ model: MODEL, messages: MESSAGES, max_tokens: 1 }), answered: usageAnswered },
    ollama: { path: '/ollama/api/chat', body: ollamaBody, answered: ollamaAnswered },
    direct: { path: '/api/chat', body: ollamaBody, answered: ollamaAnswered },
  };
})();

/** One request: resolves with its duration in ms (hrtime), after checking the answer. */
type Send = (signal: AbortSignal) => Promise<number>;

function sender(client: JsonClient, name: Name): Send {
  const { path, body, answered } = ONE_TOKEN[name];
  return async (signal) => {
    const start = process.hrtime.bigint();
    const res = await client.post(path, body, signal);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (res.status !== 200 || !answered(JSON.parse(res.text) as Json)) throw new Error(`POST ${path} answered ${res.status}: ${res.text.slice(0, 500)}`);
    return ms;
  };
}

/** `requests` requests over `concurrency` connections; the daemon's CPU over them, and req/s. */
async function runLoad(requests: number, concurrency: number, send: Send, daemonPid: number, signal: AbortSignal): Promise<{ cpuMs: number; reqPerS: number }> {
  let next = 0;
  const cpuBefore = processCpuMs(daemonPid);
  const start = process.hrtime.bigint();
  const worker = async () => {
    while (next < requests) {
      next++;
      await send(signal);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { cpuMs: processCpuMs(daemonPid) - cpuBefore, reqPerS: (requests * 1000) / ms };
}

const perSide = <T>(make: () => T): Record<Name, T> => Object.fromEntries(NAMES.map((n) => [n, make()])) as Record<Name, T>;

/** Step `k` of round `i`: every side in turn, starting one further each round, so none always goes first. */
const rotated = <T>(xs: readonly T[], i: number, k: number): T => xs[(i + k) % xs.length] as T;

interface OneTokenResult {
  /** Daemon CPU per chunk of the loaded warm-up, ms per request. */
  warm: Record<Name, number[]>;
  /** Concurrency 1: the daemon's CPU while each side's requests ran, summed, and their latencies. */
  cpu1: Record<Name, number>;
  latency1: Record<Name, number[]>;
  /** Under load: one entry per run. */
  loads: Record<Name, Array<{ cpuMs: number; reqPerS: number }>>;
}

const WARMUP_CHUNK = 1000;

async function oneToken(c: Config, one: Record<Name, Send>, many: Record<Name, Send>, daemonPid: number, signal: AbortSignal): Promise<OneTokenResult> {
  const out: OneTokenResult = { warm: perSide(() => []), cpu1: perSide(() => 0), latency1: perSide(() => []), loads: perSide(() => []) };
  // V8 goes on optimizing a request path for thousands of requests (bench:gateway's warm-up);
  // each surface has its own router and translation, so each is warmed up on its own.
  for (let done = 0; done < c.warmupRequests; done += WARMUP_CHUNK) {
    const n = Math.min(WARMUP_CHUNK, c.warmupRequests - done);
    for (const name of NAMES) out.warm[name].push((await runLoad(n, c.concurrency, many[name], daemonPid, signal)).cpuMs / n);
  }
  // Concurrency 1: the daemon is read before and after each request, and the difference charged
  // to that side. /proc's figures are in 10 ms ticks, so only the sum over many rounds means anything.
  for (let i = 0; i < c.rounds; i++) {
    for (let k = 0; k < NAMES.length; k++) {
      const name = rotated(NAMES, i, k);
      const before = processCpuMs(daemonPid);
      out.latency1[name].push(await one[name](signal));
      out.cpu1[name] += processCpuMs(daemonPid) - before;
    }
  }
  for (let i = 0; i < c.loadRuns; i++) {
    for (let k = 0; k < NAMES.length; k++) {
      const name = rotated(NAMES, i, k);
      out.loads[name].push(await runLoad(c.loadRequests, c.concurrency, many[name], daemonPid, signal));
    }
  }
  return out;
}

// ---- part two: a streamed chat ----

/** One line of a stream, as its surface frames it: a token, the end with the total, or neither. */
type Parsed = { token: true } | { done: number } | undefined;

function streamOf(name: Name, tokens: number): { path: string; body: string; parse: (line: string) => Parsed } {
  const fail = (line: string) => {
    throw new Error(`${LABEL[name][1]} sent an error: ${line.slice(0, 500)}`);
  };
  // Event streams: `data: {...}` lines; comments (heartbeats), `event:` lines and [DONE] carry no token.
  const sseData = (line: string): Json | undefined => {
    if (line.startsWith('event: error')) fail(line);
    if (!line.startsWith('data: ') || line === 'data: [DONE]') return undefined;
    const j = JSON.parse(line.slice(6)) as Json;
    if (j.error !== undefined) fail(line);
    return j;
  };
  // NDJSON, Ollama's framing: every line but the last carries a token; the last has the counts.
  const ndjson = (line: string): Parsed => {
    const j = JSON.parse(line) as Json;
    if (j.error !== undefined) fail(line);
    return j.done === true ? { done: Number(j.eval_count) } : { token: true };
  };
  const ollamaBody = JSON.stringify({ model: MODEL, messages: MESSAGES, options: { num_predict: tokens, temperature: 0 } });
  switch (name) {
    case 'api-v1':
      return {
        path: '/api/v1/chat/stream',
        body: JSON.stringify({ model: MODEL, messages: MESSAGES, max_tokens: tokens, temperature: 0 }),
        parse: (line) => {
          const j = sseData(line);
          if (j === undefined) return undefined;
          if (j.done === true) return { done: Number((j.usage as Json | undefined)?.completion_tokens) };
          return typeof j.token === 'string' ? { token: true } : undefined;
        },
      };
    case 'openai':
      return {
        path: '/v1/chat/completions',
        body: JSON.stringify({ model: MODEL, messages: MESSAGES, max_tokens: tokens, temperature: 0, stream: true, stream_options: { include_usage: true } }),
        parse: (line) => {
          const j = sseData(line);
          if (j === undefined) return undefined;
          if (j.usage !== null && j.usage !== undefined) return { done: Number((j.usage as Json).completion_tokens) };
          // The role comes in a chunk of its own, written with the first token's.
          const delta = ((j.choices as Json[] | undefined)?.[0]?.delta ?? {}) as Json;
          return typeof delta.content === 'string' && delta.role === undefined ? { token: true } : undefined;
        },
      };
    case 'ollama':
      return { path: '/ollama/api/chat', body: ollamaBody, parse: ndjson };
    case 'direct':
      return { path: '/api/chat', body: ollamaBody, parse: ndjson };
  }
}

interface Streamed {
  ttftMs: number;
  /** Generated tokens, as the stream's last event reports them. */
  tokens: number;
}

type StreamSend = (signal: AbortSignal) => Promise<Streamed>;

function streamSender(client: JsonClient, name: Name, tokens: number): StreamSend {
  const { path, body, parse } = streamOf(name, tokens);
  return async (signal) => {
    const start = process.hrtime.bigint();
    let ttftMs: number | undefined;
    let total: number | undefined;
    let events = 0;
    const status = await client.postLines(path, body, signal, (line) => {
      const p = parse(line);
      if (p === undefined) return;
      if ('token' in p) {
        events++;
        ttftMs ??= Number(process.hrtime.bigint() - start) / 1e6;
      } else total = p.done;
    });
    if (status !== 200 || ttftMs === undefined || total === undefined || !(total >= 1) || events < 1) {
      throw new Error(`${LABEL[name][1]} answered ${status}: ${events} token events, ${String(total)} tokens reported`);
    }
    return { ttftMs, tokens: total };
  };
}

interface StreamResult {
  ttft: Record<Name, number[]>;
  tokens: Record<Name, number>;
  cpuMs: Record<Name, number>;
}

async function streamed(c: Config, sends: Record<Name, StreamSend>, daemonPid: number, signal: AbortSignal): Promise<StreamResult> {
  for (let i = 0; i < c.streamWarmup; i++) for (let k = 0; k < NAMES.length; k++) await sends[rotated(NAMES, i, k)](signal);
  const out: StreamResult = { ttft: perSide(() => []), tokens: perSide(() => 0), cpuMs: perSide(() => 0) };
  for (let i = 0; i < c.streamRounds; i++) {
    for (let k = 0; k < NAMES.length; k++) {
      const name = rotated(NAMES, i, k);
      const before = processCpuMs(daemonPid);
      const s = await sends[name](signal);
      out.cpuMs[name] += processCpuMs(daemonPid) - before;
      out.ttft[name].push(s.ttftMs);
      out.tokens[name] += s.tokens;
    }
  }
  return out;
}

// ---- report ----

const f3 = (x: number, w = 9) => x.toFixed(3).padStart(w);
const f2 = (x: number, w = 7) => x.toFixed(2).padStart(w);

function report(c: Config, one: OneTokenResult, st: StreamResult): void {
  const cN = `concurrency ${c.concurrency}`;
  console.log(`${MODEL} on the bundled engine; one daemon, every side in rotated rounds; daemon CPU = utime+stime of the`);
  console.log('daemon process from /proc (10 ms ticks, summed over the rounds), the engine child not counted');
  console.log('');
  console.log('1. One generated token, not streamed');
  if (c.warmupRequests > 0) {
    console.log(`   warm-up at ${cN}: daemon CPU per request of each ${WARMUP_CHUNK} requests, ms (not counted below)`);
    for (const name of NAMES) console.log(`     ${LABEL[name][0].padEnd(34)} ${one.warm[name].map((x) => x.toFixed(2)).join(' ')}`);
  }
  const cpu1 = (name: Name) => one.cpu1[name] / c.rounds;
  const cpuN = (name: Name) => one.loads[name].reduce((s, r) => s + r.cpuMs, 0) / (one.loads[name].length * c.loadRequests);
  const rate = (name: Name) => median(one.loads[name].map((r) => r.reqPerS));
  console.log(`   ${''.padEnd(34)}   CPU/req c1   p50 ms c1   CPU/req c${c.concurrency}    req/s c${c.concurrency}`);
  for (const name of NAMES) {
    console.log(`   ${LABEL[name][0].padEnd(34)} ${f3(cpu1(name), 10)} ms ${f3(median(one.latency1[name]), 10)} ${f3(cpuN(name), 10)} ms ${rate(name).toFixed(0).padStart(10)}`);
  }
  console.log('   (the direct side\'s daemon CPU is what the idle daemon spends meanwhile)');
  console.log(`   ratios to /api/v1/chat       CPU/req c1   p50 ms c1   CPU/req c${c.concurrency}    req/s c${c.concurrency}`);
  for (const name of ['openai', 'ollama'] as const) {
    const label = name === 'openai' ? '/v1 ÷ /api/v1' : '/ollama ÷ /api/v1';
    console.log(`     ${label.padEnd(26)} ${f2(cpu1(name) / cpu1('api-v1'), 10)}   ${f2(median(one.latency1[name]) / median(one.latency1['api-v1']), 10)}   ${f2(cpuN(name) / cpuN('api-v1'), 10)}      ${f2(rate(name) / rate('api-v1'), 10)}`);
  }
  console.log(`   (${c.rounds} rounds at concurrency 1; ${c.loadRuns} runs × ${c.loadRequests} requests per side at ${cN}, req/s the median)`);
  console.log('');

  console.log(`2. A streamed chat of ${c.streamTokens} tokens (temperature 0), ${c.streamRounds} rounds after ${c.streamWarmup} warm-up, concurrency 1`);
  const diffs = (name: Name) => st.ttft[name].map((t, i) => t - (st.ttft.direct[i] as number));
  const perToken = (name: Name) => st.cpuMs[name] / st.tokens[name];
  console.log(`   ${''.padEnd(42)}  TTFT p50   added p50   added p90   CPU/token   tokens/stream`);
  for (const name of NAMES) {
    const added = name === 'direct' ? '        —           —' : `${f3(median(diffs(name)), 11)} ${f3(quantile(diffs(name), 0.9), 11)}`;
    console.log(`   ${LABEL[name][1].padEnd(42)} ${f3(median(st.ttft[name]), 9)} ${added} ${f3(perToken(name), 11)} ${(st.tokens[name] / c.streamRounds).toFixed(1).padStart(14)}`);
  }
  console.log('   (ms; "added": per-round difference to the direct stream of the same round; CPU/token: the daemon\'s CPU');
  console.log('    over the side\'s streams ÷ the tokens they reported)');
  console.log('   ratios to /api/v1/chat/stream        added TTFT p50   CPU/token');
  for (const name of ['openai', 'ollama'] as const) {
    const label = name === 'openai' ? '/v1 ÷ /api/v1' : '/ollama ÷ /api/v1';
    console.log(`     ${label.padEnd(34)} ${f2(median(diffs(name)) / median(diffs('api-v1')), 10)}   ${f2(perToken(name) / perToken('api-v1'), 10)}`);
  }
}

async function main(argv: string[]): Promise<number> {
  const c = parseConfig(argv);
  if (!c) {
    process.stdout.write(usage);
    return 0;
  }
  const run = boundedRun(c.timeoutS);
  let daemon: DaemonProcess | undefined;
  const clients: JsonClient[] = [];
  try {
    daemon = await startDaemonProcess({
      env: {
        // The daemon as it ships, except that the fair queue lets the whole load of one workspace
        // wait: its defaults (64 waiting per workspace) bound a single client's concurrency,
        // which is what this measures.
        ...SHIPPED_DAEMON_ENV,
        HEARTH_LIMITS_MAX_WAITING: '1024',
        HEARTH_LIMITS_MAX_WAITING_PER_WORKSPACE: '1024',
      },
    });
    const d = daemon;
    process.once('exit', () => d.child.kill('SIGKILL'));
    const daemonPid = d.child.pid as number;
    const backend = await backendOf(d, run.signal);
    const key = await unboundedKey(d);

    const client = (name: Name, sockets: number) => {
      const cl = name === 'direct' ? new JsonClient(backend.url, sockets, d.engineHeaders()) : new JsonClient(d.url, sockets, { authorization: `Bearer ${key}` });
      clients.push(cl);
      return cl;
    };
    const one = perSide<Send | undefined>(() => undefined) as Record<Name, Send>;
    const many = { ...one };
    const streams = perSide<StreamSend | undefined>(() => undefined) as Record<Name, StreamSend>;
    for (const name of NAMES) {
      one[name] = sender(client(name, 1), name);
      many[name] = sender(client(name, c.concurrency), name);
      streams[name] = streamSender(client(name, 1), name, c.streamTokens);
    }

    const measure = async () => {
      const first = await oneToken(c, one, many, daemonPid, run.signal);
      const second = await streamed(c, streams, daemonPid, run.signal);
      return { first, second };
    };
    const { first, second } = await Promise.race([measure(), run.aborted]);
    report(c, first, second);
    return 0;
  } finally {
    run.end();
    for (const cl of clients) cl.close();
    await daemon?.stop();
  }
}

runMain(main);
