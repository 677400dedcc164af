import { createRequire } from 'node:module';

// express-openapi-validator 5.6 finds a request's OpenAPI route by compiling the path template
// of every route it scans with path-to-regexp, on every request (openapi.metadata.js,
// lookupRoute; upstream PR cdimascio/express-openapi-validator#1217 would cache them). With
// Hearth's contract that was about 0.1 ms of CPU and 36 KB of garbage per /api/v1 call. The
// compiled result depends only on the template and the options, so the copy of path-to-regexp
// the validator loads gets a memo in front of `pathToRegexp`. The regular expressions carry no
// `g` or `y` flag, so sharing one between requests keeps `exec` stateless.

interface PathToRegexpModule {
  pathToRegexp: (path: unknown, options?: Record<string, unknown>) => { regexp: RegExp; keys: unknown[] };
}

/** Templates come from the contract, so a few hundred at most; past this, calls go uncached. */
const MAX_ENTRIES = 1000;
const installed = Symbol.for('hearth.pathToRegexpMemo');

/** The path-to-regexp module express-openapi-validator resolves (npm may nest its own copy). */
function validatorsPathToRegexp(): PathToRegexpModule {
  const fromHere = createRequire(import.meta.url);
  const fromValidator = createRequire(fromHere.resolve('express-openapi-validator'));
  return fromValidator('path-to-regexp') as PathToRegexpModule;
}

/** Installs the memo once per process; returns the number of templates cached so far (tests). */
export function cacheValidatorRouteMatchers(): () => number {
  const mod = validatorsPathToRegexp() as PathToRegexpModule & { [installed]?: () => number };
  const existing = mod[installed];
  if (existing) return existing;
  const compile = mod.pathToRegexp;
  // The validator calls this for every route of the contract on every request, so the lookup
  // builds no string: templates by path, then the boolean options as bits.
  const cache = new Map<string, Map<number, { regexp: RegExp; keys: unknown[] }>>();
  let entries = 0;
  mod.pathToRegexp = (path, options = {}) => {
    const o = options as { sensitive?: unknown; strict?: unknown; end?: unknown; trailing?: unknown; delimiter?: unknown };
    if (typeof path !== 'string' || o.delimiter !== undefined || entries >= MAX_ENTRIES) return compile(path, options);
    const bits = (o.sensitive ? 1 : 0) | (o.strict ? 2 : 0) | (o.end === false ? 4 : 0) | (o.trailing === false ? 8 : 0);
    let byOptions = cache.get(path);
    if (byOptions === undefined) cache.set(path, (byOptions = new Map()));
    let hit = byOptions.get(bits);
    if (hit === undefined) {
      const r = compile(path, options);
      hit = Object.freeze({ regexp: r.regexp, keys: Object.freeze(r.keys) as unknown[] });
      byOptions.set(bits, hit);
      entries++;
    }
    return hit;
  };
  const size = () => entries;
  Object.defineProperty(mod, installed, { value: size });
  return size;
}
