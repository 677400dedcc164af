import type { RequestHandler, Response } from 'express';
import { clientClosed, HearthError, notFound } from '../errors.js';
import type { Catalog } from '../domain/catalog.js';
import type { Ledger } from '../domain/ledger.js';
import { modelKey, type ModelMetadata } from '../domain/model-metadata.js';
import type { OperationMatcher } from '../contract/operation-matcher.js';
import type { Operation } from '../contract/operations.js';
import { checkModelAccess } from './model-settings.js';
import { tooManyInferenceCalls, type ConcurrencyLimiter } from './concurrency.js';
import type { Meter } from './principal.js';
import type { Admission, FairQueue } from './fair-queue.js';
import { clientGoneSignal } from '../http/lifecycle.js';
import { beforeHeaders } from '../http/before-headers.js';

// The guard: what every request on an authenticated surface passes, driven by its operation in
// the contract, so that no handler can forget a step. In order:
//
//   resolveOperation  a method and path the contract does not declare: 404 or 405, before
//                     anything else (no key check, no body read)
//   (authentication)  the surface's: a workspace key and its rate limit, or the admin token
//   authorizeScope    the scope the catalog gives the operation (the contract's, or the
//                     operator's override), before any body is read
//   (body, contract)  the JSON body, then the contract's validation
//   checkInference    a call that runs a model: a model the workspace may use, switched on,
//                     a place among its plan's concurrent calls (429 past it), then a slot of
//                     the backend for its model, waited for in a fair queue per workspace (503 backend_busy
//                     past its bound); both held until the response closes, so that the
//                     backend's own queue stays short and Hearth decides the order
//   meterOperation    reserves the operation's credits; settles them when the response
//                     succeeds (a stream: at its first token, through `served`), else releases
//
// Handlers never settle or release by hand.

function operationOf(res: Response): Operation {
  const op = res.locals.operation;
  // Only reachable if a router were mounted outside the surface's guard: refuse, never serve.
  if (op === undefined) throw notFound('no such route', 'route_not_found');
  return op;
}

/**
 * Finds the request's operation (see operation-matcher.ts) for every path under a surface and
 * refuses the rest; other paths (docs, the root) pass through untouched.
 */
export function resolveOperation(matcher: OperationMatcher): RequestHandler {
  return (req, res, next) => {
    const r = matcher.resolve(req.method, req.path);
    switch (r.kind) {
      case 'outside':
        return next();
      case 'not_found':
        throw notFound(`no route for ${req.method} ${req.path}`, 'route_not_found');
      case 'method_not_allowed':
        res.setHeader('Allow', r.allow.join(', '));
        throw new HearthError('method_not_allowed', `${req.method} is not allowed on ${req.path} (allowed: ${r.allow.join(', ')})`, { code: 'method_not_allowed' });
      case 'bad_path':
        throw new HearthError('invalid_request', `path parameter ${r.param} is not valid percent-encoding`, { code: 'invalid_path' });
    }
    res.locals.operation = r.operation;
    // HEAD is served by the GET operation. Node decided when the response was made that a HEAD
    // answer has no body, so from here on the validator and the handler see the GET they serve.
    if (req.method === 'HEAD') req.method = 'GET';
    next();
  };
}

/** 403 unless the key has the operation's scope (as the catalog has it now: the operator may change it). */
export function authorizeScope(catalog: Catalog): RequestHandler {
  return (req, res, next) => {
    const op = operationOf(res);
    if (op.auth !== 'key') return next();
    const principal = res.locals.principal;
    if (principal === undefined) throw new HearthError('authentication', 'missing API key', { code: 'missing_api_key' });
    const { scope } = catalog.endpoint(op.endpoint!);
    if (scope !== null && !principal.scopes.includes(scope)) {
      // Which plans have it: what a newcomer with the quickstart's key needs to know next.
      const plans = catalog.plans().filter((p) => p.scopes.includes(scope)).map((p) => p.id);
      throw new HearthError('permission', `this key lacks the "${scope}" scope required by ${op.method} ${op.path} (plans with it: ${plans.join(', ') || 'none'})`, {
        code: 'missing_scope',
      });
    }
    next();
  };
}

/**
 * A call that runs a model: refuses another workspace's fine-tuned model and one switched off,
 * takes one of the workspace's concurrent places, then waits for an admission slot of the
 * backend for the model (fair-queue.ts: per model, the least served workspace first), all before anything is reserved:
 * a call that waits and is abandoned leaves the queue having cost nothing.
 */
export function checkInference({ metadata, concurrency, admission }: { metadata: ModelMetadata; concurrency: ConcurrencyLimiter; admission: FairQueue }): RequestHandler {
  return async (req, res, next) => {
    if (!operationOf(res).inference) return next();
    const principal = res.locals.principal!;
    const model = (req.body as { model?: unknown } | undefined)?.model;
    // The contract requires `model` on every inference operation; a contract that did not would be refused here.
    if (typeof model !== 'string') throw new HearthError('invalid_request', 'model is required', { code: 'invalid_request' });
    // The model's key, not the name as sent: "llama3" and "llama3:latest" share the backend's
    // sequences, and the request log and the metrics count them as one model.
    const key = modelKey(model);
    res.locals.modelKey = key;
    res.locals.model = checkModelAccess(metadata, model, principal.workspaceId);
    const release = concurrency.acquire(`inference:${principal.workspaceId}`, principal.maxConcurrent, tooManyInferenceCalls);
    res.on('close', release);
    const gone = clientGoneSignal(res);
    const slot = await admission.acquire(principal.workspaceId, principal.weight, key, gone);
    // Admitted as the client left: its close has passed, so the slot is given back here.
    if (gone.aborted) {
      slot.release();
      throw clientClosed();
    }
    res.on('close', slot.release);
    res.locals.admission = slot;
    next();
  };
}

/**
 * Reserves the operation's credits (an exhausted budget is a 429 before any work), and
 * concludes the reservation once with the response: a 2xx answer settles it as its headers are
 * written, before any byte of it leaves, so a client never holds an answer whose charge a crash
 * could still lose; a stream settles at its first token (`served`), since the client has been
 * served from then on; anything else, an error or a client gone, releases it.
 */
export function meterOperation({ catalog, ledger }: { catalog: Catalog; ledger: Ledger }): RequestHandler {
  return (_req, res, next) => {
    const op = operationOf(res);
    const principal = res.locals.principal;
    if (op.auth !== 'key' || principal === undefined) return next();
    const endpoint = op.endpoint!;
    const { credits } = catalog.endpoint(endpoint);
    if (credits === 0) return next();
    const reservation = ledger.reserve({ workspaceId: principal.workspaceId, keyId: principal.keyId, endpoint, credits, requestId: res.locals.requestId });
    let concluded = false;
    const conclude = (settle: boolean) => {
      if (concluded) return;
      concluded = true;
      if (settle) {
        ledger.settle(reservation);
        res.locals.charged = credits;
      } else {
        ledger.release(reservation);
      }
    };
    res.locals.meter = { credits, served: () => conclude(true), waive: () => conclude(false) } satisfies Meter;
    beforeHeaders(res, (status) => {
      if (res.locals.streaming !== true && status >= 200 && status < 300) conclude(true);
    });
    res.on('close', () => conclude(false));
    next();
  };
}

/** A response that streams: it is charged only once `served` is called (the first token out). */
export function streamStarted(res: Response): void {
  res.locals.streaming = true;
}

/** The client has been served (a stream's first token): the reserved credits are charged. */
export function served(res: Response): void {
  res.locals.firstTokenAt ??= performance.now();
  res.locals.meter?.served();
}

/**
 * Every inference handler, on every surface, reports what the backend did for the call (the
 * prompt tokens it read, the tokens it wrote) as it learns it: a stream as it goes, or once at
 * the end. That is the measure of service by which workspaces share the backend fairly.
 */
export function tokensServed(res: Response, input: number, output: number): void {
  const t = (res.locals.tokens ??= { input: 0, output: 0 });
  t.input += input;
  t.output += output;
  res.locals.admission?.charge(input, output);
}

declare module 'express-serve-static-core' {
  interface Locals {
    /** The inference call's backend slot (checkInference): what it is served is charged to it. */
    admission?: Admission;
    /** The key of the model an inference call names (modelKey: "Llama3" is "llama3:latest"; checkInference). */
    modelKey?: string;
    /** performance.now() when a stream first served its client (`served`): its time to first token. */
    firstTokenAt?: number;
  }
}

/**
 * The call turned out to do no metered work, which its operation cannot tell from the route
 * alone: Ollama's load and unload requests (a chat with no messages, a generate with no prompt,
 * `keep_alive: 0` to unload, as Open WebUI sends) share their route with real generations. The
 * reservation is released at once, and the answer that follows, 2xx or not, charges nothing.
 * Call it before the response's headers go out.
 */
export function waive(res: Response): void {
  res.locals.meter?.waive();
}

/**
 * Reports a stream's tokens as it goes, so that a long stream weighs on its workspace while it
 * runs: each text piece one written token (the backend streams them one by one), and at the end
 * the prompt and whatever the backend's totals add.
 */
export function streamTokenCounter(res: Response) {
  let counted = 0;
  return {
    piece: () => {
      counted++;
      tokensServed(res, 0, 1);
    },
    done: (c: { promptTokens: number; completionTokens: number }) => tokensServed(res, c.promptTokens, Math.max(0, c.completionTokens - counted)),
  };
}
