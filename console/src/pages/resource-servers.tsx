// Resource servers: the APIs that receive JWT access tokens, their scopes and token lifetime.
import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import { Busy, ConfirmButton, ErrorBanner, Field, type InputEvent, LoadError, useAction, useLoad, inputValue } from '../components/ui.tsx';
import { useCanWrite } from '../session.ts';

interface ResourceServer {
  identifier: string;
  name: string;
  scopes: string[];
  access_token_ttl: number | null;
}

export function ResourceServers() {
  const canWrite = useCanWrite();
  const { data, error, loading, reload } = useLoad(() => api.get<ResourceServer[]>('/resource-servers'), []);
  const [form, setForm] = useState({ identifier: '', name: '', scopes: '', access_token_ttl: '' });
  const action = useAction();
  if (error) return <LoadError error={error} retry={reload} />;
  if (loading || !data) return <Busy />;
  const create = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      await api.post('/resource-servers', {
        identifier: form.identifier,
        name: form.name,
        scopes: form.scopes.split(/[\s,]+/).filter(Boolean),
        ...(form.access_token_ttl ? { access_token_ttl: Number(form.access_token_ttl) } : {}),
      });
      setForm({ identifier: '', name: '', scopes: '', access_token_ttl: '' });
      reload();
    });
  };
  return (
    <section>
      <h1>Resource servers</h1>
      <table>
        <thead>
          <tr>
            <th scope="col">Identifier</th>
            <th scope="col">Name</th>
            <th scope="col">Scopes</th>
            <th scope="col">Token lifetime</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {data.map((server) => (
            <tr key={server.identifier}>
              <td>
                <code>{server.identifier}</code>
              </td>
              <td>{server.name}</td>
              <td>{server.scopes.join(' ')}</td>
              <td>{server.access_token_ttl ?? 'default'}</td>
              <td>
                {canWrite && (
                  <ConfirmButton
                    label="Delete"
                    question={`Delete ${server.identifier}? Applications stop getting tokens for it.`}
                    onConfirm={() =>
                      action.run(async () => {
                        await api.del(`/resource-servers/${encodeURIComponent(server.identifier)}`);
                        reload();
                      })
                    }
                  />
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {canWrite && (
        <form class="panel" onSubmit={create} aria-labelledby="new-rs" aria-busy={action.busy}>
          <h2 id="new-rs">New resource server</h2>
          <div class="grid">
            <Field label="Identifier (URL)" name="identifier" error={action.error}>
              {(props) => <input {...props} required value={form.identifier} onInput={(e: InputEvent) => setForm({ ...form, identifier: inputValue(e) })} />}
            </Field>
            <Field label="Name" name="name" error={action.error}>
              {(props) => <input {...props} required value={form.name} onInput={(e: InputEvent) => setForm({ ...form, name: inputValue(e) })} />}
            </Field>
            <Field label="Scopes (space-separated)" name="scopes" error={action.error}>
              {(props) => <input {...props} value={form.scopes} onInput={(e: InputEvent) => setForm({ ...form, scopes: inputValue(e) })} />}
            </Field>
            <Field label="Access token lifetime (seconds)" name="access_token_ttl" error={action.error}>
              {(props) => <input {...props} type="number" value={form.access_token_ttl} onInput={(e: InputEvent) => setForm({ ...form, access_token_ttl: inputValue(e) })} />}
            </Field>
          </div>
          <ErrorBanner error={action.error} fields={['identifier', 'name', 'scopes', 'access_token_ttl']} />
          <button type="submit" class="primary" disabled={action.busy}>
            {action.busy ? 'Creating…' : 'Create'}
          </button>
        </form>
      )}
    </section>
  );
}
