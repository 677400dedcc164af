import type { Router } from 'express';
import type { Operation } from '../contract/operations.js';

// The routers and the contract must describe the same operations: a route the contract lacks
// would be refused by the guard (so it is dead code, or a forgotten declaration), and an
// operation no route serves would pass the guard and end in the final 404. The daemon checks
// this at start and refuses to serve with a difference.

/** What express keeps of a router's layers (express 5's router package; read-only here). */
interface Layer {
  route?: { path: unknown; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  /** True for a layer mounted with router.use(fn), without a path. */
  slash?: boolean;
}

/** 'METHOD /mount/path' for every route of the routers mounted at `mount`. */
export function servedRoutes(mount: string, routers: readonly Router[]): string[] {
  const out: string[] = [];
  const walk = (stack: readonly Layer[]) => {
    for (const layer of stack) {
      if (layer.route !== undefined) {
        if (typeof layer.route.path !== 'string') throw new Error(`a route under ${mount} has a non-string path; declare each route by its contract path`);
        // router.all() shows as _all: ALL, which no operation declares.
        for (const [method, on] of Object.entries(layer.route.methods)) if (on) out.push(`${method === '_all' ? 'ALL' : method.toUpperCase()} ${mount}${layer.route.path}`);
      } else if (Array.isArray(layer.handle?.stack)) {
        // A nested router's routes are only known here when it is mounted without a path.
        if (layer.slash !== true) throw new Error(`a router under ${mount} is mounted with a path; mount resource routers with use(router)`);
        walk(layer.handle.stack);
      }
    }
  };
  for (const r of routers) walk((r as unknown as { stack: Layer[] }).stack);
  return out;
}

/** The differences between the routes served under a surface and its operations in the contract; [] when they agree. */
export function routeContractDifferences(operations: readonly Operation[], mount: string, routers: readonly Router[]): string[] {
  const served = new Set(servedRoutes(mount, routers));
  const declared = new Set(operations.filter((o) => o.surface.prefix === mount).map((o) => `${o.method} ${o.expressPath}`));
  return [
    ...[...served].filter((r) => !declared.has(r)).map((r) => `${r} is served but not declared in the contract`),
    ...[...declared].filter((d) => !served.has(d)).map((d) => `${d} is declared in the contract but no router serves it`),
  ];
}
