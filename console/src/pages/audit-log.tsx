// The audit log: every change made through the admin API or the console, newest first, with who made
// it (the API key or a console admin), the route, the target, and the target before and after
// (secrets redacted by the server); filtered by actor, target or action; fifty at a time.
import { useState } from 'preact/hooks';
import { api, type AuditEntry } from '../api.ts';
import { Badge, Busy, Field, type InputEvent, Json, LoadError, useLoad, inputValue } from '../components/ui.tsx';

const PAGE = 50;
const FILTERS = ['actor', 'target', 'action'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;
const EMPTY: Filters = { actor: '', target: '', action: '' };

function actorLabel(entry: AuditEntry): string {
  return entry.actor.startsWith('console:') ? `console admin ${entry.actor.slice('console:'.length)}` : entry.actor;
}

export function AuditLog() {
  const [form, setForm] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [offset, setOffset] = useState(0);
  const query = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
  for (const name of FILTERS) if (filters[name]) query.set(name, filters[name]);
  const { data, error, loading, reload } = useLoad(() => api.get<AuditEntry[]>(`/audit-log?${query}`), [query.toString()]);
  return (
    <section>
      <h1>Audit log</h1>
      <p class="lead">Every change made through the admin API or this console. Secrets are never recorded.</p>
      <form
        class="panel"
        aria-label="Filter the audit log"
        onSubmit={(e) => {
          e.preventDefault();
          setOffset(0);
          setFilters({ actor: form.actor.trim(), target: form.target.trim(), action: form.action.trim() });
        }}
      >
        <div class="grid">
          <Field label="Actor (admin-key, or console:<user id>)" name="actor" error={error}>
            {(props) => <input {...props} value={form.actor} onInput={(e: InputEvent) => setForm({ ...form, actor: inputValue(e) })} />}
          </Field>
          <Field label="Target id" name="target" error={error}>
            {(props) => <input {...props} value={form.target} onInput={(e: InputEvent) => setForm({ ...form, target: inputValue(e) })} />}
          </Field>
          <Field label="Action (e.g. PATCH /hooks/:id)" name="action" error={error}>
            {(props) => <input {...props} value={form.action} onInput={(e: InputEvent) => setForm({ ...form, action: inputValue(e) })} />}
          </Field>
        </div>
        <div class="actions">
          <button type="submit" class="primary">
            Filter
          </button>
          <button
            type="button"
            onClick={() => {
              setForm(EMPTY);
              setFilters(EMPTY);
              setOffset(0);
            }}
          >
            Clear
          </button>
        </div>
      </form>
      {error && <LoadError error={error} retry={reload} />}
      {loading && <Busy />}
      {data && data.length === 0 && <p class="empty">No entry{offset ? ' on this page' : ''}.</p>}
      {data && data.length > 0 && (
        <table data-testid="audit-log">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Status</th>
              <th scope="col">Before and after</th>
            </tr>
          </thead>
          <tbody>
            {data.map((entry) => (
              <tr key={entry.id}>
                <td>{new Date(entry.created_at).toLocaleString()}</td>
                <td>
                  {actorLabel(entry)} {entry.actor_role && <Badge>{entry.actor_role}</Badge>}
                  {entry.address && <div class="hint">{entry.address}</div>}
                </td>
                <td>
                  <code>{entry.action}</code>
                </td>
                <td>
                  {entry.target.type} <code>{entry.target.id ?? ''}</code>
                </td>
                <td>
                  <Badge tone={entry.status < 300 ? 'good' : 'bad'}>{entry.status}</Badge>
                </td>
                <td>
                  <details>
                    <summary>Show</summary>
                    <Json value={{ before: entry.before, after: entry.after }} />
                  </details>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="actions">
        <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
          Newer
        </button>
        <button type="button" disabled={!data || data.length < PAGE} onClick={() => setOffset(offset + PAGE)}>
          Older
        </button>
      </div>
    </section>
  );
}
