// The one way a mail or text leaves Tessera: `courier.send(message, ctx)`. It runs the
// before_message_send hooks (which may send the message themselves, `api.message.suppress()`, or
// stop it, `api.deny()`), then writes the message to the durable message queue and hands it over at
// once; a transport that fails is retried from the queue (dispatcher.ts). Nothing else in the code
// base holds a transport, so no message can go around the hook. A transactional message (one with a
// link a brand may send itself, transactional.ts) is also announced as its `message.*` webhook event,
// written with the queue row in one transaction; the application's `message_delivery` may leave its
// sending to the brand.
import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';
import type { HookUser, MessageType } from '../hooks/catalog/events.ts';
import type { Lifecycle, LifecycleContext } from '../hooks/lifecycle.ts';
import type { Logger } from '../log.ts';
import type { MessageDispatcher } from './dispatcher.ts';
import { recordEvent } from '../webhooks/outbox.ts';
import type { Channel, MessageQueue, QueuedMessage, QueueStatus } from './message-queue.ts';
import { isTransactional, TRANSACTIONAL_MESSAGES, type Sender } from './transactional.ts';

/** A message to send: what it is for, where it goes, its rendered content, and what the hook sees. */
export interface OutgoingMessage {
  type: MessageType;
  channel: Channel;
  to: string;
  /** Mail only. */
  subject: string | null;
  text: string;
  /** Mail only: the HTML alternative of `text` (views/mail/layout.html.njk); null or absent: text only. */
  html?: string | null;
  /** The link the message carries, if any (shown to the hook). */
  link?: string | null;
  /** The one-time code it carries, if any (shown to the hook). */
  code?: string | null;
  /** When the link or code stops working (epoch ms): the queue does not send it after that. */
  expiresAt?: number | null;
  user: HookUser | null;
  applicationId: string | null;
}

/**
 * queued: durably in the queue (`handedOver` settles once the first attempt has ended, with the
 * status it left: sent, or pending for a retry); suppressed: a hook sends it; brand: the
 * application leaves it to the brand (its `message.*` event is written); denied: a hook stopped it
 * (its message, to show where the page may).
 */
export type SendResult = { status: 'queued'; id: string; handedOver: Promise<QueueStatus> } | { status: 'suppressed' | 'brand'; id: string } | { status: 'denied'; id: string; message: string };

export interface CourierDeps {
  db: Db;
  lifecycle: Lifecycle;
  /** Who sends a message of `type` for an application (its `message_delivery`); Tessera without one. */
  senderOf: (applicationId: string | null, type: MessageType) => Promise<Sender>;
  queue: MessageQueue;
  dispatcher: MessageDispatcher;
  log: Logger;
  /** Whether texts can be sent at all (an SMS messenger or SMS_DEV_OUTBOX). */
  smsAvailable: boolean;
}

export class Courier {
  readonly #deps: CourierDeps;
  readonly #sending = new Set<Promise<unknown>>();

  constructor(deps: CourierDeps) {
    this.#deps = deps;
  }

  /** Whether texts can be sent: SMS is offered as a second factor only then. */
  get smsAvailable(): boolean {
    return this.#deps.smsAvailable;
  }

  /**
   * Sends a message: before_message_send, then the queue. Rejects only when the queue could not be
   * written (the caller must not say "check your email" then).
   */
  send(message: OutgoingMessage, ctx: LifecycleContext): Promise<SendResult> {
    const sending = this.#send(message, ctx);
    const tracked = sending.then(
      (result) => (result.status === 'queued' ? result.handedOver : null),
      () => null,
    );
    this.#sending.add(tracked);
    tracked.finally(() => this.#sending.delete(tracked));
    return sending;
  }

  /** Every message sent so far has passed its hooks and its first attempt, and no queued one is due. */
  async idle(): Promise<void> {
    while (this.#sending.size) await Promise.allSettled([...this.#sending]);
    await this.#deps.dispatcher.idle();
  }

  async #send(message: OutgoingMessage, ctx: LifecycleContext): Promise<SendResult> {
    const { lifecycle, queue, dispatcher, log } = this.#deps;
    const queued: QueuedMessage = {
      type: message.type,
      channel: message.channel,
      to: message.to,
      userId: message.user?.id ?? null,
      applicationId: message.applicationId,
      expiresAt: message.expiresAt ?? null,
    };
    const outcome = await lifecycle.run(
      'before_message_send',
      {
        user: message.user,
        message: {
          type: message.type,
          channel: message.channel,
          to: message.to,
          link: message.link ?? null,
          code: message.code ?? null,
          expires_at: message.expiresAt ? new Date(message.expiresAt).toISOString() : null,
          locale: ctx.locale,
        },
      },
      ctx,
    );
    const fields = { type: message.type, channel: message.channel };
    if (outcome.denied) {
      const note = outcome.failed ? 'a before_message_send hook failed (on_error "fail")' : `denied by a before_message_send hook: ${outcome.denied.message}`;
      const id = await queue.recordSettled(queued, 'denied', note);
      log.info({ ...fields, message: id }, 'message not sent: a before_message_send hook stopped it');
      return { status: 'denied', id, message: outcome.denied.message };
    }
    const sender = await this.#deps.senderOf(message.applicationId, message.type);
    if (outcome.decision.suppressed || sender === 'brand') {
      const status = outcome.decision.suppressed ? 'suppressed' : 'brand';
      const id = await this.#withAnnouncement(message, ctx, status === 'brand' ? 'brand' : 'hook', (trx) => queue.recordSettled(queued, status, null, trx));
      log.info(
        { ...fields, message: id },
        status === 'brand' ? 'message not sent by Tessera: the application leaves it to the brand' : 'message not sent by Tessera: a before_message_send hook sends it',
      );
      return { status, id };
    }
    const content = { subject: message.subject, text: message.text, ...(message.html ? { html: message.html } : {}) };
    const claimed = await this.#withAnnouncement(message, ctx, 'tessera', (trx) => queue.enqueue(queued, content, dispatcher.maxAttempts, trx));
    return { status: 'queued', id: claimed.id, handedOver: dispatcher.deliver(claimed) };
  }

  /**
   * Writes the queue row (`write`), and for a transactional message its `message.*` event in the same
   * transaction, so the brand hears of exactly the messages that were recorded.
   */
  async #withAnnouncement<T>(message: OutgoingMessage, ctx: LifecycleContext, delivery: 'tessera' | 'brand' | 'hook', write: (trx: Knex) => Promise<T>): Promise<T> {
    if (!isTransactional(message.type)) return write(this.#deps.db);
    const type = TRANSACTIONAL_MESSAGES[message.type];
    return this.#deps.db.transaction(async (trx) => {
      const written = await write(trx);
      await recordEvent(trx, type, {
        to: message.to,
        link: message.link ?? null,
        expires_at: message.expiresAt ? new Date(message.expiresAt).toISOString() : null,
        locale: ctx.locale,
        user_id: message.user?.id ?? null,
        application_id: message.applicationId,
        delivery,
      });
      return written;
    });
  }
}
