import { clientClosed, HearthError } from '../errors.js';

// What the HTTP surfaces (the gateway and the bundled engine) were thrown, as a HearthError:
// express-openapi-validator's errors, body-parser's http-errors, and anything else as internal.
// Each surface's error middleware then gives the HearthError its own body shape.

/** express-openapi-validator's errors carry a status and a list of {path, message}. */
interface ValidatorError {
  status: number;
  errors: Array<{ path?: string; message?: string }>;
}

function isValidatorError(err: unknown): err is ValidatorError {
  return typeof err === 'object' && err !== null && Array.isArray((err as ValidatorError).errors) && typeof (err as ValidatorError).status === 'number';
}

/**
 * body-parser's failures are http-errors: `status` and `expose` (true for a client's fault, so
 * the message may be shown), and a `type` naming the failure where body-parser gives one. A
 * stream error while reading (a corrupt gzip body, a socket reset) arrives untyped with the
 * status 400 and the stream's own `code`; zlib's errors also carry a numeric `errno`.
 */
interface HttpError {
  status?: unknown;
  expose?: unknown;
  type?: unknown;
  code?: unknown;
  errno?: unknown;
  charset?: unknown;
  encoding?: unknown;
  message?: unknown;
}

/** A header value echoed in a message: short, and only printable ASCII. */
const echo = (v: unknown) => (typeof v === 'string' ? v : '').replace(/[^\x20-\x7e]/g, '?').slice(0, 40);

/** The `code` of a socket torn down under a request being read: the client went away. */
const hangUpCodes = new Set(['ECONNRESET', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

/** Each body-parser failure type: what the client is told, and with which status. */
const bodyFailures: Readonly<Record<string, (e: HttpError) => HearthError>> = {
  'entity.parse.failed': () => new HearthError('invalid_request', 'invalid JSON in request body', { code: 'invalid_json' }),
  'entity.too.large': () => new HearthError('payload_too_large', 'request body too large', { code: 'body_too_large' }),
  'charset.unsupported': (e) =>
    new HearthError('unsupported_media_type', `unsupported charset "${echo(e.charset)}" in Content-Type: send the body as UTF-8`, { code: 'unsupported_charset' }),
  'encoding.unsupported': (e) =>
    new HearthError('unsupported_media_type', `unsupported Content-Encoding "${echo(e.encoding)}": send the body as it is, or as gzip, deflate or br`, {
      code: 'unsupported_content_encoding',
    }),
  'request.aborted': () => clientClosed('the client closed the connection while sending its request body'),
  'request.size.invalid': () => new HearthError('invalid_request', 'request body size does not match its Content-Length', { code: 'invalid_content_length' }),
};

/** A client's fault in reading its body, as http-errors marks it; undefined for anything else. */
function bodyError(err: unknown): HearthError | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as HttpError;
  if (typeof e.type === 'string' && Object.hasOwn(bodyFailures, e.type)) return bodyFailures[e.type]!(e);
  if (typeof e.type === 'string' && e.type.startsWith('entity.')) return new HearthError('invalid_request', `unreadable request body (${e.type})`, { code: 'invalid_body' });
  if (e.expose !== true || typeof e.status !== 'number' || e.status < 400 || e.status > 499) return undefined;
  if (typeof e.code === 'string' && hangUpCodes.has(e.code)) return clientClosed('the client closed the connection while sending its request body');
  const message = typeof e.message === 'string' ? e.message : 'unreadable request body';
  if (typeof e.errno === 'number') {
    return new HearthError('invalid_request', `the request body could not be decompressed as its Content-Encoding says (${message})`, { code: 'invalid_compressed_body' });
  }
  const kind = e.status === 413 ? 'payload_too_large' : e.status === 415 ? 'unsupported_media_type' : 'invalid_request';
  return new HearthError(kind, message, { code: 'invalid_body' });
}

/**
 * The request field a validator error names, as OpenAI's `param` writes it (`messages[0].content`):
 * the first failing field of the body or the query, none for the body as a whole.
 */
export function paramOf(path: string | undefined): string | undefined {
  const m = /^\/?(?:body|query)\/(.+)$/.exec(path ?? '');
  if (m === null) return undefined;
  return m[1]!
    .split('/')
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((out, seg) => (/^\d+$/.test(seg) ? `${out}[${seg}]` : out === '' ? seg : `${out}.${seg}`), '');
}

/** Turns anything thrown into a HearthError; internal details stay in the log. */
export function toHearthError(err: unknown): HearthError {
  if (err instanceof HearthError) return err;
  if (isValidatorError(err)) {
    const detail = err.errors
      .map((e) => `${(e.path ?? '').replace(/^\/?(body|query|params)\/?/, '').replace(/\//g, '.') || 'body'}: ${e.message ?? 'invalid'}`)
      .join('; ');
    if (err.status === 404) return new HearthError('not_found', '404 page not found', { code: 'route_not_found' });
    if (err.status === 405) return new HearthError('method_not_allowed', '405 method not allowed', { code: 'method_not_allowed' });
    if (err.status === 413) return new HearthError('payload_too_large', 'request body too large', { code: 'body_too_large' });
    const param = paramOf(err.errors[0]?.path);
    return new HearthError('invalid_request', detail || 'invalid request', { code: 'invalid_request', ...(param === undefined ? {} : { param }) });
  }
  return bodyError(err) ?? new HearthError('internal', 'internal error', { cause: err });
}
