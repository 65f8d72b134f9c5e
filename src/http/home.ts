// GET / : what this server is, for a person who opens it in a browser (HTML) and for a script
// (JSON, when the request prefers application/json): the issuer and where to go next.
import type { Context, Next } from 'koa';
import { renderPage } from '../views.ts';

export interface HomeLinks {
  openid_configuration: string;
  jwks_uri: string;
  health: string;
}

function homeLinks(issuer: string): HomeLinks {
  return {
    openid_configuration: `${issuer}/.well-known/openid-configuration`,
    jwks_uri: `${issuer}/jwks`,
    health: `${issuer}/health`,
  };
}

const DOCUMENTATION = 'README.md and docs/ (admin-api.md, hooks.md, webhooks.md, ARCHITECTURE.md) in the Tessera distribution';

export function home(issuer: string) {
  const links = homeLinks(issuer);
  return async (ctx: Context, next: Next) => {
    if (ctx.path !== '/' || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    ctx.vary('accept');
    if (ctx.accepts('html', 'json') === 'json') {
      ctx.body = { service: 'tessera', issuer, links, documentation: DOCUMENTATION };
      return;
    }
    ctx.type = 'html';
    ctx.body = renderPage('message', {
      title: 'Tessera',
      brand: null,
      paragraphs: [
        `This is the OpenID Connect server for the issuer ${issuer}.`,
        'Applications sign their users in here through an OIDC client library, starting from the discovery document. Operators use the admin API under /admin/api.',
        `Documentation: ${DOCUMENTATION}.`,
      ],
      links: [
        { href: '/.well-known/openid-configuration', text: 'Discovery document' },
        { href: '/jwks', text: 'Signing keys (JWKS)' },
        { href: '/health', text: 'Health' },
      ],
    });
  };
}
