// Transactional webhooks (CONTRACT §6): an endpoint with `transactional: true` gets each event it
// subscribes to that has a `.complete` twin (the catalog's `complete`) before the change commits, and
// the change waits for its answer: a non-2xx, no answer within WEBHOOK_TIMEOUT, or an address the
// policy refuses refuses the change (WebhookRefused: 409 webhook_refused on the admin API, a message
// on the hosted pages), and nothing is written.
//
// The discipline is that of sync after_* hooks (src/hooks/change.ts): the caller prepares the change
// (reads what it is about, computes the event's data), `pass` POSTs while no transaction is open (so
// SQLite's one writer keeps serving every other request, however long the endpoint takes), then the
// caller commits in one transaction that checks that what the change is about did not change
// meanwhile, and writes the event with the PassedEvent (recordEvent): the same id, time and body the
// endpoints got, with their deliveries logged as made, so the outbox does not send it to them again.
// The `.complete` twin is written in that transaction and delivered after the commit like every event.
// The POST is signed and sent like every delivery (transport.ts: the address policy, no redirects).
import type { Config } from '../config.ts';
import { toJson } from '../db/knex.ts';
import { ClientError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { completeTwin, type WebhookEventType } from './catalog.ts';
import type { ActiveEndpoint } from './endpoints.ts';
import { newEventId, type PassedEvent } from './outbox.ts';
import { signatureHeaders } from './signing.ts';
import { eventApplication, wantsEvent } from './subscriptions.ts';
import type { WebhookTargets } from './targets.ts';
import { WebhookTransport } from './transport.ts';
import { noAnswer, type Answer } from './retry.ts';

export type { PassedEvent };

/** A transactional endpoint did not accept the change: nothing was written. */
export class WebhookRefused extends ClientError {
  readonly endpointId: string;

  constructor(endpointId: string, why: string) {
    super(409, 'webhook_refused', `the change was refused by a transactional webhook endpoint (${endpointId}: ${why}); nothing was changed`);
    this.endpointId = endpointId;
  }
}

export interface TransactionalDeps {
  /** The enabled endpoints (cached: src/webhooks/subscribers.ts). */
  endpoints: () => Promise<ActiveEndpoint[]>;
  settings: Pick<Config['webhooks'], 'timeoutMs'>;
  targets: WebhookTargets;
  log: Logger;
  metrics?: Metrics;
}

/** Requests at once to transactional endpoints (a connection pool of its own, apart from the dispatcher's). */
const CONCURRENCY = 64;

function refusal(answer: Answer): string | null {
  if (answer.statusCode !== null && answer.statusCode >= 200 && answer.statusCode < 300 && answer.error === null) return null;
  if (answer.statusCode !== null) return answer.error ?? `HTTP ${answer.statusCode}`;
  return answer.error ?? 'no answer';
}

export class TransactionalWebhooks {
  readonly #deps: TransactionalDeps;
  readonly #transport: WebhookTransport;

  constructor(deps: TransactionalDeps) {
    this.#deps = deps;
    this.#transport = new WebhookTransport({ timeoutMs: deps.settings.timeoutMs, concurrency: CONCURRENCY }, deps.targets);
  }

  /**
   * Delivers the event to every enabled transactional endpoint that subscribes to it, at once, and
   * waits for their answers; call it with no transaction open. Answers null when none does (or the
   * type has no `.complete` twin): the change goes on as usual. Throws WebhookRefused when one did not
   * answer 2xx.
   */
  async pass(type: WebhookEventType, data: Record<string, unknown>): Promise<PassedEvent | null> {
    if (!completeTwin(type)) return null;
    const applicationId = eventApplication(data);
    const endpoints = (await this.#deps.endpoints()).filter((endpoint) => endpoint.transactional && wantsEvent(endpoint, type, applicationId));
    if (endpoints.length === 0) return null;
    const id = newEventId();
    const createdAt = Date.now();
    const json = toJson(data);
    const body = `{"id":${JSON.stringify(id)},"type":${JSON.stringify(type)},"created_at":${JSON.stringify(new Date(createdAt).toISOString())},"data":${json}}`;
    const results = await Promise.all(
      endpoints.map(async (endpoint) => {
        const started = performance.now();
        // An unexpected failure (not an answer) refuses the change like no answer would.
        const answer = await this.#transport.send(endpoint.url, body, signatureHeaders(endpoint.keys, id, body), { abort: () => {} }, started).catch((err: unknown) => {
          this.#deps.log.error({ err, endpoint_id: endpoint.id }, 'a transactional webhook call failed');
          return noAnswer('internal error');
        });
        return { endpoint, answer, latencyMs: Math.round(performance.now() - started), at: Date.now() };
      }),
    );
    for (const { endpoint, answer } of results) {
      const why = refusal(answer);
      this.#deps.metrics?.webhookTransactional.inc({ outcome: why === null ? 'accepted' : 'refused' });
      if (why === null) continue;
      this.#deps.log.info({ endpoint_id: endpoint.id, event_id: id, type, status: answer.statusCode, error: answer.error }, 'a transactional webhook endpoint refused a change');
      throw new WebhookRefused(endpoint.id, why);
    }
    return {
      id,
      type,
      createdAt,
      data: json,
      deliveries: results.map(({ endpoint, answer, latencyMs, at }) => ({ endpointId: endpoint.id, statusCode: answer.statusCode!, latencyMs, response: answer.response, at })),
    };
  }

  /** Whether any enabled endpoint is transactional (else no change needs to ask). */
  async active(): Promise<boolean> {
    return (await this.#deps.endpoints()).some((endpoint) => endpoint.transactional);
  }

  close(): void {
    this.#transport.close();
  }
}

/** The gate of a server without transactional endpoints to ask (tests of a store on its own). */
export const NO_GATE: Gate = { pass: async () => null, active: async () => false };

/** What a change asks of the transactional endpoints (TransactionalWebhooks, or NO_GATE). */
export type Gate = Pick<TransactionalWebhooks, 'pass' | 'active'>;
