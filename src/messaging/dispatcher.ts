// Hands queued messages to their transport (mail: SMTP or the dev outbox; texts: the SMS messenger
// or the dev outbox) and writes each result back to the message queue: sent; retried after the
// schedule's delay while the transport fails; failed after the last attempt; expired when its link
// or code ran out first. A message the courier has just queued is handed over at once (it is leased
// to this process as it is written); retries and a dead process's leftovers are claimed by a poll.
import type { Config } from '../config.ts';
import { isPostgres, type Db } from '../db/knex.ts';
import { logEvent } from '../event-log.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { retryDelay } from '../webhooks/retry.ts';
import type { Mailer } from './mailer.ts';
import type { ClaimedMessage, MessageQueue, QueueStatus } from './message-queue.ts';
import type { SmsSender } from './sms.ts';

/** A message is handed over only if its lease outlasts the attempt by this much. */
const LEASE_MARGIN_MS = 1000;
const MAX_ERROR_LENGTH = 500;

export interface Transports {
  mailer: Mailer;
  /** Null when no SMS messenger is configured. */
  sms: SmsSender | null;
}

export interface DispatcherDeps {
  db: Db;
  queue: MessageQueue;
  transports: Transports;
  settings: Config['messages'];
  log: Logger;
  metrics?: Metrics;
}

export class MessageDispatcher {
  readonly #deps: DispatcherDeps;
  readonly #inflight = new Set<Promise<QueueStatus>>();
  #pumping: Promise<void> | null = null;
  #pumpAgain = false;
  #pollTimer: NodeJS.Timeout | null = null;
  #wakeTimer: NodeJS.Timeout | null = null;
  #wakeAt = Infinity;
  #stopped = true;

  constructor(deps: DispatcherDeps) {
    this.#deps = deps;
  }

  /** The most attempts a message gets: the first, and one per delay of the retry schedule. */
  get maxAttempts(): number {
    return this.#deps.settings.retryScheduleMs.length + 1;
  }

  async start(): Promise<void> {
    if (!this.#stopped) return;
    this.#stopped = false;
    if (!isPostgres(this.#deps.db)) {
      const released = await this.#deps.queue.releaseLeftovers();
      if (released) this.#deps.log.info({ released }, 'queued messages of a previous run released');
    }
    this.#pollTimer = setInterval(() => this.kick(), this.#deps.settings.pollMs);
    this.#pollTimer.unref();
    this.kick();
  }

  /** Stops claiming; messages being handed over finish (their transports have their own timeouts). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#pollTimer) clearInterval(this.#pollTimer);
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    await this.#pumping;
    await Promise.allSettled([...this.#inflight]);
  }

  /** Looks for due messages now. */
  kick(): void {
    if (this.#stopped) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = this.#pump().finally(() => {
      this.#pumping = null;
    });
  }

  /**
   * Hands one message leased to this process to its transport and writes the result. Answers the
   * status it was left in (pending: it will be tried again). Never rejects.
   */
  deliver(message: ClaimedMessage): Promise<QueueStatus> {
    const done = this.#deliver(message).catch((err: unknown) => {
      this.#deps.log.error({ err, message: message.id }, 'a queued message could not be settled; it is tried again once its lease ends');
      return 'pending' as const;
    });
    this.#inflight.add(done);
    done.finally(() => this.#inflight.delete(done));
    return done;
  }

  /**
   * Resolves once nothing is being handed over and no pending message is due (retries scheduled
   * for later do not count). For tests and shutdown checks; gives up after `timeoutMs`.
   */
  async idle(timeoutMs = 15_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      await Promise.allSettled([...this.#inflight]);
      await this.#pumping;
      if (this.#inflight.size === 0 && (await this.#deps.queue.dueCount()) === 0) return;
      if (performance.now() > deadline) throw new Error(`the message queue still had work after ${timeoutMs} ms`);
      this.kick();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async #pump(): Promise<void> {
    const { queue, settings, log } = this.#deps;
    do {
      this.#pumpAgain = false;
      while (!this.#stopped) {
        const free = settings.concurrency - this.#inflight.size;
        if (free <= 0) break;
        let claimed: ClaimedMessage[];
        try {
          claimed = await queue.claim(free);
        } catch (err) {
          log.warn({ err }, 'the message queue could not be read; trying again at the next poll');
          return;
        }
        for (const message of claimed) this.deliver(message).finally(() => this.kick());
        if (claimed.length < free) break;
      }
    } while (this.#pumpAgain && !this.#stopped);
  }

  async #deliver(message: ClaimedMessage): Promise<QueueStatus> {
    const status = await this.#attempt(message);
    if (status === 'skipped') return 'pending';
    this.#deps.metrics?.messageAttempts.inc({ channel: message.channel, outcome: status === 'pending' ? 'retry' : status });
    return status;
  }

  /** One attempt; 'skipped' when the lease is too short to make one (nothing was written). */
  async #attempt(message: ClaimedMessage): Promise<QueueStatus | 'skipped'> {
    const { queue, transports, settings, log } = this.#deps;
    const fields = { message: message.id, type: message.type, channel: message.channel };
    const now = Date.now();
    if (message.expiresAt !== null && now >= message.expiresAt) {
      await queue.settle(message, { status: 'expired', error: 'its link or code expired before it could be sent', nextAttemptAt: null, attempted: false });
      log.warn(fields, 'a queued message expired before it could be sent');
      return 'expired';
    }
    if (now + LEASE_MARGIN_MS > message.leaseUntil) return 'skipped'; // another process may take it: not this one
    let error: string | null = null;
    try {
      if (!message.content) throw new Error('its content could not be read (was ENCRYPTION_KEY changed?)');
      if (message.channel === 'email') {
        await transports.mailer.send({ to: message.to, subject: message.content.subject ?? '', text: message.content.text, html: message.content.html ?? null });
      } else {
        if (!transports.sms) throw new Error('no SMS messenger is configured (SMS_WEBHOOK_URL)');
        await transports.sms.send(message.to, message.content.text);
      }
    } catch (err) {
      error = (err instanceof Error ? err.message : String(err)).slice(0, MAX_ERROR_LENGTH) || 'the transport failed';
    }
    if (error === null) {
      await queue.settle(message, { status: 'sent', error: null, nextAttemptAt: null, attempted: true });
      log.info(fields, message.channel === 'email' ? 'mail handed over' : 'text handed over');
      return 'sent';
    }
    const attempt = message.attempts + 1;
    if (attempt >= message.maxAttempts) {
      await queue.settle(message, { status: 'failed', error, nextAttemptAt: null, attempted: true });
      log.error({ ...fields, attempts: attempt, error }, 'a message could not be sent: every attempt failed');
      // The event log says which message (its id in the queue), never to whom or what it held.
      await logEvent(this.#deps.db, 'message.failed', `${message.channel === 'email' ? 'mail' : 'text'} ${message.id} (${message.type}) could not be sent after ${attempt} attempts: ${error}`, {
        message_id: message.id,
        type: message.type,
        channel: message.channel,
        attempts: attempt,
        error,
      }).catch((err) => log.error({ err, message: message.id }, 'the event log entry of a failed message could not be written'));
      return 'failed';
    }
    const nextAttemptAt = Date.now() + retryDelay(settings.retryScheduleMs, attempt);
    await queue.settle(message, { status: 'pending', error, nextAttemptAt, attempted: true });
    log.warn({ ...fields, attempt, error, next_attempt_at: new Date(nextAttemptAt).toISOString() }, 'a message could not be handed over; it will be tried again');
    this.#wakeBy(nextAttemptAt);
    return 'pending';
  }

  /** A retry of this process is due then: look at the queue then rather than at the next poll. */
  #wakeBy(at: number): void {
    if (this.#stopped || at >= this.#wakeAt) return;
    if (this.#wakeTimer) clearTimeout(this.#wakeTimer);
    this.#wakeAt = at;
    this.#wakeTimer = setTimeout(
      () => {
        this.#wakeAt = Infinity;
        this.kick();
      },
      Math.max(0, at - Date.now()),
    );
    this.#wakeTimer.unref();
  }
}
