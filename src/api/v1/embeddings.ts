import { Router } from 'express';
import type { BackendClient } from '../../backend/backend-client.js';
import { tokensServed } from '../../gateway/guard.js';
import { clientGoneSignal } from '../../http/lifecycle.js';

interface EmbeddingsBody {
  model: string;
  input: string | string[];
  dimensions?: number;
  truncate?: boolean;
}

/**
 * POST /api/v1/embeddings: one unit vector per input, in order, in the shape OpenAI's SDKs and
 * seed 002's samples read (`data[i].embedding`). The guard has checked the model and reserved the
 * call's credits; the backend's count of the tokens it read is the call's prompt.
 */
export function createEmbeddingsRouter({ chat }: { chat: BackendClient }): Router {
  const router = Router();
  router.post('/embeddings', async (req, res) => {
    const body = req.body as EmbeddingsBody;
    const input = typeof body.input === 'string' ? [body.input] : body.input;
    const r = await chat.embed(body.model, input, { truncate: body.truncate, dimensions: body.dimensions }, clientGoneSignal(res));
    tokensServed(res, r.promptTokens, 0);
    res.json({
      object: 'list',
      model: body.model,
      data: r.embeddings.map((embedding, index) => ({ object: 'embedding', index, embedding })),
      usage: { prompt_tokens: r.promptTokens, total_tokens: r.promptTokens },
    });
  });
  return router;
}
