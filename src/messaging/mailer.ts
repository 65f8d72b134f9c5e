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
  close(): void;
}

export function createMailer(options: { smtpUrl: string | null; from: string; db: Db; log: Logger }): Mailer {
  const { smtpUrl, from, db, log } = options;
  if (!smtpUrl) {
    return {
      async send(mail) {
        await storeMessage(db, { channel: 'email', to: mail.to, subject: mail.subject, body: mail.text });
        log.info({ to: mail.to, subject: mail.subject }, 'mail stored in the dev outbox');
      },
      close() {},
    };
  }
  const transport: Transporter = nodemailer.createTransport(smtpUrl);
  return {
    async send(mail) {
      await transport.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text });
      log.info({ to: mail.to, subject: mail.subject }, 'mail sent');
    },
    close() {
      transport.close();
    },
  };
}
