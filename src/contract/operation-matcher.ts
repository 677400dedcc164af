import { surfaceOfPath, type Operation, type Surface } from './operations.js';

// Finds the contract operation of a request exactly as express routes it in Hearth's app
// ('case sensitive routing' on, strict routing off):
//   - on the raw path, before any percent-decoding: /api/v1/fine%74une is no route, in both;
//   - literal segments compare case-sensitively: /api/v1/Chat is no route, in both;
//   - a parameter is one non-empty segment; one trailing slash is ignored;
//   - HEAD is served by the GET operation (express runs GET handlers for HEAD).
// The guard uses this before authentication; express then routes the same request to the same
// template. So that it cannot reach another one, no two operations of a method may match one
// path (checked at construction): with that, the order of routes in the routers cannot matter.

export type Resolution =
  | { kind: 'operation'; operation: Operation; params: Record<string, string> }
  /** Not under any surface: not this matcher's business (docs, the final 404). */
  | { kind: 'outside' }
  | { kind: 'not_found'; surface: Surface }
  | { kind: 'method_not_allowed'; surface: Surface; allow: string[] }
  /** A parameter that is not valid percent-encoding (express would answer it 400 too). */
  | { kind: 'bad_path'; surface: Surface; param: string };

type Segment = { literal: string } | { param: string };

interface Compiled {
  operation: Operation;
  segments: Segment[];
}

function compile(op: Operation): Compiled {
  const segments = op.path
    .split('/')
    .slice(1)
    .map((s): Segment => {
      const m = /^\{([A-Za-z0-9_]+)\}$/.exec(s);
      if (m) return { param: m[1]! };
      if (s.includes('{')) throw new Error(`openapi/hearth.yaml: ${op.method} ${op.path}: a parameter must be a whole segment`);
      return { literal: s };
    });
  return { operation: op, segments };
}

/** Whether one path can match both templates. */
function overlap(a: Segment[], b: Segment[]): boolean {
  return a.length === b.length && a.every((s, i) => {
    const t = b[i]!;
    return 'param' in s || 'param' in t || s.literal === t.literal;
  });
}

export class OperationMatcher {
  private readonly compiled: Compiled[];

  constructor(
    operations: readonly Operation[],
    private readonly surfaces: readonly Surface[],
  ) {
    this.compiled = operations.map(compile);
    for (const [i, a] of this.compiled.entries()) {
      for (const b of this.compiled.slice(i + 1)) {
        if (a.operation.method === b.operation.method && overlap(a.segments, b.segments)) {
          throw new Error(`openapi/hearth.yaml: ${a.operation.method} ${a.operation.path} and ${b.operation.path} can match the same path`);
        }
      }
    }
  }

  resolve(method: string, rawPath: string): Resolution {
    const surface = surfaceOfPath(rawPath, this.surfaces);
    if (surface === undefined) return { kind: 'outside' };
    const path = rawPath.length > 1 && rawPath.endsWith('/') ? rawPath.slice(0, -1) : rawPath;
    const parts = path.split('/').slice(1);
    const methods = new Set<string>();
    let hit: { c: Compiled; params: Record<string, string> } | undefined;
    let headFallback: { c: Compiled; params: Record<string, string> } | undefined;
    for (const c of this.compiled) {
      const params = matchSegments(c.segments, parts);
      if (params === undefined) continue;
      methods.add(c.operation.method);
      if (c.operation.method === method) hit = { c, params };
      else if (method === 'HEAD' && c.operation.method === 'GET') headFallback = { c, params };
    }
    const found = hit ?? headFallback;
    if (found === undefined) {
      if (methods.size === 0) return { kind: 'not_found', surface };
      if (methods.has('GET')) methods.add('HEAD');
      return { kind: 'method_not_allowed', surface, allow: [...methods].sort() };
    }
    const decoded: Record<string, string> = {};
    for (const [name, raw] of Object.entries(found.params)) {
      try {
        decoded[name] = decodeURIComponent(raw);
      } catch {
        return { kind: 'bad_path', surface, param: name };
      }
    }
    return { kind: 'operation', operation: found.c.operation, params: decoded };
  }
}

function matchSegments(segments: readonly Segment[], parts: readonly string[]): Record<string, string> | undefined {
  if (segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, s] of segments.entries()) {
    const part = parts[i]!;
    if ('param' in s) {
      if (part === '') return undefined;
      params[s.param] = part;
    } else if (s.literal !== part) {
      return undefined;
    }
  }
  return params;
}
