// Where an outbound request may connect: the URL's host resolved and every address it resolves to
// checked against the address policy (address-policy.ts), and a `lookup` that pins the connection to
// exactly those addresses, so a name cannot resolve to a checked address first and an inside one at
// connect time (DNS rebinding). Used by a hook's `fetch` and by webhook deliveries; each phrases the
// refusal for its own audience.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { addressRefusal, bareHostname, defaultPort, isListed, type HostRule } from './address-policy.ts';

export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
  });

export interface TargetRules {
  /** Parsed `"host[:port]"` entries: a listed host and port may resolve to any address. */
  rules: readonly HostRule[];
  /**
   * True: when `rules` is not empty, only the listed hosts may be reached at all (a hook's
   * `allowed_hosts`). False: the rules only exempt listed hosts from the address check
   * (WEBHOOK_ALLOWED_HOSTS); any other host may still go to a public address.
   */
  onlyListed: boolean;
  resolve?: Resolver;
  /** Aborting rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Why a target may not be reached; the caller phrases it. */
export type TargetProblem =
  | { kind: 'not_listed'; hostname: string; port: number }
  | { kind: 'unresolved'; hostname: string; error: unknown }
  /** `address` is not public (`why`: "loopback", "private", ...); `literal`: the URL names it directly. */
  | { kind: 'address'; hostname: string; port: number; literal: boolean; address: string; why: string };

export type TargetVerdict = { ok: true; addresses: LookupAddress[]; listed: boolean } | { ok: false; problem: TargetProblem };

/**
 * Checks where a URL may go and answers the addresses to connect to. Listed hosts may resolve
 * anywhere; otherwise every address the name resolves to must be public (one inside address refuses
 * the name). Nothing is connected to here.
 */
export async function resolveTarget(url: URL, policy: TargetRules): Promise<TargetVerdict> {
  const port = url.port === '' ? defaultPort(url.protocol) : Number(url.port);
  const listed = isListed(policy.rules, url);
  if (policy.onlyListed && policy.rules.length > 0 && !listed) {
    return { ok: false, problem: { kind: 'not_listed', hostname: url.hostname, port } };
  }
  const hostname = bareHostname(url.hostname);
  const family = isIP(hostname);
  let addresses: LookupAddress[];
  if (family !== 0) {
    addresses = [{ address: hostname, family }];
  } else {
    try {
      addresses = await raceAbort((policy.resolve ?? systemResolver)(hostname), policy.signal);
    } catch (error) {
      if (policy.signal?.aborted) throw policy.signal.reason;
      return { ok: false, problem: { kind: 'unresolved', hostname, error } };
    }
    if (addresses.length === 0) return { ok: false, problem: { kind: 'unresolved', hostname, error: null } };
  }
  if (!listed) {
    for (const { address } of addresses) {
      const why = addressRefusal(address);
      if (why !== null) return { ok: false, problem: { kind: 'address', hostname: url.hostname, port, literal: family !== 0, address, why } };
    }
  }
  return { ok: true, addresses, listed };
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http(s).request that answers only the addresses already checked, so the connection
 * goes where we looked. (For an IP-literal host Node does not call it: the literal is the address.)
 */
export function pinnedLookup(addresses: readonly LookupAddress[]) {
  return (_hostname: string, options: { all?: boolean; family?: number | string } | LookupCallback, maybeCallback?: LookupCallback): void => {
    const callback = (typeof options === 'function' ? options : maybeCallback) as LookupCallback;
    const opts = typeof options === 'function' ? {} : options;
    const wanted = opts.family === 4 || opts.family === 'IPv4' ? 4 : opts.family === 6 || opts.family === 'IPv6' ? 6 : 0;
    const usable = wanted === 0 ? addresses : addresses.filter((a) => a.family === wanted);
    if (usable.length === 0) {
      const error = new Error('no checked address of the requested family') as NodeJS.ErrnoException;
      error.code = 'ENOTFOUND';
      callback(error, []);
    } else if (opts.all) {
      callback(
        null,
        usable.map((a) => ({ address: a.address, family: a.family })),
      );
    } else {
      callback(null, usable[0].address, usable[0].family);
    }
  };
}
