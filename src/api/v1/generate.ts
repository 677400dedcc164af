import { Router } from 'express';
import type { Catalog } from '../../domain/catalog.js';
import type { Ledger } from '../../domain/ledger.js';
import type { ChatService, Sampling } from '../../gateway/chat-service.js';
import { meter } from '../../gateway/metering.js';
import { applyModelSettings } from '../../gateway/model-settings.js';
import type { ModelMetadata } from '../../domain/model-metadata.js';
import { newId, usageOf } from './chat.js';
import { clientGoneSignal } from '../../http-lifecycle.js';

interface GenerateBody extends Sampling {
  model: string;
  prompt: string;
  system?: string;
}

/** POST /api/v1/generate: one prompt, answered in the text_completion shape. */
export function createGenerateRouter({ chat, catalog, ledger, metadata }: { chat: ChatService; catalog: Catalog; ledger: Ledger; metadata: ModelMetadata }): Router {
  const router = Router();
  router.post('/generate', applyModelSettings(metadata), meter({ catalog, ledger, endpoint: 'POST /generate' }), async (req, res) => {
    const body = req.body as GenerateBody;
    const c = await chat.generate(body.model, body.prompt, body.system, body, clientGoneSignal(res));
    res.locals.meter?.settle();
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
