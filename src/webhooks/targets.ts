// Where webhook URLs may go: the address policy of a hook's `fetch` (src/net/), with
// WEBHOOK_ALLOWED_HOSTS as the operator's exemptions for receivers on loopback or a private network.
// Checked when an endpoint's URL is set (a 400 naming the address) and again before every delivery,
// after DNS resolution, with the connection pinned to the addresses checked: a name that resolves
// inside later is refused then, never connected to.
import type { LookupAddress } from 'node:dns';
import { parseAllowedHosts, type HostRule } from '../net/address-policy.ts';
import { resolveTarget, type Resolver, type TargetProblem } from '../net/resolve-target.ts';

export type TargetCheck =
  | { ok: true; addresses: LookupAddress[] }
  /** `refused`: the address policy says no; `unresolved`: the name did not resolve (a network failure). */
  | { ok: false; kind: 'refused' | 'unresolved'; message: string };

export class WebhookTargets {
  readonly #rules: HostRule[];
  readonly #resolve: Resolver | undefined;

  /** `allowedHosts`: WEBHOOK_ALLOWED_HOSTS; `resolve`: DNS (the system resolver by default). */
  constructor(allowedHosts: readonly string[], resolve?: Resolver) {
    this.#rules = parseAllowedHosts(allowedHosts);
    this.#resolve = resolve;
  }

  /** Resolves and checks `url` (http or https). Aborting the signal rejects with its reason. */
  async check(url: URL, signal?: AbortSignal): Promise<TargetCheck> {
    const verdict = await resolveTarget(url, { rules: this.#rules, onlyListed: false, resolve: this.#resolve, signal });
    if (verdict.ok) return { ok: true, addresses: verdict.addresses };
    return { ok: false, kind: verdict.problem.kind === 'unresolved' ? 'unresolved' : 'refused', message: describe(verdict.problem) };
  }
}

function describe(problem: TargetProblem): string {
  switch (problem.kind) {
    case 'unresolved': {
      const code = (problem.error as NodeJS.ErrnoException | null)?.code;
      return `${typeof code === 'string' ? code : 'ENOTFOUND'}: ${problem.hostname} could not be resolved`;
    }
    case 'address': {
      const kind = `${/^[aeiou]/i.test(problem.why) ? 'an' : 'a'} ${problem.why} address`;
      const what = problem.literal ? `${problem.hostname} is ${kind}` : `${problem.hostname} resolves to ${problem.address}, ${kind}`;
      return `${what}; webhook URLs may reach only public addresses unless WEBHOOK_ALLOWED_HOSTS lists ${problem.hostname}:${problem.port}`;
    }
    case 'not_listed':
      // Not reached: WEBHOOK_ALLOWED_HOSTS only exempts (onlyListed is false).
      return `${problem.hostname}:${problem.port} is not allowed`;
  }
}
