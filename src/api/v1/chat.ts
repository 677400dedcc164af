import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { clientGoneSignal } from '../../http/lifecycle.js';
import type { BackendClient } from '../../backend/backend-client.js';
import type { ChatMessage, Completion, Sampling } from '../../backend/inference.js';
import { applyModelDefaults } from '../../gateway/model-settings.js';
import { SseStream } from '../../gateway/sse.js';
import { toHearthError } from '../../http/error-mapping.js';
import { streamTokenCounter, tokensServed } from '../../gateway/guard.js';

export interface ChatBody extends Sampling {
  model: string;
  messages: ChatMessage[];
}

export const usageOf = (c: Completion) => ({ prompt_tokens: c.promptTokens, completion_tokens: c.completionTokens, total_tokens: c.promptTokens + c.completionTokens });
// randomUUID draws from Node's entropy cache; randomBytes was a system call per completion.
export const newId = (prefix: string) => `${prefix}-${randomUUID().replaceAll('-', '')}`;

export interface ChatRouterDeps {
  chat: BackendClient;
  heartbeatMs: number;
}

/**
 * POST /api/v1/chat (chat.completion) and POST /api/v1/chat/stream (SSE). The guard has checked
 * the model and reserved the credits; the model's defaults fill what the body leaves out.
 */
export function createChatRouter({ chat, heartbeatMs }: ChatRouterDeps): Router {
  const router = Router();

  router.post('/chat', async (req, res) => {
    const body = req.body as ChatBody;
    applyModelDefaults(req.body as Record<string, unknown>, res.locals.model);
    const c = await chat.chat(body.model, body.messages, body, clientGoneSignal(res));
    tokensServed(res, c.promptTokens, c.completionTokens);
    res.json({
      id: newId('chatcmpl'),
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: [{ index: 0, message: { role: 'assistant', content: c.text }, finish_reason: c.finishReason }],
      usage: usageOf(c),
    });
  });

  router.post('/chat/stream', async (req, res) => {
    const body = req.body as ChatBody;
    applyModelDefaults(req.body as Record<string, unknown>, res.locals.model);
    const events = await chat.openChatStream(body.model, body.messages, body, clientGoneSignal(res));
    const sse = new SseStream(res, heartbeatMs);
    const count = streamTokenCounter(res);
    try {
      for await (const event of events) {
        if (event.type === 'token') count.piece();
        else count.done(event.completion);
        if (!sse.open) break;
        if (event.type === 'token') sse.token(event.text);
        else sse.done({ finish_reason: event.completion.finishReason, usage: usageOf(event.completion) });
      }
    } catch (err) {
      if (sse.open) sse.error(toHearthError(err));
    } finally {
      sse.close();
      if (sse.open) res.end();
    }
  });

  return router;
}
