// JSON bodies and query strings of the admin API: parsing (only inside the admin router), limits,
// and the small checks every route shares (a JSON object body, well-formed query); the checks of
// the fields themselves are the services' (src/input.ts).
import { bodyParser } from '@koa/bodyparser';
import type { Context, Next } from 'koa';
import { ClientError, ValidationError } from '../errors.ts';
import { asObject, type JsonObject } from '../input.ts';

const BODY_LIMIT = '100kb';
/** POST /users/import takes up to 10 000 users with their hashes. */
export const IMPORT_BODY_LIMIT = '32mb';
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** Marks a request whose body was empty; routes that need a body say so. */
const NO_BODY = Symbol('no body');

function hasBody(ctx: Context): boolean {
  if (ctx.get('transfer-encoding')) return true;
  const length = Number(ctx.get('content-length') || 0);
  return Number.isFinite(length) && length > 0;
}

/** Turns what co-body and raw-body throw into answers that say what is wrong with the body. */
function bodyError(err: Error & { status?: number; type?: string }, limit: string): ClientError {
  if (err.status === 413 || err.type === 'entity.too.large') {
    return new ClientError(413, 'payload_too_large', `body: must be at most ${limit.replace(/kb$/, ' kB').replace(/mb$/, ' MB')}`);
  }
  if (err.type === 'encoding.unsupported') {
    return new ClientError(415, 'unsupported_media_type', 'content-encoding: must be identity, gzip or deflate');
  }
  if (err.type === 'request.aborted' || err.type === 'request.size.invalid') {
    return new ClientError(400, 'invalid_request', 'body: the request body was incomplete');
  }
  if (err instanceof SyntaxError && /prototype/i.test(err.message)) {
    return new ClientError(400, 'invalid_request', 'body: must not contain a __proto__ or constructor.prototype key');
  }
  if (err instanceof SyntaxError) return new ClientError(400, 'invalid_request', 'body: is not valid JSON');
  // Anything else (a corrupt gzip stream, a bad charset) is still the client's body.
  return new ClientError(400, 'invalid_request', 'body: could not be read as JSON');
}

const parser = (limit: string) =>
  bodyParser({
    enableTypes: ['json'],
    detectJSON: () => true, // the content type was checked before
    jsonLimit: limit,
    jsonStrict: false, // primitives parse, then get a clear "must be a JSON object"
    encoding: 'utf-8',
    onError(err) {
      throw bodyError(err as Error, limit);
    },
  });

/**
 * Parses JSON bodies of POST, PUT and PATCH. An empty body is allowed (routes that need one say so);
 * a non-empty body must be JSON (415 otherwise), at most BODY_LIMIT (413), and well-formed (400).
 */
export function jsonBody(limit = BODY_LIMIT) {
  const parseJson = parser(limit);
  return async (ctx: Context, next: Next) => {
    if (!BODY_METHODS.has(ctx.method)) return next();
    if (!hasBody(ctx)) {
      ctx.request.body = NO_BODY;
      return next();
    }
    if (!ctx.request.is('json', '+json')) {
      throw new ClientError(415, 'unsupported_media_type', 'content-type: must be application/json');
    }
    await parseJson(ctx as never, async () => {});
    if (ctx.request.body === '' || ctx.request.body === undefined) ctx.request.body = NO_BODY;
    return next();
  };
}

/** The body as a JSON object, or a 400 naming the body. */
export function objectBody(ctx: Context): JsonObject {
  const body = ctx.request.body;
  if (body === NO_BODY || body === undefined) {
    throw new ValidationError('body', 'is required: send a JSON object with content-type application/json');
  }
  return asObject(body, 'body');
}

/** The body as a JSON object, or {} when none was sent (for routes whose body is optional). */
export function optionalObjectBody(ctx: Context): JsonObject {
  const body = ctx.request.body;
  return body === NO_BODY || body === undefined ? {} : asObject(body, 'body');
}

/** One optional query parameter given at most once. */
export function queryString(ctx: Context, name: string, maxLength = 320): string | undefined {
  const value = ctx.query[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new ValidationError(name, 'must be given at most once');
  if (value.length > maxLength) throw new ValidationError(name, `must be at most ${maxLength} characters`);
  if (value.includes('\u0000')) throw new ValidationError(name, 'must not contain NUL characters');
  return value;
}

export function queryInt(ctx: Context, name: string, fallback: number, min: number, max: number): number {
  const raw = queryString(ctx, name, 20);
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ValidationError(name, `must be a whole number from ${min} to ${max}`);
  }
  return Number(raw);
}
