import { Router } from 'express';
import { invalidRequest } from '../../errors.js';
import { NdjsonWriter } from '../http/streaming.js';
import { clientGoneSignal } from '../../http/lifecycle.js';
import type { InferenceService, JsonFormat } from '../service/inference.js';
import type { OllamaOptions } from '../runtime/options.js';
import { finalStats } from './chat.js';

interface GenerateBody {
  model: string;
  prompt?: string;
  suffix?: string;
  system?: string;
  template?: string;
  context?: number[];
  raw?: boolean;
  stream?: boolean;
  format?: JsonFormat | '';
  options?: OllamaOptions;
  keep_alive?: string | number;
  images?: string[];
  think?: boolean | string;
  /** Ollama's: false refuses a prompt longer than the context instead of cutting it. */
  truncate?: boolean;
}

/** POST /api/generate: a single prompt, templated unless `raw`; `context` continues an earlier call. */
export function createGenerateRouter({ inference }: { inference: InferenceService }): Router {
  const router = Router();
  router.post('/api/generate', async (req, res) => {
    const body = req.body as GenerateBody;
    const createdAt = () => new Date().toISOString();
    if (body.images && body.images.length > 0) throw invalidRequest(`model "${body.model}" does not support images`, 'images_unsupported');
    if (!body.prompt && !body.suffix && !body.context?.length) {
      const reason = await inference.loadOrUnload(body.model, body.keep_alive);
      res.json({ model: body.model, created_at: createdAt(), response: '', done_reason: reason, done: true });
      return;
    }
    const stream = body.stream !== false;
    const out = new NdjsonWriter(res);
    const result = await inference.generate({
      model: body.model,
      input: { kind: 'prompt', prompt: body.prompt ?? '', system: body.system, template: body.template, raw: body.raw, context: body.context },
      suffix: body.suffix,
      think: body.think,
      options: body.options,
      format: body.format === '' ? undefined : body.format,
      keepAlive: body.keep_alive,
      truncate: body.truncate,
      signal: clientGoneSignal(res),
      onStart: stream ? () => out.start() : undefined,
      onText: stream ? (response) => out.write({ model: body.model, created_at: createdAt(), response, done: false }) : undefined,
    });
    // The client is gone: drop the half-written response so the connection is not kept open.
    if (result.aborted) return void res.destroy();
    const final = { model: body.model, created_at: createdAt(), response: stream ? '' : result.text, ...finalStats(result), context: result.context };
    if (stream) out.end(final);
    else res.json(final);
  });
  return router;
}
