// Breached passwords (CONTRACT §9, threat signals): a password found in the bundled corpus is refused
// at registration, reset and change, and flagged at sign-in (user.password.breach, event.risk).
// The corpus is the common-password dictionary of @zxcvbn-ts/language-common (about 49 000 passwords
// from public breach lists, MIT, kept by the zxcvbn-ts project; the list zxcvbn's strength estimator
// ranks first), compared without regard to case. An operator may also name an HIBP-compatible range
// API (BREACHED_PASSWORD_RANGE_URL, e.g. https://api.pwnedpasswords.com/range/): only the first five
// hex digits of the password's SHA-1 leave the server (k-anonymity), the request obeys the outbound
// address policy of src/net/, and an API that does not answer in time counts as "not found" (the
// corpus still applies; the failure is logged).
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { dictionary } from '@zxcvbn-ts/language-common';
import type { Config } from '../config.ts';
import { bareHostname, parseAllowedHosts, type HostRule } from '../net/address-policy.ts';
import { pinnedLookup, resolveTarget, type Resolver } from '../net/resolve-target.ts';

const ANSWER_MAX = 2 * 1024 * 1024;

export interface BreachLog {
  warn(details: Record<string, unknown>, message: string): void;
}

export class BreachedPasswords {
  readonly #settings: Config['threats'];
  readonly #rules: HostRule[];
  readonly #resolve: Resolver | undefined;
  readonly #log: BreachLog | undefined;
  #corpus: Set<string> | null = null;

  constructor(settings: Config['threats'], options: { log?: BreachLog; resolve?: Resolver } = {}) {
    this.#settings = settings;
    this.#rules = parseAllowedHosts(settings.breachAllowedHosts);
    this.#resolve = options.resolve;
    this.#log = options.log;
  }

  get enabled(): boolean {
    return this.#settings.breachedPasswords;
  }

  /** Whether the bundled corpus holds the password (any case). Loaded on first use (a few MB). */
  inCorpus(password: string): boolean {
    if (!this.enabled) return false;
    this.#corpus ??= new Set((dictionary['passwords-common'] as string[]).map((word) => word.toLowerCase()));
    return this.#corpus.has(password.toLowerCase());
  }

  /** The corpus, then the range API when one is set. */
  async isBreached(password: string): Promise<boolean> {
    if (!this.enabled) return false;
    if (this.inCorpus(password)) return true;
    if (!this.#settings.breachRangeUrl) return false;
    try {
      return await this.#inRange(password);
    } catch (err) {
      this.#log?.warn({ err: (err as Error).message }, 'the breached-password range API did not answer; only the bundled corpus was checked');
      return false;
    }
  }

  async #inRange(password: string): Promise<boolean> {
    const sha1 = createHash('sha1').update(password, 'utf8').digest('hex').toUpperCase();
    const prefix = sha1.slice(0, 5);
    const suffix = sha1.slice(5);
    const base = this.#settings.breachRangeUrl!;
    const url = new URL(base.includes('{prefix}') ? base.replace('{prefix}', prefix) : `${base.endsWith('/') ? base : `${base}/`}${prefix}`);
    const body = await this.#get(url);
    for (const line of body.split('\n')) {
      const [hash, count] = line.trim().split(':');
      if (hash?.toUpperCase() === suffix && Number(count ?? '1') > 0) return true;
    }
    return false;
  }

  /** One GET over the address policy (the host's addresses checked, the connection pinned to them), bounded in time and size. */
  async #get(url: URL): Promise<string> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`no answer within ${this.#settings.breachTimeoutMs} ms`)), this.#settings.breachTimeoutMs);
    try {
      const verdict = await resolveTarget(url, { rules: this.#rules, onlyListed: false, resolve: this.#resolve, signal: controller.signal });
      if (!verdict.ok) {
        const problem = verdict.problem;
        throw new Error(
          problem.kind === 'address'
            ? `${problem.hostname} is (or resolves to) a ${problem.why} address; list it in BREACHED_PASSWORD_ALLOWED_HOSTS to allow it`
            : `${problem.hostname} could not be reached`,
        );
      }
      const hostname = bareHostname(url.hostname);
      const secure = url.protocol === 'https:';
      return await new Promise<string>((resolve, reject) => {
        const request = (secure ? https : http).request(
          {
            protocol: url.protocol,
            hostname,
            port: url.port || (secure ? 443 : 80),
            path: `${url.pathname}${url.search}`,
            method: 'GET',
            headers: { 'user-agent': 'Tessera-BreachCheck/1.0', 'add-padding': 'true' },
            signal: controller.signal,
            ...(isIP(hostname) !== 0 ? {} : { lookup: pinnedLookup(verdict.addresses) as never }),
          },
          (response) => {
            if (response.statusCode !== 200) {
              response.resume();
              reject(new Error(`HTTP ${response.statusCode}`));
              return;
            }
            const parts: Buffer[] = [];
            let size = 0;
            response.on('data', (chunk: Buffer) => {
              size += chunk.length;
              if (size > ANSWER_MAX) {
                response.destroy(new Error(`answered more than ${ANSWER_MAX} bytes`));
                return;
              }
              parts.push(chunk);
            });
            response.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
            response.on('error', reject);
          },
        );
        request.on('error', reject);
        request.end();
      });
    } finally {
      clearTimeout(timer);
    }
  }
}
