import { Router, type Request, type Response } from 'express';
import { HearthError } from '../../errors.js';
import type { BackendClient } from '../../backend/backend-client.js';
import { clientGoneSignal } from '../../http/lifecycle.js';
import { served, streamStarted, tokensServed, waive } from '../../gateway/guard.js';
import { backendFailure, backendJson, boundOptions, isNdjson, ndjsonLines, optionsWithDefaults, type OptionBounds } from './relay.js';

type Body = Record<string, unknown> & { model: string };
/** The counts Ollama puts on a final line (and on a whole answer). */
type Counts = { done?: unknown; prompt_eval_count?: unknown; eval_count?: unknown; error?: unknown };

const count = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) ? n : 0);

/**
 * Ollama's load and unload calls: a chat with no messages, a generate with nothing to continue
 * (no prompt, suffix or context). They run no generation, so they are never charged (Open WebUI
 * unloads with `keep_alive: 0` this way after a conversation).
 */
export const loadsOnly = {
  chat: (b: Body) => !Array.isArray(b.messages) || b.messages.length === 0,
  generate: (b: Body) => !b.prompt && !b.suffix && !(Array.isArray(b.context) && b.context.length > 0),
  embed: (b: Body) => b.input === undefined || (Array.isArray(b.input) && b.input.length === 0),
  embeddings: (b: Body) => !b.prompt,
} as const;

/**
 * POST /ollama/api/chat and /ollama/api/generate: the validated body goes to the backend's own
 * route with every field as sent (images, tools, tool calls, format, options, keep_alive, think,
 * raw, suffix, template, context...), and its answer comes back as it is written: a stream line
 * by line (charged at the first line out; a client gone stops the backend call), or one object.
 * POST /ollama/api/embed and the legacy /ollama/api/embeddings: one object.
 */
export function createOllamaInferenceRouter({ chat, bounds }: { chat: BackendClient; bounds: OptionBounds }): Router {
  const router = Router();

  const generation = (path: '/api/chat' | '/api/generate', loadOnly: (b: Body) => boolean) => async (req: Request, res: Response) => {
    const body = req.body as Body;
    if (loadOnly(body)) waive(res);
    else body.options = optionsWithDefaults(body.options, res.locals.model?.parameters);
    // A load call allocates the context it names as much as a generation does.
    body.options = boundOptions(body.options as Record<string, unknown> | undefined, bounds);
    const upstream = await chat.forward('POST', path, body, { signal: clientGoneSignal(res), inference: true });
    if (!upstream.ok) throw await backendFailure(upstream, body.model);
    if (!isNdjson(upstream)) {
      const answer = (await upstream.json()) as Counts;
      tokensServed(res, count(answer.prompt_eval_count), count(answer.eval_count));
      res.json(answer);
      return;
    }
    streamStarted(res);
    for await (const line of ndjsonLines(upstream.body)) {
      const part = JSON.parse(line) as Counts;
      // Ollama reports a failure during a generation as a line of its own: before the first
      // line out it is the answer's status (and uncharged); after, the error middleware ends
      // the stream with it in Ollama's framing.
      if (typeof part.error === 'string') throw new HearthError('internal', `the model backend failed: ${part.error}`, { code: 'backend_error' });
      if (res.destroyed || res.writableEnded) return;
      if (!res.headersSent) {
        res.status(200);
        res.setHeader('Content-Type', 'application/x-ndjson');
      }
      res.write(`${line}\n`);
      served(res);
      if (part.done === true) tokensServed(res, count(part.prompt_eval_count), count(part.eval_count));
    }
    if (!res.headersSent) throw new HearthError('internal', 'the model backend ended its stream without a line', { code: 'backend_error' });
    res.end();
  };
  router.post('/api/chat', generation('/api/chat', loadsOnly.chat));
  router.post('/api/generate', generation('/api/generate', loadsOnly.generate));

  const embedding = (path: '/api/embed' | '/api/embeddings', loadOnly: (b: Body) => boolean) => async (req: Request, res: Response) => {
    const body = req.body as Body;
    if (loadOnly(body)) waive(res);
    body.options = boundOptions(body.options as Record<string, unknown> | undefined, bounds);
    const answer = await backendJson<Counts>(await chat.forward('POST', path, body, { signal: clientGoneSignal(res), inference: true }), body.model);
    // The legacy route reports no count: it read a prompt, but how many tokens Ollama does not say.
    tokensServed(res, count(answer.prompt_eval_count), 0);
    res.json(answer);
  };
  router.post('/api/embed', embedding('/api/embed', loadsOnly.embed));
  router.post('/api/embeddings', embedding('/api/embeddings', loadsOnly.embeddings));
  return router;
}
