// A relying party's own pages on loopback, for journeys in a real browser: the redirect_uri that
// accepts a response_mode=form_post POST, and the post_logout_redirect_uri. It records what arrived.
import { createServer, type IncomingMessage } from 'node:http';

export interface RpHit {
  method: string;
  /** The full URL the browser asked for (query included). */
  url: string;
  /** The form fields of a POST (application/x-www-form-urlencoded), the query's of a GET. */
  params: URLSearchParams;
  /** The raw POST body, to hand to openid-client as the callback Request. */
  body: string;
}

export interface RpPages {
  origin: string;
  callback: string;
  loggedOut: string;
  callbacks: RpHit[];
  logouts: RpHit[];
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startRpPages(): Promise<RpPages> {
  const callbacks: RpHit[] = [];
  const logouts: RpHit[] = [];
  let origin = '';
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', origin);
      const body = req.method === 'POST' ? await readBody(req) : '';
      const hit: RpHit = { method: req.method ?? 'GET', url: url.toString(), params: req.method === 'POST' ? new URLSearchParams(body) : url.searchParams, body };
      let title: string;
      if (url.pathname === '/callback') {
        callbacks.push(hit);
        title = 'RP callback';
      } else if (url.pathname === '/logged-out') {
        logouts.push(hit);
        title = 'RP logged out';
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!DOCTYPE html><title>${title}</title><h1 id="rp">${title}</h1>`);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    callback: `${origin}/callback`,
    loggedOut: `${origin}/logged-out`,
    callbacks,
    logouts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
