// Users: search by email, username, name or id; one user's profile (edit), status (disable, enable),
// sign-out everywhere, second factors, deletion; registrations and groups (user-access.tsx); the
// applications, consents, hook runs and webhook events of the user (user-activity.tsx).
import { useLocation, useRoute } from 'preact-iso';
import { useEffect, useState } from 'preact/hooks';
import { api, type User } from '../api.ts';
import { Badge, Busy, ConfirmButton, ErrorBanner, Field, type InputEvent, LoadError, useAction, useLoad, inputValue } from '../components/ui.tsx';
import { useCanWrite } from '../session.ts';
import { UserAccess } from './user-access.tsx';
import { UserActivity } from './user-activity.tsx';

export function Users() {
  const initial = new URLSearchParams(window.location.search).get('q') ?? '';
  const [query, setQuery] = useState(initial);
  const [search, setSearch] = useState(initial);
  const { data, error, loading, reload } = useLoad(() => api.get<User[]>(`/users?limit=50${search ? `&q=${encodeURIComponent(search)}` : ''}`), [search]);
  return (
    <section>
      <h1>Users</h1>
      <form
        aria-label="Search users"
        class="search"
        onSubmit={(e) => {
          e.preventDefault();
          setSearch(query.trim());
        }}
      >
        <label for="user-search">Email, username, name or id</label>
        <input id="user-search" type="search" value={query} onInput={(e: InputEvent) => setQuery(inputValue(e))} />
        <button type="submit" class="primary">
          Search
        </button>
      </form>
      {error && <LoadError error={error} retry={reload} />}
      {loading && <Busy label="Searching…" />}
      {data && data.length === 0 && <p class="empty">No user matches.</p>}
      {data && data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Email</th>
              <th scope="col">Name</th>
              <th scope="col">Username</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {data.map((user) => (
              <tr key={user.id}>
                <td>
                  <a href={`/admin/users/${user.id}`}>{user.email}</a>
                </td>
                <td>{[user.given_name, user.family_name].filter(Boolean).join(' ')}</td>
                <td>{user.username ?? ''}</td>
                <td>
                  <Badge tone={user.status === 'active' ? 'good' : 'off'}>{user.status}</Badge>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

interface Factor {
  id: string;
  type: string;
  status: string;
  target: string | null;
  created_at: string;
  /** A passkey's details (type "passkey"). */
  passkey?: { name: string; device_type: string; last_used_at: string | null };
}

export function UserDetail() {
  const { params } = useRoute();
  const location = useLocation();
  const canWrite = useCanWrite();
  const id = params.id!;
  const { data, error, loading, reload } = useLoad(() => Promise.all([api.get<User>(`/users/${id}`), api.get<Factor[]>(`/users/${id}/factors`)]), [id]);
  const [form, setForm] = useState({ given_name: '', family_name: '', username: '', phone_number: '' });
  const [notice, setNotice] = useState<string | null>(null);
  const action = useAction();
  useEffect(() => {
    if (data) {
      const [user] = data;
      setForm({ given_name: user.given_name ?? '', family_name: user.family_name ?? '', username: user.username ?? '', phone_number: user.phone_number ?? '' });
    }
  }, [data]);
  if (error) return <LoadError error={error} retry={reload} />;
  if (loading || !data) return <Busy />;
  const [user, factors] = data;
  const act = (message: string, work: () => Promise<unknown>) =>
    action.run(async () => {
      setNotice(null);
      await work();
      setNotice(message);
      reload();
    });
  const save = (event: Event) => {
    event.preventDefault();
    void act('Saved.', () =>
      api.patch(`/users/${id}`, {
        given_name: form.given_name || null,
        family_name: form.family_name || null,
        username: form.username || null,
        phone_number: form.phone_number || null,
      }),
    );
  };
  return (
    <section>
      <div class="page-head">
        <h1>{user.email}</h1>
        <Badge tone={user.status === 'active' ? 'good' : 'off'}>
          <span data-testid="user-status">{user.status}</span>
        </Badge>
      </div>
      <p>
        <a href="/admin/users">← Users</a>
      </p>
      {notice && (
        <p class="banner good" role="status">
          {notice}
        </p>
      )}
      <dl class="facts">
        <dt>Id</dt>
        <dd>
          <code>{user.id}</code>
        </dd>
        <dt>Email verified</dt>
        <dd>{user.email_verified ? 'yes' : 'no'}</dd>
        <dt>Created</dt>
        <dd>{new Date(user.created_at).toLocaleString()}</dd>
        <dt>Last login</dt>
        <dd>{user.last_login_at ? new Date(user.last_login_at).toLocaleString() : 'never'}</dd>
      </dl>
      {canWrite && (
        <div class="actions">
          {user.status === 'disabled' ? (
            <button type="button" onClick={() => void act('The user is enabled.', () => api.post(`/users/${id}/enable`))} disabled={action.busy}>
              Enable user
            </button>
          ) : (
            <ConfirmButton
              label="Disable user"
              question={`Disable ${user.email}? They are signed out and cannot sign in.`}
              onConfirm={() => act('The user is disabled.', () => api.post(`/users/${id}/disable`))}
            />
          )}
          <ConfirmButton
            label="Sign out everywhere"
            question={`Sign ${user.email} out of every session and application?`}
            onConfirm={() => act('Signed out everywhere.', () => api.del(`/users/${id}/sessions`))}
          />
          <ConfirmButton
            label="Delete user"
            question={`Delete ${user.email} for good?`}
            onConfirm={() =>
              action.run(async () => {
                await api.del(`/users/${id}`);
                location.route('/admin/users');
              })
            }
          />
        </div>
      )}
      <form class="panel" onSubmit={save} aria-busy={action.busy}>
        <h2>Profile</h2>
        <fieldset disabled={!canWrite}>
          <div class="grid">
            {(['given_name', 'family_name', 'username', 'phone_number'] as const).map((name) => (
              <Field key={name} label={name.replace('_', ' ')} name={name} error={action.error}>
                {(props) => <input {...props} value={form[name]} onInput={(e: InputEvent) => setForm({ ...form, [name]: inputValue(e) })} />}
              </Field>
            ))}
          </div>
        </fieldset>
        <ErrorBanner error={action.error} fields={['given_name', 'family_name', 'username', 'phone_number']} />
        {canWrite && (
          <button type="submit" class="primary" disabled={action.busy}>
            Save profile
          </button>
        )}
      </form>
      <section class="panel" aria-labelledby="factors">
        <h2 id="factors">Second factors</h2>
        {factors.length === 0 ? (
          <p class="empty">None enrolled.</p>
        ) : (
          <ul class="plain">
            {factors.map((factor) => (
              <li key={factor.id}>
                <Badge>{factor.type}</Badge> {factor.target ?? factor.passkey?.name ?? ''} {factor.status}{' '}
                {canWrite && (
                  <ConfirmButton label="Remove" question={`Remove this ${factor.type} factor?`} onConfirm={() => act('Factor removed.', () => api.del(`/users/${id}/factors/${factor.id}`))} />
                )}
              </li>
            ))}
          </ul>
        )}
      </section>
      <UserAccess userId={id} canWrite={canWrite} />
      <UserActivity userId={id} canWrite={canWrite} />
    </section>
  );
}
