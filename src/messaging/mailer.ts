// The mail transport: SMTP through nodemailer when SMTP_URL is set, the dev outbox otherwise. Only
// the message dispatcher (dispatcher.ts) holds one: everything else sends through the courier.
import nodemailer, { type Transporter } from 'nodemailer';
import type { Db } from '../db/knex.ts';
import type { Logger } from '../log.ts';
import { storeMessage } from './outbox.ts';

export interface Mail {
  to: string;
  subject: string;
  text: string;
  /** The HTML alternative: sent as multipart/alternative with the text part first. */
  html?: string | null;
}

export interface Mailer {
  /** Hands the mail over; rejects when the SMTP server (or the database, for the dev outbox) refuses it. */
  send(mail: Mail): Promise<void>;
  close(): void;
}

export function createMailer(options: { smtpUrl: string | null; from: string; db: Db; log: Logger }): Mailer {
  const { smtpUrl, from, db, log } = options;
  if (!smtpUrl) {
    return {
      async send(mail) {
        await storeMessage(db, { channel: 'email', to: mail.to, subject: mail.subject, body: mail.text });
        log.debug({ to: mail.to, subject: mail.subject }, 'mail stored in the dev outbox');
      },
      close() {},
    };
  }
  // Bounded waits: a server that does not answer is an attempt that failed (and is retried from the
  // queue), not a queue slot held for nodemailer's default minutes.
  const transport: Transporter = nodemailer.createTransport(smtpUrl, { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 });
  return {
    async send(mail) {
      await transport.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text, ...(mail.html ? { html: mail.html } : {}) });
    },
    close() {
      transport.close();
    },
  };
}
