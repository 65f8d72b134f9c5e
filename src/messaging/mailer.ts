// Mail: SMTP through nodemailer when SMTP_URL is set, the dev outbox otherwise.
import nodemailer, { type Transporter } from 'nodemailer';
import type { Db } from '../db/knex.ts';
import type { Logger } from '../log.ts';
import { storeMessage } from './outbox.ts';

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  send(mail: Mail): Promise<void>;
  /**
   * Resolves once every mail sent so far has been handed over or has failed. Flows send without
   * waiting (kit.mail), so this is the point after which a mail that was not sent will not be.
   */
  idle(): Promise<void>;
  close(): void;
}

export function createMailer(options: { smtpUrl: string | null; from: string; db: Db; log: Logger }): Mailer {
  const { smtpUrl, from, db, log } = options;
  const sending = new Set<Promise<void>>();
  const tracked =
    (send: (mail: Mail) => Promise<void>) =>
    (mail: Mail): Promise<void> => {
      const sent = send(mail);
      const settled = sent
        .then(
          () => {},
          () => {},
        )
        .finally(() => sending.delete(settled));
      sending.add(settled);
      return sent;
    };
  const idle = async () => {
    while (sending.size) await Promise.all(sending);
  };
  if (!smtpUrl) {
    return {
      send: tracked(async (mail) => {
        await storeMessage(db, { channel: 'email', to: mail.to, subject: mail.subject, body: mail.text });
        log.info({ to: mail.to, subject: mail.subject }, 'mail stored in the dev outbox');
      }),
      idle,
      close() {},
    };
  }
  const transport: Transporter = nodemailer.createTransport(smtpUrl);
  return {
    send: tracked(async (mail) => {
      await transport.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text });
      log.info({ to: mail.to, subject: mail.subject }, 'mail sent');
    }),
    idle,
    close() {
      transport.close();
    },
  };
}
