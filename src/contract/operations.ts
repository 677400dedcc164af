import { isScope, type EndpointEntry, type Scope } from '../domain/catalog.js';

// The contract (openapi/hearth.yaml) is Hearth's one endpoint table. Every operation an
// authenticated surface serves is declared there, and each customer operation carries what the
// gateway enforces for it:
//
//   x-hearth-scope:     the scope a key needs (`any`: any valid key)
//   x-hearth-credits:   the default credit cost of a successful call (the operator's overrides
//                       live in the database: hearth endpoints set, PUT /api/admin/endpoints)
//   x-hearth-inference: true for calls that run a model: the body's `model` must be one the
//                       workspace may use, and the call holds one of its plan's concurrent slots
//
// This module turns the document into that table; a missing or unknown value stops the daemon
// at start rather than serving an operation without its scope.

export type AuthKind = 'none' | 'key' | 'admin';

/** A prefix of the URL space whose every request must be a declared operation. */
export interface Surface {
  prefix: string;
  /** How its operations authenticate, unless an operation declares `security: []`. */
  auth: Exclude<AuthKind, 'none'>;
  /**
   * The part of an operation's path left out of its catalog key: '/api/v1' keeps the keys the
   * ledger and the operator's overrides have always used ('POST /chat').
   */
  endpointBase: string;
  /**
   * The shape of its errors, the one its clients parse: Hearth's own `{"error": {message, type,
   * code}}`, OpenAI's envelope (with `param`; its SDKs pick the exception class by status), or
   * Ollama's `{"error": "..."}`.
   */
  errorShape: ErrorShape;
}

export type ErrorShape = 'hearth' | 'openai' | 'ollama';

export const SURFACES: readonly Surface[] = Object.freeze([
  { prefix: '/api/v1', auth: 'key', endpointBase: '/api/v1', errorShape: 'hearth' },
  { prefix: '/api/admin', auth: 'admin', endpointBase: '/api/admin', errorShape: 'hearth' },
  // Where OpenAI's and Ollama's clients already point: their catalog keys keep the whole path
  // ('POST /v1/chat/completions', 'POST /ollama/api/chat'), distinct from /api/v1's.
  { prefix: '/v1', auth: 'key', endpointBase: '', errorShape: 'openai' },
  { prefix: '/ollama', auth: 'key', endpointBase: '', errorShape: 'ollama' },
]);

/** The surface a path lies under, if any. Runs for every request: no string is built to compare. */
export function surfaceOfPath(path: string, surfaces: readonly Surface[] = SURFACES): Surface | undefined {
  return surfaces.find((s) => path.startsWith(s.prefix) && (path.length === s.prefix.length || path.charCodeAt(s.prefix.length) === 0x2f));
}

export interface Operation {
  operationId: string;
  /** Upper case, as req.method. */
  method: string;
  /** The contract's template: /api/v1/finetune/jobs/{id}. */
  path: string;
  /** The same in express's syntax: /api/v1/finetune/jobs/:id. */
  expressPath: string;
  /** 'POST /api/v1/finetune/jobs/{id}/start': how the request log and the metrics name its requests (HEAD is its GET). */
  route: string;
  surface: Surface;
  auth: AuthKind;
  /** The catalog key of a key-authenticated operation ('POST /finetune/jobs/:id/start'); undefined otherwise. */
  endpoint: string | undefined;
  /** The contract's default scope: null = any valid key. */
  scope: Scope | null;
  /** The contract's default credit cost. */
  credits: number;
  inference: boolean;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'] as const;

type RawOperation = Record<string, unknown> & { operationId?: unknown; security?: unknown };

function fail(where: string, message: string): never {
  throw new Error(`openapi/hearth.yaml: ${where}: ${message}`);
}

/** Every operation of the document, in its order; throws naming the first one that is incomplete. */
export function operationsOf(spec: Record<string, unknown>, surfaces: readonly Surface[] = SURFACES): Operation[] {
  const paths = (spec.paths ?? {}) as Record<string, Record<string, RawOperation>>;
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(paths)) {
    const surface = surfaceOfPath(path, surfaces);
    if (surface === undefined) fail(path, `lies outside every surface (${surfaces.map((s) => s.prefix).join(', ')})`);
    for (const m of METHODS) {
      const raw = item[m];
      if (raw === undefined) continue;
      const method = m.toUpperCase();
      const where = `${method} ${path}`;
      if (typeof raw.operationId !== 'string') fail(where, 'has no operationId');
      const auth: AuthKind = Array.isArray(raw.security) && raw.security.length === 0 ? 'none' : surface.auth;
      const expressPath = path.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1');
      let scope: Scope | null = null;
      let credits = 0;
      if (auth === 'key') {
        const s = raw['x-hearth-scope'];
        if (s !== 'any' && !isScope(s)) fail(where, `x-hearth-scope must be a scope or 'any', not ${JSON.stringify(s)}`);
        scope = s === 'any' ? null : s;
        const c = raw['x-hearth-credits'];
        if (typeof c !== 'number' || !Number.isSafeInteger(c) || c < 0) fail(where, `x-hearth-credits must be a whole number ≥ 0, not ${JSON.stringify(c)}`);
        credits = c;
      } else if (raw['x-hearth-scope'] !== undefined || raw['x-hearth-credits'] !== undefined) {
        fail(where, `x-hearth-scope and x-hearth-credits apply to key-authenticated operations only`);
      }
      out.push({
        operationId: raw.operationId,
        method,
        path,
        expressPath,
        route: `${method} ${path}`,
        surface,
        auth,
        endpoint: auth === 'key' ? `${method} ${expressPath.slice(surface.endpointBase.length) || '/'}` : undefined,
        scope,
        credits,
        inference: raw['x-hearth-inference'] === true,
      });
    }
  }
  return out;
}

/** The catalog's defaults: every key-authenticated operation's scope and cost, in contract order. */
export function endpointDefaults(operations: readonly Operation[]): EndpointEntry[] {
  return operations.flatMap((o) => (o.endpoint === undefined ? [] : [{ endpoint: o.endpoint, scope: o.scope, credits: o.credits }]));
}
