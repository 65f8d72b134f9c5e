// Bearer authentication of the admin API (and of GET /metrics): the presented key is hashed and
// compared in constant time with the stored sha256 of ADMIN_API_KEY, so the key itself is never kept
// in memory or the database.
//
// Guessing is throttled per client address: past ADMIN_MAX_FAILURES_PER_IP wrong keys inside the
// throttle window, every request from that address that presents a key is answered 429, the right
// key included, so a guess made while throttled says nothing. The key is checked first (no database
// work), then a wrong key is counted in one atomic statement, and the answer to a wrong key follows
// from that count; a right key only reads the count. Requests from the box itself (loopback) are not
// throttled: they come from the operator's own machine, and a lockout there would lock the operator
// out. Behind a reverse proxy, TRUST_PROXY makes the client's own address count.
import { BlockList, isIPv6 } from 'node:net';
import type { Context, Next } from 'koa';
import { constantTimeEqual, sha256Hex } from '../crypto.ts';
import { Throttle } from '../identity/throttle.ts';

const BEARER = /^Bearer[ \t]+([\x21-\x7e]{1,1000})[ \t]*$/i;

export type AdminKeyCheck = 'ok' | 'missing' | 'invalid';
export type AdminKeyVerdict = AdminKeyCheck | 'throttled';

/** Whether the Authorization header carries a key whose sha256 is one of `hashes`. */
function checkAdminKey(authorization: string, hashes: readonly string[]): AdminKeyCheck {
  if (!authorization) return 'missing';
  const match = BEARER.exec(authorization);
  if (!match) return 'invalid';
  const presented = sha256Hex(match[1]!);
  let ok = false;
  for (const hash of hashes) ok = constantTimeEqual(presented, hash) || ok; // every hash compared: no early exit
  return ok ? 'ok' : 'invalid';
}

// 127.0.0.0/8 and ::1 (BlockList also matches IPv4-mapped forms such as ::ffff:127.0.0.1).
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

function isLoopback(ip: string): boolean {
  return LOOPBACK.check(ip, isIPv6(ip) ? 'ipv6' : 'ipv4');
}

export class AdminKeyGuard {
  readonly #throttle: Throttle;
  readonly #maxFailures: number;
  readonly windowSeconds: number;

  constructor(throttle: Throttle, maxFailuresPerIp: number, windowSeconds: number) {
    this.#throttle = throttle;
    this.#maxFailures = maxFailuresPerIp;
    this.windowSeconds = windowSeconds;
  }

  async verdict(ctx: Context, hashes: readonly string[]): Promise<AdminKeyVerdict> {
    const check = checkAdminKey(ctx.get('authorization'), hashes);
    if (check === 'missing' || isLoopback(ctx.ip)) return check;
    const key = Throttle.key('admin-ip', ctx.ip || 'unknown');
    if (check === 'invalid') return (await this.#throttle.hit(key, this.#maxFailures)) ? 'invalid' : 'throttled';
    return (await this.#throttle.allows(key, this.#maxFailures)) ? 'ok' : 'throttled';
  }
}

/** Answers 429 for a throttled address: the same for a right and a wrong key. */
export function answerThrottled(ctx: Context, guard: AdminKeyGuard): void {
  ctx.status = 429;
  ctx.set('retry-after', String(guard.windowSeconds));
  ctx.set('cache-control', 'no-store');
  ctx.body = { error: 'too_many_requests', message: `authorization: too many wrong keys from this address; try again in ${guard.windowSeconds} s` };
}

/** Answers 401 (with WWW-Authenticate) or 429 unless the request carries the admin key; returns whether it did. */
export async function authenticate(ctx: Context, keyHash: string, guard: AdminKeyGuard): Promise<boolean> {
  const verdict = await guard.verdict(ctx, [keyHash]);
  if (verdict === 'ok') return true;
  if (verdict === 'throttled') {
    answerThrottled(ctx, guard);
    return false;
  }
  ctx.status = 401;
  ctx.set('www-authenticate', verdict === 'missing' ? 'Bearer realm="tessera-admin"' : 'Bearer realm="tessera-admin", error="invalid_token"');
  ctx.set('cache-control', 'no-store');
  ctx.body = {
    error: 'unauthorized',
    message: verdict === 'missing' ? 'authorization: send the admin API key as "Authorization: Bearer <ADMIN_API_KEY>"' : 'authorization: the admin API key is not valid',
  };
  return false;
}

export function requireAdminKey(keyHash: () => Promise<string>, guard: AdminKeyGuard) {
  return async (ctx: Context, next: Next) => {
    if (!(await authenticate(ctx, await keyHash(), guard))) return;
    ctx.set('cache-control', 'no-store');
    await next();
  };
}
