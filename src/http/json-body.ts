import express, { type RequestHandler } from 'express';
import { HearthError } from '../errors.js';

/**
 * The deepest nesting a request body may have. A chat is 4 levels deep, a dataset record 4,
 * and a JSON schema for structured output about two levels per level of the object it
 * describes (OpenAI allows 10 of those); 64 leaves room for all of them. Deeper bodies parse
 * (V8's JSON.parse does not recurse) but later overflow the stack of whatever walks them
 * recursively, such as JSON.stringify on the way to the backend or a schema-to-grammar
 * conversion, which turned such a body into a 503 or a 500.
 */
export const MAX_JSON_DEPTH = 64;

/** True when `value` nests deeper than `limit` objects and arrays; walks without recursing. */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: Array<{ value: object; depth: number }> = [];
  if (typeof value === 'object' && value !== null) stack.push({ value, depth: 1 });
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    if (top.depth > limit) return true;
    for (const child of Array.isArray(top.value) ? top.value : Object.values(top.value)) {
      if (typeof child === 'object' && child !== null) stack.push({ value: child as object, depth: top.depth + 1 });
    }
  }
  return false;
}

/**
 * Reads a JSON body of at most `limit` bytes, whatever its Content-Type says (curl -d sends a
 * form type; Ollama reads every body as JSON too), and refuses one nested deeper than
 * `maxDepth` with a 400 that says so. Its other failures are body-parser's, which
 * toHearthError maps (415 for a charset or Content-Encoding it cannot read, 400 for a corrupt
 * compressed body, 413 past the limit).
 */
export function jsonBody({ limit, maxDepth = MAX_JSON_DEPTH }: { limit: number; maxDepth?: number }): RequestHandler {
  const parse = express.json({ limit, type: () => true });
  return (req, res, next) => {
    parse(req, res, (err?: unknown) => {
      if (err !== undefined) return next(err);
      if (nestsDeeperThan(req.body, maxDepth)) {
        return next(new HearthError('invalid_request', `request body nests deeper than ${maxDepth} levels of objects and arrays`, { code: 'json_too_deep' }));
      }
      next();
    });
  };
}
