// The console's entry: asks who is signed in (GET /admin/session), then shows the pages; without a
// session, a sign-in button that starts the OIDC sign-in at /admin/login.
import './styles.css';
import { render } from 'preact';
import { LocationProvider, Route, Router } from 'preact-iso';
import { loadSession, type Session, signOut } from './api.ts';
import { SessionContext } from './session.ts';
import { Applications, ApplicationDetail } from './pages/applications.tsx';
import { AuditLog } from './pages/audit-log.tsx';
import { GroupDetail, Groups } from './pages/groups.tsx';
import { HookEditor } from './pages/hook-editor.tsx';
import { IdentityProviders } from './pages/identity-providers.tsx';
import { Journeys } from './pages/journeys.tsx';
import { Keys } from './pages/keys.tsx';
import { ResourceServers } from './pages/resource-servers.tsx';
import { Templates } from './pages/templates.tsx';
import { UserDetail, Users } from './pages/users.tsx';
import { WebhookDetail, Webhooks } from './pages/webhooks.tsx';

const NAV: Array<[string, string]> = [
  ['/admin/', 'Journeys & hooks'],
  ['/admin/templates', 'Templates'],
  ['/admin/applications', 'Applications'],
  ['/admin/users', 'Users'],
  ['/admin/groups', 'Groups'],
  ['/admin/webhooks', 'Webhooks'],
  ['/admin/resource-servers', 'Resource servers'],
  ['/admin/identity-providers', 'Identity providers'],
  ['/admin/keys', 'Signing keys'],
  ['/admin/audit-log', 'Audit log'],
];

function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no console page here. <a href="/admin/">Back to the journey map</a>
      </p>
    </section>
  );
}

function Shell({ session }: { session: Session }) {
  const here = window.location.pathname;
  return (
    <SessionContext.Provider value={session}>
      <a class="skip" href="#main">
        Skip to the content
      </a>
      <header class="top">
        <span class="brand">Tessera console</span>
        <span class="who">
          {session.user.email} <span class="badge">{session.role}</span>
          <button type="button" onClick={() => void signOut()}>
            Sign out
          </button>
        </span>
      </header>
      <div class="layout">
        <nav aria-label="Console">
          <ul>
            {NAV.map(([href, label]) => (
              <li key={href}>
                <a href={href} aria-current={(href === '/admin/' ? here === href || here.startsWith('/admin/hooks') : here.startsWith(href)) ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main">
          <Router>
            <Route path="/admin/" component={Journeys} />
            <Route path="/admin/hooks/new" component={HookEditor} />
            <Route path="/admin/hooks/:id" component={HookEditor} />
            <Route path="/admin/templates" component={Templates} />
            <Route path="/admin/applications" component={Applications} />
            <Route path="/admin/applications/:id" component={ApplicationDetail} />
            <Route path="/admin/users" component={Users} />
            <Route path="/admin/users/:id" component={UserDetail} />
            <Route path="/admin/groups" component={Groups} />
            <Route path="/admin/groups/:id" component={GroupDetail} />
            <Route path="/admin/webhooks" component={Webhooks} />
            <Route path="/admin/webhooks/:id" component={WebhookDetail} />
            <Route path="/admin/resource-servers" component={ResourceServers} />
            <Route path="/admin/keys" component={Keys} />
            <Route path="/admin/identity-providers" component={IdentityProviders} />
            <Route path="/admin/audit-log" component={AuditLog} />
            <Route default component={NotFound} />
          </Router>
        </main>
      </div>
    </SessionContext.Provider>
  );
}

function SignIn({ signedOut }: { signedOut: boolean }) {
  return (
    <main id="main" class="sign-in">
      <h1>Tessera console</h1>
      <p>{signedOut ? 'You are signed out.' : 'Sign in with your account and its second factor.'}</p>
      <a class="button primary" href="/admin/login">
        Sign in
      </a>
    </main>
  );
}

async function start(): Promise<void> {
  const root = document.getElementById('app')!;
  try {
    const session = await loadSession();
    render(
      session ? (
        <LocationProvider>
          <Shell session={session} />
        </LocationProvider>
      ) : (
        <SignIn signedOut={window.location.pathname === '/admin/signed-out'} />
      ),
      root,
    );
  } catch (error) {
    render(
      <main id="main" class="sign-in">
        <h1>The console cannot reach the server</h1>
        <p role="alert">{(error as Error).message}</p>
        <a class="button" href="/admin/">
          Try again
        </a>
      </main>,
      root,
    );
  }
}

void start();
