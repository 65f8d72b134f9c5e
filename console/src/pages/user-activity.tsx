// What a user's page shows beyond the profile: the applications the user granted access to (revoke),
// the consents given or refused, the recent runs of every hook for the user's events, and the
// webhook events about the user. Each loads on its own, so one failing leaves the others.
import { useState } from 'preact/hooks';
import { api, type Consent, type Execution, type GrantedApplication, type Hook, type WebhookEvent } from '../api.ts';
import { Badge, ConfirmButton, ErrorBanner, Json, LoadedPanel, useAction, useLoad } from '../components/ui.tsx';

const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '—');

function Applications({ userId, canWrite }: { userId: string; canWrite: boolean }) {
  const apps = useLoad(() => api.get<GrantedApplication[]>(`/users/${userId}/applications`), [userId]);
  const { data, reload } = apps;
  const action = useAction();
  return (
    <LoadedPanel id="user-apps" title="Applications with access" load={apps}>
      <ErrorBanner error={action.error} />
      {data && data.length === 0 && <p class="empty">The user has granted no application access.</p>}
      {data && data.length > 0 && (
        <ul class="plain">
          {data.map((app) => (
            <li key={app.client_id}>
              <strong>{app.name ?? app.client_id}</strong> <code>{app.scope ?? ''}</code> <span class="hint">since {when(app.granted_at)}</span>{' '}
              {canWrite && (
                <ConfirmButton
                  label={`Revoke ${app.name ?? app.client_id}`}
                  question={`Revoke ${app.name ?? app.client_id}'s access? Its tokens stop working and it asks again at the next sign-in.`}
                  onConfirm={() => action.run(() => api.del(`/users/${userId}/applications/${encodeURIComponent(app.client_id)}`).then(reload))}
                />
              )}
            </li>
          ))}
        </ul>
      )}
    </LoadedPanel>
  );
}

function Consents({ userId }: { userId: string }) {
  const consents = useLoad(() => api.get<Consent[]>(`/users/${userId}/consents`), [userId]);
  const { data } = consents;
  return (
    <LoadedPanel id="user-consents" title="Consents" load={consents}>
      {data && data.length === 0 && <p class="empty">None asked for yet.</p>}
      {data && data.length > 0 && (
        <table data-testid="user-consents">
          <thead>
            <tr>
              <th scope="col">Consent</th>
              <th scope="col">Answer</th>
              <th scope="col">Since</th>
            </tr>
          </thead>
          <tbody>
            {data.map((consent) => (
              <tr key={consent.key}>
                <td>
                  <code>{consent.key}</code>
                </td>
                <td>
                  <Badge tone={consent.granted ? 'good' : 'off'}>{consent.granted ? 'granted' : 'refused'}</Badge>
                </td>
                <td>{when(consent.updated_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </LoadedPanel>
  );
}

function HookRuns({ userId }: { userId: string }) {
  const runs = useLoad(() => Promise.all([api.get<Execution[]>(`/executions?user_id=${encodeURIComponent(userId)}&limit=20`), api.get<Hook[]>('/hooks')]), [userId]);
  const { data } = runs;
  const names = new Map((data?.[1] ?? []).map((hook) => [hook.id, hook.name]));
  return (
    <LoadedPanel id="user-runs" title="Recent hook runs" load={runs}>
      {data && data[0].length === 0 && <p class="empty">No hook ran for this user yet.</p>}
      {data && data[0].length > 0 && (
        <table data-testid="user-runs">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Hook</th>
              <th scope="col">Lifecycle point</th>
              <th scope="col">Outcome</th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {data[0].map((run) => (
              <tr key={run.id}>
                <td>{when(run.created_at)}</td>
                <td>{names.has(run.hook_id) ? <a href={`/admin/hooks/${run.hook_id}`}>{names.get(run.hook_id)}</a> : <span class="hint">deleted hook</span>}</td>
                <td>
                  <code>{run.event}</code> v{run.hook_version}
                </td>
                <td>
                  <Badge tone={run.outcome === 'success' ? 'good' : 'bad'}>{run.outcome}</Badge> {run.error ?? ''}
                </td>
                <td>{run.duration_ms} ms</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </LoadedPanel>
  );
}

function WebhookEvents({ userId }: { userId: string }) {
  const [limit, setLimit] = useState(20);
  const events = useLoad(() => api.get<WebhookEvent[]>(`/webhook-events?user_id=${encodeURIComponent(userId)}&limit=${limit}`), [userId, limit]);
  const { data } = events;
  return (
    <LoadedPanel id="user-events" title="Webhook events" load={events}>
      {data && data.length === 0 && <p class="empty">No webhook event about this user yet.</p>}
      {data && data.length > 0 && (
        <ul class="plain" data-testid="user-webhook-events">
          {data.map((event) => (
            <li key={event.id} class="delivery">
              <details>
                <summary>
                  <code>{event.type}</code> {when(event.created_at)} {event.dispatched_at ? '' : <Badge tone="off">not sent yet</Badge>}
                </summary>
                <Json value={event.data} />
              </details>
            </li>
          ))}
        </ul>
      )}
      {data && data.length === limit && (
        <button type="button" onClick={() => setLimit(limit + 50)}>
          Show more
        </button>
      )}
    </LoadedPanel>
  );
}

export function UserActivity({ userId, canWrite }: { userId: string; canWrite: boolean }) {
  return (
    <>
      <Applications userId={userId} canWrite={canWrite} />
      <Consents userId={userId} />
      <HookRuns userId={userId} />
      <WebhookEvents userId={userId} />
    </>
  );
}
