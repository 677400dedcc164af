import { Router } from 'express';
import { NdjsonWriter } from '../http/streaming.js';
import { clientGoneSignal } from '../../http/lifecycle.js';
import type { GenerationResult, InferenceService, JsonFormat } from '../service/inference.js';
import type { ChatMessage } from '../service/prompt.js';
import type { OllamaOptions } from '../runtime/options.js';

interface ChatBody {
  model: string;
  messages?: ChatMessage[];
  stream?: boolean;
  format?: JsonFormat | '';
  options?: OllamaOptions;
  keep_alive?: string | number;
  tools?: unknown[];
  think?: boolean | string;
  /** Ollama's: false refuses a prompt longer than the context instead of cutting it. */
  truncate?: boolean;
}

/** The timing fields every final Ollama chunk carries (nanoseconds). */
export function finalStats(r: GenerationResult) {
  return {
    done_reason: r.doneReason,
    done: true,
    total_duration: r.totalDurationNs,
    load_duration: r.loadDurationNs,
    prompt_eval_count: r.promptEvalCount,
    prompt_eval_duration: r.promptEvalDurationNs,
    eval_count: r.evalCount,
    eval_duration: r.evalDurationNs,
  };
}


/** POST /api/chat: NDJSON stream by default, one object with stream:false. */
export function createChatRouter({ inference }: { inference: InferenceService }): Router {
  const router = Router();
  router.post('/api/chat', async (req, res) => {
    const body = req.body as ChatBody;
    const createdAt = () => new Date().toISOString();
    if (!body.messages || body.messages.length === 0) {
      const reason = await inference.loadOrUnload(body.model, body.keep_alive);
      res.json({ model: body.model, created_at: createdAt(), message: { role: 'assistant', content: '' }, done_reason: reason, done: true });
      return;
    }
    const stream = body.stream !== false;
    const out = new NdjsonWriter(res);
    const result = await inference.generate({
      model: body.model,
      input: { kind: 'chat', messages: body.messages },
      tools: body.tools,
      think: body.think,
      options: body.options,
      format: body.format === '' ? undefined : body.format,
      keepAlive: body.keep_alive,
      truncate: body.truncate,
      signal: clientGoneSignal(res),
      onStart: stream ? () => out.start() : undefined,
      onText: stream
        ? (content) => out.write({ model: body.model, created_at: createdAt(), message: { role: 'assistant', content }, done: false })
        : undefined,
      // Ollama streams each call whole, in a chunk of its own.
      onToolCalls: stream
        ? (calls) => out.write({ model: body.model, created_at: createdAt(), message: { role: 'assistant', content: '', tool_calls: calls }, done: false })
        : undefined,
    });
    // The client is gone: drop the half-written response so the connection is not kept open.
    if (result.aborted) return void res.destroy();
    const toolCalls = !stream && result.toolCalls.length > 0 ? { tool_calls: result.toolCalls } : {};
    const final = { model: body.model, created_at: createdAt(), message: { role: 'assistant', content: stream ? '' : result.text, ...toolCalls }, ...finalStats(result) };
    if (stream) out.end(final);
    else res.json(final);
  });
  return router;
}
