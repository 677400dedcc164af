import type { Response } from 'express';
import type { RequestLog } from '../domain/request-log.js';

const ms = (x: number) => Math.round(x * 100) / 100;

/**
 * Notes a finished request in the request log, from what the guard and the handlers left in
 * res.locals: a request to a key-authenticated operation (every customer surface: /api/v1, /v1,
 * /ollama), whether its key passed or not. The admin API, health and the docs are not API usage,
 * and a console that polls must not fill the charts with its own calls.
 */
export function recordRequest(log: RequestLog, res: Response, arrival: { at: Date; started: number }, status: number): void {
  const op = res.locals.operation;
  if (op === undefined || op.auth !== 'key') return;
  const { principal, tokens, modelKey, firstTokenAt } = res.locals;
  log.record({
    at: arrival.at,
    workspaceId: principal?.workspaceId ?? null,
    keyId: principal?.keyId ?? null,
    surface: op.surface.prefix,
    route: op.route,
    // Under its key, as the operator's settings are kept: "Llama3" and "llama3:latest" are one model.
    model: modelKey ?? null,
    status,
    promptTokens: tokens?.input ?? 0,
    completionTokens: tokens?.output ?? 0,
    credits: res.locals.charged ?? 0,
    durationMs: ms(performance.now() - arrival.started),
    ttftMs: firstTokenAt === undefined ? null : ms(firstTokenAt - arrival.started),
  });
}
