// A real SMTP receiver for tests (the smtp-server package); mails are parsed with postal-mime.
import PostalMime from 'postal-mime';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  to: string[];
  subject: string;
  text: string;
  /** The HTML part, null for a text-only mail. */
  html: string | null;
  /** The message's own Content-Type (multipart/alternative for a mail with an HTML part). */
  contentType: string;
  /** The header block as it came over the wire (long header lines still folded). */
  headers: string;
}

export interface SmtpReceiver {
  url: string;
  mails: ReceivedMail[];
  /** Waits for a mail to `to` whose subject or text matches; rejects after `timeoutMs`. */
  waitFor(to: string, match?: RegExp, timeoutMs?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

/** Starts a receiver on 127.0.0.1 (on `port` when given, e.g. to bring a "down" SMTP server up later). */
export async function startSmtpReceiver(port = 0): Promise<SmtpReceiver> {
  const mails: ReceivedMail[] = [];
  const waiters = new Set<() => void>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', async () => {
        const source = Buffer.concat(chunks);
        const parsed = await PostalMime.parse(source);
        const raw = source.toString('latin1');
        const end = raw.search(/\r?\n\r?\n/);
        mails.push({
          headers: end < 0 ? raw : raw.slice(0, end),
          to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
          subject: parsed.subject ?? '',
          text: parsed.text ?? '',
          html: parsed.html ?? null,
          contentType: parsed.headers.find((header) => header.key === 'content-type')?.value ?? '',
        });
        for (const wake of waiters) wake();
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const bound = (server.server.address() as { port: number }).port;

  const find = (to: string, match?: RegExp) => mails.find((m) => m.to.includes(to.toLowerCase()) && (!match || match.test(m.subject) || match.test(m.text)));

  return {
    url: `smtp://127.0.0.1:${bound}`,
    mails,
    waitFor(to, match, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const mail = find(to, match);
          if (mail) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(mail);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no mail to ${to}${match ? ` matching ${match}` : ''} within ${timeoutMs} ms (got ${mails.length} mails)`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close() {
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The first URL in a mail body that starts with `prefix`. */
export function linkIn(mail: ReceivedMail, prefix: string): string {
  const found = mail.text.match(/https?:\/\/\S+/g)?.find((u) => u.startsWith(prefix));
  if (!found) throw new Error(`no link starting with ${prefix} in: ${mail.text}`);
  return found;
}
