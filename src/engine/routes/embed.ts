import { Router } from 'express';
import type { InferenceService } from '../service/inference.js';
import type { OllamaOptions } from '../runtime/options.js';

interface EmbedBody {
  model: string;
  input: string | string[];
  truncate?: boolean;
  dimensions?: number;
  options?: OllamaOptions;
  keep_alive?: string | number;
}

/** POST /api/embed (unit vectors, batched) and the legacy POST /api/embeddings (one raw vector). */
export function createEmbedRouter({ inference }: { inference: InferenceService }): Router {
  const router = Router();
  router.post('/api/embed', async (req, res) => {
    const body = req.body as EmbedBody;
    const input = typeof body.input === 'string' ? [body.input] : body.input;
    const r = await inference.embed({ model: body.model, input, truncate: body.truncate, normalize: true, options: body.options, keepAlive: body.keep_alive, dimensions: body.dimensions });
    res.json({ model: body.model, embeddings: r.embeddings, total_duration: r.totalDurationNs, load_duration: r.loadDurationNs, prompt_eval_count: r.promptEvalCount });
  });
  router.post('/api/embeddings', async (req, res) => {
    const body = req.body as { model: string; prompt?: string; options?: OllamaOptions; keep_alive?: string | number };
    if (!body.prompt) {
      res.json({ embedding: [] });
      return;
    }
    const r = await inference.embed({ model: body.model, input: [body.prompt], normalize: false, options: body.options, keepAlive: body.keep_alive });
    res.json({ embedding: r.embeddings[0] ?? [] });
  });
  return router;
}
