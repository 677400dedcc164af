import { Router } from 'express';
import type { BackendClient } from '../../backend/backend-client.js';
import type { Sampling } from '../../backend/inference.js';
import { applyModelDefaults } from '../../gateway/model-settings.js';
import { newId, usageOf } from './chat.js';
import { clientGoneSignal } from '../../http/lifecycle.js';
import { tokensServed } from '../../gateway/guard.js';

interface GenerateBody extends Sampling {
  model: string;
  prompt: string;
  system?: string;
}

/** POST /api/v1/generate: one prompt, answered in the text_completion shape. */
export function createGenerateRouter({ chat }: { chat: BackendClient }): Router {
  const router = Router();
  router.post('/generate', async (req, res) => {
    const body = req.body as GenerateBody;
    applyModelDefaults(req.body as Record<string, unknown>, res.locals.model);
    const c = await chat.generate(body.model, body.prompt, body.system, body, clientGoneSignal(res));
    tokensServed(res, c.promptTokens, c.completionTokens);
    res.json({
      id: newId('cmpl'),
      object: 'text_completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: [{ text: c.text, index: 0, finish_reason: c.finishReason }],
      usage: usageOf(c),
    });
  });
  return router;
}
