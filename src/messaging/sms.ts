// SMS through the generic HTTP messenger (SMS_WEBHOOK_URL gets {"to","body"} as JSON); the dev
// outbox only when SMS_DEV_OUTBOX=true says so; otherwise there is no sender (null), and SMS is not
// offered as a second factor.
import type { Db } from '../db/knex.ts';
import type { Logger } from '../log.ts';
import { storeMessage } from './outbox.ts';

export interface SmsSender {
  send(to: string, body: string): Promise<void>;
}

export function createSmsSender(options: { webhookUrl: string | null; devOutbox: boolean; db: Db; log: Logger }): SmsSender | null {
  const { webhookUrl, devOutbox, db, log } = options;
  if (!webhookUrl && !devOutbox) return null;
  if (!webhookUrl) {
    return {
      async send(to, body) {
        await storeMessage(db, { channel: 'sms', to, subject: null, body });
        log.info({ to }, 'text stored in the dev outbox');
      },
    };
  }
  return {
    async send(to, body) {
      const response = await fetch(webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ to, body }),
        redirect: 'error',
        signal: AbortSignal.timeout(10_000),
      });
      if (!response.ok) throw new Error(`SMS messenger answered ${response.status}`);
      log.info({ to }, 'text sent');
    },
  };
}
