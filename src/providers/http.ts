// Outbound calls to identity providers (discovery, JWKS, token, userinfo) go through the address
// policy of src/net/, as a hook's fetch and webhook deliveries do: every address a name resolves
// to must be public unless IDENTITY_PROVIDER_ALLOWED_HOSTS lists the host (a provider on loopback
// in tests, or on a private network), and the connection is pinned to the addresses checked.
// Answers are bounded in size and time. Used as openid-client's customFetch.
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { bareHostname, parseAllowedHosts, type HostRule } from '../net/address-policy.ts';
import { pinnedLookup, resolveTarget, type Resolver } from '../net/resolve-target.ts';

const ANSWER_MAX = 1024 * 1024;
const USER_AGENT = 'Tessera-Federation/1.0';

/** A provider could not be reached, or answered nothing usable: told to the user as "provider unavailable". */
export class ProviderUnreachable extends Error {}

export interface ProviderFetchOptions {
  allowedHosts: readonly string[];
  timeoutMs: number;
  resolve?: Resolver;
}

type FetchInit = { method?: string; headers?: Record<string, string> | Headers; body?: unknown; signal?: AbortSignal | null };

export function providerFetch(options: ProviderFetchOptions): (url: string, init: FetchInit) => Promise<Response> {
  const rules: HostRule[] = parseAllowedHosts(options.allowedHosts);
  return async (target, init) => {
    const url = new URL(target);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ProviderUnreachable(`${url.protocol} is not http(s)`);
    const verdict = await resolveTarget(url, { rules, onlyListed: false, resolve: options.resolve });
    if (!verdict.ok) {
      const problem = verdict.problem;
      const why =
        problem.kind === 'address'
          ? `${problem.hostname} is (or resolves to) a ${problem.why} address; list it in IDENTITY_PROVIDER_ALLOWED_HOSTS to allow it`
          : `${problem.hostname} could not be reached`;
      throw new ProviderUnreachable(why);
    }
    const hostname = bareHostname(url.hostname);
    const secure = url.protocol === 'https:';
    const headers: Record<string, string> = { 'user-agent': USER_AGENT };
    new Headers(init.headers as Record<string, string> | undefined).forEach((value, key) => {
      headers[key] = value;
    });
    const body =
      init.body === undefined || init.body === null ? undefined : typeof init.body === 'string' ? init.body : init.body instanceof URLSearchParams ? init.body.toString() : String(init.body);
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    return new Promise<Response>((resolvePromise, reject) => {
      const request = (secure ? https : http).request(
        {
          protocol: url.protocol,
          hostname,
          port: url.port || (secure ? 443 : 80),
          path: `${url.pathname}${url.search}`,
          method: init.method ?? 'GET',
          headers,
          ...(isIP(hostname) !== 0 ? {} : { lookup: pinnedLookup(verdict.addresses) as never }),
        },
        (response) => {
          const parts: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > ANSWER_MAX) {
              response.destroy();
              reject(new ProviderUnreachable(`${url.host} answered more than ${ANSWER_MAX} bytes`));
              return;
            }
            parts.push(chunk);
          });
          response.on('end', () => {
            clearTimeout(timer);
            const answerHeaders = new Headers();
            for (const [key, value] of Object.entries(response.headers)) {
              if (Array.isArray(value)) for (const v of value) answerHeaders.append(key, v);
              else if (value !== undefined) answerHeaders.set(key, value);
            }
            const status = response.statusCode ?? 502;
            const noBody = status === 204 || status === 304;
            resolvePromise(new Response(noBody ? null : Buffer.concat(parts), { status, headers: answerHeaders }));
          });
          response.on('error', (error) => reject(new ProviderUnreachable(`${url.host}: ${error.message}`)));
        },
      );
      const timer = setTimeout(() => request.destroy(new Error(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
      request.on('error', (error) => {
        clearTimeout(timer);
        reject(new ProviderUnreachable(`${url.host}: ${error.message}`));
      });
      init.signal?.addEventListener('abort', () => request.destroy(new Error('aborted')), { once: true });
      request.end(body);
    });
  };
}
