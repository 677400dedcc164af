import type { RequestHandler } from 'express';
import type { Catalog } from '../domain/catalog.js';
import type { Ledger } from '../domain/ledger.js';
import type { Meter } from './principal.js';

/**
 * Reserves the endpoint's credits before the backend is called (an exhausted budget is a 429
 * without touching the backend); the handler settles on success, and anything not settled by
 * the time the response closes is released, so failed and aborted calls charge nothing.
 */
export function meter({ catalog, ledger, endpoint }: { catalog: Catalog; ledger: Ledger; endpoint: string }): RequestHandler {
  return (_req, res, next) => {
    const { credits } = catalog.endpoint(endpoint);
    const principal = res.locals.principal;
    if (credits === 0 || !principal) return next();
    const reservation = ledger.reserve({ workspaceId: principal.workspaceId, keyId: principal.keyId, endpoint, credits, requestId: res.locals.requestId });
    let finished = false;
    const m: Meter = {
      credits,
      settle() {
        if (finished) return;
        finished = true;
        ledger.settle(reservation);
        res.locals.charged = credits;
      },
      release() {
        if (finished) return;
        finished = true;
        ledger.release(reservation);
      },
    };
    res.locals.meter = m;
    res.on('close', () => m.release());
    next();
  };
}
