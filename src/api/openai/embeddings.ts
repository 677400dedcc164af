import { Router } from 'express';
import type { BackendClient } from '../../backend/backend-client.js';
import type { Embeddings } from '../../backend/inference.js';
import { tokensServed } from '../../gateway/guard.js';
import { clientGoneSignal } from '../../http/lifecycle.js';
import { base64Embedding, embeddingInputs, withParam } from './translate.js';

interface EmbeddingBody {
  model: string;
  input: string | string[] | number[] | number[][];
  encoding_format?: 'float' | 'base64' | null;
  dimensions?: number | null;
}

/**
 * POST /v1/embeddings: one vector per input, in order. `base64` (what OpenAI's SDKs ask for by
 * default, and decode) is little-endian float32s; `dimensions` keeps the leading components
 * where the backend allows it (the bundled engine re-normalizes them).
 */
export function createEmbeddingsRouter({ chat }: { chat: BackendClient }): Router {
  const router = Router();
  router.post('/embeddings', async (req, res) => {
    const body = req.body as EmbeddingBody;
    const input = embeddingInputs(body.input);
    let r: Embeddings;
    try {
      r = await chat.embed(body.model, input, { dimensions: body.dimensions ?? undefined }, clientGoneSignal(res));
    } catch (err) {
      throw withParam(withParam(err, 'model_not_found', 'model'), 'backend_rejected', 'input');
    }
    tokensServed(res, r.promptTokens, 0);
    const encode = body.encoding_format === 'base64' ? base64Embedding : (v: number[]) => v;
    res.json({
      object: 'list',
      data: r.embeddings.map((v, index) => ({ object: 'embedding', index, embedding: encode(v) })),
      model: body.model,
      usage: { prompt_tokens: r.promptTokens, total_tokens: r.promptTokens },
    });
  });
  return router;
}
