// Identity providers: the upstream sign-ins (Google, Microsoft, Apple, GitHub, GitLab, Facebook or any
// OpenID Connect / OAuth 2 provider) that the sign-in page offers, or that verify identities; enable,
// disable, delete; a new one from a preset or an issuer. The client secret is write-only.
import { useState } from 'preact/hooks';
import { api, type IdentityProvider } from '../api.ts';
import { Badge, Busy, ConfirmButton, ErrorBanner, Field, type InputEvent, LoadError, useAction, useLoad, inputValue } from '../components/ui.tsx';
import { useCanWrite } from '../session.ts';

const PRESETS = ['google', 'microsoft', 'apple', 'github', 'gitlab', 'facebook'];
const EMPTY = { name: '', preset: '', issuer: '', client_id: '', client_secret: '', purpose: 'login' };
const FIELDS = ['name', 'preset', 'issuer', 'client_id', 'client_secret', 'purpose'];

export function IdentityProviders() {
  const canWrite = useCanWrite();
  const { data, error, loading, reload } = useLoad(() => api.get<IdentityProvider[]>('/identity-providers'), []);
  const [form, setForm] = useState(EMPTY);
  const action = useAction();
  if (error) return <LoadError error={error} retry={reload} />;
  if (loading || !data) return <Busy />;
  const change = (work: () => Promise<unknown>) => action.run(() => work().then(reload));
  const create = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      await api.post('/identity-providers', {
        name: form.name,
        ...(form.preset ? { preset: form.preset } : { type: 'oidc', issuer: form.issuer }),
        client_id: form.client_id,
        ...(form.client_secret ? { client_secret: form.client_secret } : {}),
        purpose: form.purpose,
      });
      setForm(EMPTY);
      reload();
    });
  };
  const set = (name: keyof typeof EMPTY) => (e: InputEvent) => setForm({ ...form, [name]: inputValue(e) });
  return (
    <section>
      <h1>Identity providers</h1>
      <p class="lead">Upstream sign-ins the hosted pages offer as buttons, or that verify an identity.</p>
      <ErrorBanner error={action.error} fields={canWrite ? FIELDS : []} />
      {data.length === 0 ? (
        <p class="empty">No identity provider yet.</p>
      ) : (
        <table data-testid="identity-providers">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Purpose</th>
              <th scope="col">Client id</th>
              <th scope="col">Applications</th>
              <th scope="col">State</th>
              {canWrite && (
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {data.map((provider) => (
              <tr key={provider.id}>
                <td>{provider.name}</td>
                <td>
                  {provider.preset ?? provider.type} {provider.issuer && <div class="hint">{provider.issuer}</div>}
                </td>
                <td>{provider.purpose}</td>
                <td>
                  <code>{provider.client_id}</code> {provider.has_client_secret ? <Badge>secret set</Badge> : null}
                </td>
                <td>{provider.applications === null ? 'all' : provider.applications.length}</td>
                <td>
                  <Badge tone={provider.enabled ? 'good' : 'off'}>{provider.enabled ? 'enabled' : 'disabled'}</Badge>
                </td>
                {canWrite && (
                  <td>
                    <div class="row">
                      <button type="button" disabled={action.busy} onClick={() => void change(() => api.patch(`/identity-providers/${provider.id}`, { enabled: !provider.enabled }))}>
                        {provider.enabled ? `Disable ${provider.name}` : `Enable ${provider.name}`}
                      </button>
                      <ConfirmButton
                        label={`Delete ${provider.name}`}
                        question={`Delete ${provider.name}? Its button goes from the sign-in page and users linked through it sign in otherwise.`}
                        onConfirm={() => change(() => api.del(`/identity-providers/${provider.id}`))}
                      />
                    </div>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canWrite && (
        <form class="panel" onSubmit={create} aria-labelledby="new-idp" aria-busy={action.busy}>
          <h2 id="new-idp">New identity provider</h2>
          <div class="grid">
            <Field label="Name (the button's label)" name="name" error={action.error}>
              {(props) => <input {...props} required value={form.name} onInput={set('name')} />}
            </Field>
            <Field label="Preset" name="preset" error={action.error}>
              {(props) => (
                <select {...props} value={form.preset} onChange={set('preset')}>
                  <option value="">none: an OpenID Connect issuer</option>
                  {PRESETS.map((preset) => (
                    <option key={preset} value={preset}>
                      {preset}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            {!form.preset && (
              <Field label="Issuer (URL)" name="issuer" error={action.error}>
                {(props) => <input {...props} type="url" required value={form.issuer} onInput={set('issuer')} />}
              </Field>
            )}
            <Field label="Client id" name="client_id" error={action.error}>
              {(props) => <input {...props} required value={form.client_id} onInput={set('client_id')} />}
            </Field>
            <Field label="Client secret (write-only)" name="client_secret" error={action.error}>
              {(props) => <input {...props} type="password" autocomplete="off" value={form.client_secret} onInput={set('client_secret')} />}
            </Field>
            <Field label="Purpose" name="purpose" error={action.error}>
              {(props) => (
                <select {...props} value={form.purpose} onChange={set('purpose')}>
                  <option value="login">sign-in</option>
                  <option value="verification">identity verification</option>
                </select>
              )}
            </Field>
          </div>
          <button type="submit" class="primary" disabled={action.busy}>
            {action.busy ? 'Creating…' : 'Create'}
          </button>
        </form>
      )}
    </section>
  );
}
