// Whether an enabled endpoint wants an event type, for an event worth writing only when one does:
// jwt.refresh costs every refresh grant an INSERT. An endpoint only gets events created after it
// was (fanout.ts), so an event that no endpoint wants when it happens is never delivered, and not
// writing it loses nothing. The answer is cached: a change of an endpoint in this process applies
// at once (notifyOutbox), another instance's within CACHE_MS (until then it may write an event no one
// wants, or, for that long after an endpoint is created elsewhere, not write one it wants).
import type { ActiveEndpoint } from './endpoints.ts';
import { onOutboxWrite, type WebhookEventType } from './outbox.ts';
import { wantsEvent } from './subscriptions.ts';

const CACHE_MS = 1000;

export interface EndpointSource {
  activeEndpoints(): Promise<ActiveEndpoint[]>;
}

export class EventSubscribers {
  readonly #source: EndpointSource;
  #cached: { at: number; endpoints: Promise<ActiveEndpoint[]> } | null = null;
  readonly #unsubscribe: () => void;

  constructor(source: EndpointSource) {
    this.#source = source;
    this.#unsubscribe = onOutboxWrite((wake) => {
      // 'delivery' includes an endpoint re-enabled (it resumes its deliveries).
      if (wake === 'endpoint' || wake === 'delivery') this.#cached = null;
    });
  }

  /** True when an enabled endpoint subscribes to `type` for this application (subscriptions.ts decides, as the fan-out does). */
  async wants(type: WebhookEventType, applicationId: string | null): Promise<boolean> {
    return (await this.endpoints()).some((endpoint) => wantsEvent(endpoint, type, applicationId));
  }

  /** The enabled endpoints, as cached (a change in this process applies at once, another's within CACHE_MS). */
  endpoints(): Promise<ActiveEndpoint[]> {
    const now = Date.now();
    if (this.#cached === null || now - this.#cached.at >= CACHE_MS) {
      const endpoints = this.#source.activeEndpoints();
      this.#cached = { at: now, endpoints };
      endpoints.catch(() => {
        if (this.#cached?.endpoints === endpoints) this.#cached = null;
      });
    }
    return this.#cached.endpoints;
  }

  close(): void {
    this.#unsubscribe();
  }
}
