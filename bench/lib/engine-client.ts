// The engine side of the benchmark: streaming POST /api/generate over Node's own `http` with
// one keep-alive connection. Plain `http` rather than `fetch`: fetch (undici) costs more CPU per
// request and per body chunk, and on a 2-core machine the client's CPU competes with the
// engine's; it also adds a web-stream layer between a socket read and our timestamp.

import { Agent, request, type IncomingMessage } from 'node:http';
import type { GenerationTiming } from './stats.js';

/** The engine's own account of the generation, from its final NDJSON line. */
export interface EngineTiming extends GenerationTiming {
  /** eval_count / eval_duration: decode speed inside the engine, before delivery to the client. */
  reportedDecodeTps: number;
}

export interface GenerateParams {
  model: string;
  prompt: string;
  numPredict: number;
  numCtx: number;
  seed: number;
}

/** The `options` the engine receives; the in-process side derives its sampler from the same object. */
export function ollamaOptions(p: Omit<GenerateParams, 'model' | 'prompt'>) {
  return { temperature: 0, num_predict: p.numPredict, seed: p.seed, num_ctx: p.numCtx };
}

interface NdjsonLine {
  response?: string;
  done?: boolean;
  eval_count?: number;
  eval_duration?: number;
  error?: string;
}

export class EngineClient {
  // One socket, reused: the benchmark runs one request at a time, and a new TCP handshake per
  // round would be a client cost, not an engine cost.
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });

  constructor(private readonly baseUrl: string) {}

  /** One raw, greedy, streamed generation; timestamps are NDJSON line arrival times. */
  generate(p: GenerateParams, signal: AbortSignal): Promise<EngineTiming> {
    const body = JSON.stringify({ model: p.model, prompt: p.prompt, raw: true, stream: true, keep_alive: -1, options: ollamaOptions(p) });
    return new Promise((resolve, reject) => {
      const sentAt = performance.now();
      const req = request(`${this.baseUrl}/api/generate`, {
        method: 'POST',
        agent: this.agent,
        signal,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      // The request is one small write, but make sure Nagle never holds it back.
      req.setNoDelay(true);
      req.on('error', reject);
      req.on('response', (res) => readStream(res, sentAt).then(resolve, reject));
      req.end(body);
    });
  }

  /** POST with a JSON body, non-streaming; the parsed answer. Setup only, never timed, so plain fetch. */
  async postJson(path: string, payload: unknown, signal: AbortSignal): Promise<unknown> {
    const res = await fetch(`${this.baseUrl}${path}`, { method: 'POST', body: JSON.stringify(payload), headers: { 'content-type': 'application/json' }, signal });
    const text = await res.text();
    if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${text}`);
    return JSON.parse(text);
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Reads the NDJSON stream, stamping each line with the arrival time of the bytes that ended it. */
function readStream(res: IncomingMessage, sentAt: number): Promise<EngineTiming> {
  return new Promise((resolve, reject) => {
    let pending = '';
    let text = '';
    let firstTokenAt: number | undefined;
    let lastTokenAt = 0;
    let final: NdjsonLine | undefined;
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      const now = performance.now() - sentAt;
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = JSON.parse(pending.slice(0, nl)) as NdjsonLine;
        pending = pending.slice(nl + 1);
        if (line.error !== undefined) return reject(new Error(`engine: ${line.error}`));
        if (line.done) {
          final = line;
        } else {
          firstTokenAt ??= now;
          lastTokenAt = now;
          text += line.response ?? '';
        }
      }
    });
    res.on('error', reject);
    res.on('end', () => {
      if (res.statusCode !== 200) return reject(new Error(`engine answered ${res.statusCode}: ${pending}`));
      const tokens = final?.eval_count;
      const evalNs = final?.eval_duration;
      if (firstTokenAt === undefined || tokens === undefined || evalNs === undefined) return reject(new Error('engine stream ended without tokens or a final line'));
      resolve({ firstTokenAt, lastTokenAt, tokens, text, reportedDecodeTps: tokens / (evalNs / 1e9) });
    });
  });
}
