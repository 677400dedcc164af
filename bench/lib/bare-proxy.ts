// A reference for bench/gateway: the least a Node proxy in front of the backend can do for
// POST /api/v1/chat, with no auth, ledger, validation, logging or framework. It reads the JSON
// body, sends the same chat to the backend's /api/chat and answers with a chat.completion. Its
// CPU per request, measured in the same run as the gateway's, is the floor of this machine at
// that moment, so the gateway's figure can be read against it.
//
//   node dist/bench/lib/bare-proxy.js BACKEND_URL http|fetch|express-http|express-ollama
//
// `http` uses node:http with a keep-alive agent (what the gateway's transport does); `fetch`
// uses Node's fetch, the "bare Node proxy (http server + fetch)" of the performance notes. The
// two express modes are the rungs between these and the gateway (`bench:gateway -- --ladder`):
// an express 5 app with `express.json` and one router, forwarding with node:http, or through
// the official `ollama` client on the gateway's own transport (src/backend/backend-transport.ts),
// one client per request as the gateway makes them.
// Prints "PORT <n>" once listening on 127.0.0.1. The daemon's engine refuses callers without its
// secret: bench/gateway passes it in BENCH_ENGINE_SECRET, and every mode sends it as the gateway does.

import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import express from 'express';
import { Ollama } from 'ollama';
import { createBackendTransport } from '../../src/backend/backend-transport.js';

const MODES = ['http', 'fetch', 'express-http', 'express-ollama'] as const;
type Mode = (typeof MODES)[number];
const [backend, modeArg] = process.argv.slice(2);
if (!backend || !MODES.includes(modeArg as Mode)) {
  console.error(`usage: bare-proxy.js BACKEND_URL ${MODES.join('|')}`);
  process.exit(2);
}
const mode = modeArg as Mode;
if (new URL(backend).hostname !== '127.0.0.1') {
  console.error(`refusing a non-loopback backend: ${backend}`);
  process.exit(2);
}

interface ChatReply {
  message: { content: string };
  done_reason?: string;
  prompt_eval_count?: number;
  eval_count?: number;
}

const secret = process.env.BENCH_ENGINE_SECRET;
const auth: Record<string, string> = secret ? { authorization: `Bearer ${secret}` } : {};

const agent = new Agent({ keepAlive: true });
const chatUrl = `${backend}/api/chat`;

function viaHttp(body: string): Promise<ChatReply> {
  return new Promise((resolve, reject) => {
    const req = request(chatUrl, { method: 'POST', agent, headers: { ...auth, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatReply));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function viaFetch(body: string): Promise<ChatReply> {
  const res = await fetch(chatUrl, { method: 'POST', body, headers: { ...auth, 'content-type': 'application/json' } });
  return (await res.json()) as ChatReply;
}

interface ChatBody {
  model: string;
  messages: unknown[];
  max_tokens?: number;
}

const transport = createBackendTransport({ headers: auth });

function viaOllama(b: ChatBody): Promise<ChatReply> {
  const client = new Ollama({ host: backend, fetch: ((input: string, init?: RequestInit) => transport.fetch(input, init)) as unknown as typeof fetch });
  return client.chat({ model: b.model, messages: b.messages as never, stream: false, options: { num_predict: b.max_tokens } }) as Promise<ChatReply>;
}

function forward(b: ChatBody): Promise<ChatReply> {
  if (mode === 'express-ollama') return viaOllama(b);
  const out = JSON.stringify({ model: b.model, messages: b.messages, stream: false, options: { num_predict: b.max_tokens } });
  return mode === 'fetch' ? viaFetch(out) : viaHttp(out);
}

function completionOf(b: ChatBody, r: ChatReply): string {
  return JSON.stringify({
    id: 'chatcmpl-bare',
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: b.model,
    choices: [{ index: 0, message: { role: 'assistant', content: r.message.content }, finish_reason: r.done_reason === 'length' ? 'length' : 'stop' }],
    usage: { prompt_tokens: r.prompt_eval_count ?? 0, completion_tokens: r.eval_count ?? 0, total_tokens: (r.prompt_eval_count ?? 0) + (r.eval_count ?? 0) },
  });
}

function bareHandler(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const b = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatBody;
    forward(b).then(
      (r) => {
        const completion = completionOf(b, r);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(completion) }).end(completion);
      },
      (err: unknown) => res.writeHead(502).end(String(err)),
    );
  });
}

function expressApp(): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(express.json());
  const v1 = express.Router();
  v1.post('/chat', async (req, res) => {
    const b = req.body as ChatBody;
    res.type('json').send(completionOf(b, await forward(b)));
  });
  app.use('/api/v1', v1);
  return app;
}

const server = createServer(mode.startsWith('express') ? expressApp() : bareHandler);
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`PORT ${typeof address === 'object' && address ? address.port : 0}`);
});
process.on('SIGTERM', () => process.exit(0));
