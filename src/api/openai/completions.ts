import { Router } from 'express';
import type { BackendClient } from '../../backend/backend-client.js';
import type { Completion } from '../../backend/inference.js';
import { applyModelDefaults } from '../../gateway/model-settings.js';
import { tokensServed } from '../../gateway/guard.js';
import { clientGoneSignal } from '../../http/lifecycle.js';
import { newId } from '../v1/chat.js';
import { relayChunks } from './event-stream.js';
import { boundedSamplingOf, includeUsage, usageOf, withParam, type OpenAiSamplingBody } from './translate.js';

interface CompletionBody extends OpenAiSamplingBody {
  /** One prompt: the contract allows a string or an array holding one (LangChain sends the array). */
  prompt: string | [string];
}

/** POST /v1/completions: one prompt, as text_completion, whole or streamed. */
export function createCompletionsRouter({ chat, heartbeatMs, maxTokens }: { chat: BackendClient; heartbeatMs: number; maxTokens: number }): Router {
  const router = Router();
  router.post('/completions', async (req, res) => {
    const body = req.body as CompletionBody;
    const prompt = typeof body.prompt === 'string' ? body.prompt : body.prompt[0];
    const sampling = boundedSamplingOf(body, maxTokens);
    applyModelDefaults(sampling as Record<string, unknown>, res.locals.model);
    const id = newId('cmpl');
    const created = Math.floor(Date.now() / 1000);
    const signal = clientGoneSignal(res);
    const choice = (text: string, finish: string | null) => ({ text, index: 0, logprobs: null, finish_reason: finish });

    if (body.stream !== true) {
      let c: Completion;
      try {
        c = await chat.generate(body.model, prompt, undefined, sampling, signal);
      } catch (err) {
        throw withParam(err, 'model_not_found', 'model');
      }
      tokensServed(res, c.promptTokens, c.completionTokens);
      res.json({ id, object: 'text_completion', created, model: body.model, choices: [choice(c.text, c.finishReason)], usage: usageOf(c) });
      return;
    }

    let events;
    try {
      events = await chat.openGenerateStream(body.model, prompt, undefined, sampling, signal);
    } catch (err) {
      throw withParam(err, 'model_not_found', 'model');
    }
    const usage = includeUsage(body);
    const chunk = (choices: unknown[], extra: Record<string, unknown> = usage ? { usage: null } : {}) => ({ id, object: 'text_completion', created, model: body.model, choices, ...extra });
    await relayChunks(res, heartbeatMs, events, {
      token: (text) => chunk([choice(text, null)]),
      done: (c) => [chunk([choice('', c.finishReason)]), ...(usage ? [chunk([], { usage: usageOf(c) })] : [])],
    });
  });
  return router;
}
