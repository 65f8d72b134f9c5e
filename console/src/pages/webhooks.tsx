// Webhooks: endpoints with the event picker (from the catalog of webhook event types), one endpoint's
// deliveries with their attempts, retry, secret rotation and deletion.
import { useLocation, useRoute } from 'preact-iso';
import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import { Badge, Busy, ConfirmButton, ErrorBanner, Field, type InputEvent, Json, LoadError, useAction, useLoad, inputValue } from '../components/ui.tsx';
import { useCanWrite } from '../session.ts';

interface Endpoint {
  id: string;
  url: string;
  events: string[];
  enabled?: boolean;
  secret?: string;
}

interface Delivery {
  id: string;
  event_type?: string;
  status: string;
  attempts?: unknown[];
  [key: string]: unknown;
}

function EventPicker({ types, chosen, onChange }: { types: string[]; chosen: string[]; onChange(next: string[]): void }) {
  const all = chosen.includes('*');
  return (
    <fieldset class="field picker">
      <legend>Events</legend>
      <label class="inline">
        <input type="checkbox" checked={all} onChange={() => onChange(all ? [] : ['*'])} /> Every event (*)
      </label>
      {!all &&
        types.map((type) => (
          <label class="inline" key={type}>
            <input type="checkbox" checked={chosen.includes(type)} onChange={() => onChange(chosen.includes(type) ? chosen.filter((t) => t !== type) : [...chosen, type])} /> <code>{type}</code>
          </label>
        ))}
    </fieldset>
  );
}

export function Webhooks() {
  const canWrite = useCanWrite();
  const { data, error, loading, reload } = useLoad(() => Promise.all([api.get<Endpoint[]>('/webhooks'), api.get<string[]>('/webhook-event-types')]), []);
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<string[]>([]);
  const [secret, setSecret] = useState<string | null>(null);
  const action = useAction();
  if (error) return <LoadError error={error} retry={reload} />;
  if (loading || !data) return <Busy />;
  const [endpoints, types] = data;
  const create = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      const made = await api.post<Endpoint>('/webhooks', { url, events });
      setSecret(made.secret ?? null);
      setUrl('');
      setEvents([]);
      reload();
    });
  };
  return (
    <section>
      <h1>Webhooks</h1>
      {secret && (
        <p class="banner good" role="status">
          The signing secret, shown once: <code>{secret}</code>
        </p>
      )}
      <table>
        <thead>
          <tr>
            <th scope="col">URL</th>
            <th scope="col">Events</th>
          </tr>
        </thead>
        <tbody>
          {endpoints.map((endpoint) => (
            <tr key={endpoint.id}>
              <td>
                <a href={`/admin/webhooks/${endpoint.id}`}>{endpoint.url}</a>
              </td>
              <td>{endpoint.events.join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {canWrite && (
        <form class="panel" onSubmit={create} aria-busy={action.busy} aria-labelledby="new-webhook">
          <h2 id="new-webhook">New endpoint</h2>
          <Field label="URL" name="url" error={action.error}>
            {(props) => <input {...props} type="url" required value={url} onInput={(e: InputEvent) => setUrl(inputValue(e))} />}
          </Field>
          <EventPicker types={types} chosen={events} onChange={setEvents} />
          <ErrorBanner error={action.error} fields={['url']} />
          <button type="submit" class="primary" disabled={action.busy}>
            {action.busy ? 'Creating…' : 'Create'}
          </button>
        </form>
      )}
    </section>
  );
}

export function WebhookDetail() {
  const { params } = useRoute();
  const location = useLocation();
  const canWrite = useCanWrite();
  const id = params.id!;
  const { data, error, loading, reload } = useLoad(
    () => Promise.all([api.get<Endpoint>(`/webhooks/${id}`), api.get<Delivery[] | { deliveries: Delivery[] }>(`/webhooks/${id}/deliveries?limit=50`)]),
    [id],
  );
  const [secret, setSecret] = useState<string | null>(null);
  const action = useAction();
  if (error) return <LoadError error={error} retry={reload} />;
  if (loading || !data) return <Busy />;
  const [endpoint, answer] = data;
  const deliveries = Array.isArray(answer) ? answer : answer.deliveries;
  return (
    <section>
      <div class="page-head">
        <h1>{endpoint.url}</h1>
      </div>
      <p>
        <a href="/admin/webhooks">← Webhooks</a>
      </p>
      {secret && (
        <p class="banner good" role="status">
          The new signing secret, shown once: <code>{secret}</code>
        </p>
      )}
      <ErrorBanner error={action.error} />
      <p>Events: {endpoint.events.join(', ')}</p>
      {canWrite && (
        <div class="actions">
          <ConfirmButton
            label="Rotate secret"
            danger={false}
            question="Make a new signing secret? Deliveries are signed with both for the rotation window."
            onConfirm={() =>
              action.run(async () => {
                const rotated = await api.post<{ secret: string }>(`/webhooks/${id}/rotate-secret`);
                setSecret(rotated.secret);
              })
            }
          />
          <ConfirmButton
            label="Delete endpoint"
            question={`Delete ${endpoint.url}? Pending deliveries are dropped.`}
            onConfirm={() =>
              action.run(async () => {
                await api.del(`/webhooks/${id}`);
                location.route('/admin/webhooks');
              })
            }
          />
        </div>
      )}
      <h2>Deliveries</h2>
      {deliveries.length === 0 && <p class="empty">No delivery yet.</p>}
      <ul class="plain">
        {deliveries.map((delivery) => (
          <li key={delivery.id} class="delivery">
            <Badge tone={delivery.status === 'delivered' ? 'good' : delivery.status === 'failed' ? 'bad' : ''}>{delivery.status}</Badge> <code>{delivery.event_type ?? ''}</code>{' '}
            {canWrite && (
              <button
                type="button"
                disabled={action.busy}
                onClick={() =>
                  void action.run(async () => {
                    await api.post(`/webhooks/${id}/deliveries/${delivery.id}/retry`);
                    reload();
                  })
                }
              >
                Retry
              </button>
            )}
            <details>
              <summary>Attempts</summary>
              <Json value={delivery.attempts ?? delivery} />
            </details>
          </li>
        ))}
      </ul>
    </section>
  );
}
