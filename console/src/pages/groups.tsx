// Groups: the list (with member counts) and a new group; one group's name, description and roles per
// application (pick the application, then its roles), deletion; its members: add by an email search,
// remove, and change a member's data (a JSON object).
import { useLocation, useRoute } from 'preact-iso';
import { useEffect, useId, useState } from 'preact/hooks';
import { ApiError, type Application, api, type Group, type GroupMember, type User } from '../api.ts';
import {
  Badge,
  Busy,
  ConfirmButton,
  ErrorBanner,
  Field,
  FieldMessage,
  fieldError,
  type InputEvent,
  inputValue,
  LoadedPanel,
  LoadError,
  Notice,
  TableHead,
  useAction,
  useLoad,
} from '../components/ui.tsx';
import { useCanWrite } from '../session.ts';

export function Groups() {
  const canWrite = useCanWrite();
  const location = useLocation();
  const load = useLoad(() => Promise.all([api.get<Group[]>('/groups?limit=500'), api.get<Application[]>('/applications')]), []);
  const [form, setForm] = useState({ name: '', description: '' });
  const action = useAction();
  if (load.error) return <LoadError error={load.error} retry={load.reload} />;
  if (load.loading || !load.data) return <Busy />;
  const [data, apps] = load.data;
  const names = new Map(apps.map((app) => [app.client_id, app.name]));
  const create = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      const group = await api.post<Group>('/groups', { name: form.name, ...(form.description ? { description: form.description } : {}) });
      location.route(`/admin/groups/${group.id}`);
    });
  };
  return (
    <section>
      <h1>Groups</h1>
      <p class="lead">Every member of a group holds its roles in the applications it names.</p>
      {data.length === 0 ? (
        <p class="empty">No group yet.</p>
      ) : (
        <table data-testid="groups">
          <TableHead columns={['Name', 'Description', 'Roles', 'Members']} />
          <tbody>
            {data.map((group) => (
              <tr key={group.id}>
                <td>
                  <a href={`/admin/groups/${group.id}`}>{group.name}</a>
                </td>
                <td>{group.description ?? ''}</td>
                <td>
                  <RoleList roles={group.roles} names={names} />
                </td>
                <td>{group.member_count ?? 0}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canWrite && (
        <form class="panel" onSubmit={create} aria-labelledby="new-group" aria-busy={action.busy}>
          <h2 id="new-group">New group</h2>
          <NameFields form={form} setForm={setForm} error={action.error} />
          <ErrorBanner error={action.error} fields={['name', 'description']} />
          <button type="submit" class="primary" disabled={action.busy}>
            {action.busy ? 'Creating…' : 'Create group'}
          </button>
        </form>
      )}
    </section>
  );
}

/** A group's name and description, with the API's message next to the one it names. */
function NameFields<T extends { name: string; description: string }>({ form, setForm, error }: { form: T; setForm: (form: T) => void; error: Error | null }) {
  return (
    <>
      <Field label="Name" name="name" error={error}>
        {(props) => <input {...props} required value={form.name} onInput={(e: InputEvent) => setForm({ ...form, name: inputValue(e) })} />}
      </Field>
      <Field label="Description" name="description" error={error}>
        {(props) => <input {...props} value={form.description} onInput={(e: InputEvent) => setForm({ ...form, description: inputValue(e) })} />}
      </Field>
    </>
  );
}

/** {client_id: [role]} as "Notes: editor admin" (the application's name, its client id when unknown). */
function RoleList({ roles, names }: { roles: Record<string, string[]>; names: Map<string, string> }) {
  const entries = Object.entries(roles).filter(([, names]) => names.length > 0);
  if (entries.length === 0) return <span class="hint">none</span>;
  return (
    <>
      {entries.map(([clientId, held]) => (
        <div key={clientId}>
          {names.get(clientId) ?? <code>{clientId}</code>}:{' '}
          {held.map((name) => (
            <Badge key={name}>{name}</Badge>
          ))}
        </div>
      ))}
    </>
  );
}

/** Roles per application: each application the map names with a checkbox per role it declares; another application added from a list. */
function GroupRolesEditor({ roles, setRoles, apps, disabled }: { roles: Record<string, string[]>; setRoles: (r: Record<string, string[]>) => void; apps: Application[]; disabled: boolean }) {
  const [adding, setAdding] = useState('');
  const pickId = useId();
  const names = new Map(apps.map((app) => [app.client_id, app]));
  const others = apps.filter((app) => !(app.client_id in roles));
  const toggle = (clientId: string, role: string, on: boolean) => {
    const held = roles[clientId] ?? [];
    setRoles({ ...roles, [clientId]: on ? [...held, role] : held.filter((r) => r !== role) });
  };
  return (
    <div data-testid="group-roles">
      {Object.keys(roles).length === 0 && <p class="empty">The group holds no role.</p>}
      {Object.entries(roles).map(([clientId, held]) => {
        const app = names.get(clientId);
        return (
          <fieldset key={clientId}>
            <legend>
              {app?.name ?? clientId} <code>{clientId}</code>
            </legend>
            {(app?.roles ?? []).length === 0 && <p class="hint">This application declares no role.</p>}
            {(app?.roles ?? []).map((role) => (
              <label key={role.name} class="check">
                <input type="checkbox" disabled={disabled} checked={held.includes(role.name)} onChange={(e) => toggle(clientId, role.name, (e.currentTarget as HTMLInputElement).checked)} />{' '}
                {role.name}
                {role.description ? <span class="hint"> {role.description}</span> : null}
              </label>
            ))}
            {!disabled && (
              <button
                type="button"
                onClick={() => {
                  const { [clientId]: _, ...rest } = roles;
                  setRoles(rest);
                }}
              >
                Take {app?.name ?? clientId} off
              </button>
            )}
          </fieldset>
        );
      })}
      {!disabled && others.length > 0 && (
        <div class="row">
          <label for={pickId}>Application</label>
          <select id={pickId} value={adding} onChange={(e: InputEvent) => setAdding(inputValue(e))}>
            <option value="">choose an application</option>
            {others.map((app) => (
              <option key={app.client_id} value={app.client_id}>
                {app.name}
              </option>
            ))}
          </select>
          <button
            type="button"
            disabled={!adding}
            onClick={() => {
              setRoles({ ...roles, [adding]: [] });
              setAdding('');
            }}
          >
            Add its roles
          </button>
        </div>
      )}
    </div>
  );
}

export function GroupDetail() {
  const { params } = useRoute();
  const location = useLocation();
  const canWrite = useCanWrite();
  const id = params.id!;
  const { data, error, loading, reload } = useLoad(() => Promise.all([api.get<Group>(`/groups/${id}`), api.get<Application[]>('/applications')]), [id]);
  const [form, setForm] = useState<{ name: string; description: string; roles: Record<string, string[]> } | null>(null);
  const [saved, setSaved] = useState(false);
  const action = useAction();
  useEffect(() => {
    if (data) setForm({ name: data[0].name, description: data[0].description ?? '', roles: data[0].roles });
  }, [data]);
  if (error) return <LoadError error={error} retry={reload} />;
  if (!data || !form) return <Busy />;
  const [group, apps] = data;
  const save = (event: Event) => {
    event.preventDefault();
    setSaved(false);
    void action.run(async () => {
      const roles = Object.fromEntries(Object.entries(form.roles).filter(([, held]) => held.length > 0));
      await api.patch(`/groups/${id}`, { name: form.name, description: form.description || null, roles });
      setSaved(true);
      reload();
    });
  };
  return (
    <section>
      <div class="page-head">
        <h1>{group.name}</h1>
        {loading && <Busy label="Refreshing…" />}
      </div>
      <p>
        <a href="/admin/groups">← Groups</a>
      </p>
      <Notice text={saved ? 'Group saved.' : null} />
      <form class="panel" onSubmit={save} aria-labelledby="group-settings" aria-busy={action.busy}>
        <h2 id="group-settings">Settings</h2>
        <fieldset disabled={!canWrite}>
          <NameFields form={form} setForm={setForm} error={action.error} />
        </fieldset>
        <h3>Roles per application</h3>
        <GroupRolesEditor roles={form.roles} setRoles={(roles) => setForm({ ...form, roles })} apps={apps} disabled={!canWrite} />
        <FieldMessage error={action.error} field="roles" />
        <ErrorBanner error={action.error} fields={['name', 'description', 'roles']} />
        {canWrite && (
          <div class="actions">
            <button type="submit" class="primary" disabled={action.busy}>
              {action.busy ? 'Saving…' : 'Save group'}
            </button>
            <ConfirmButton
              label="Delete group"
              question={`Delete ${group.name}? Its ${group.member_count ?? 0} members lose its roles.`}
              onConfirm={() =>
                action.run(async () => {
                  await api.del(`/groups/${id}`);
                  location.route('/admin/groups');
                })
              }
            />
          </div>
        )}
      </form>
      <Members groupId={id} canWrite={canWrite} />
    </section>
  );
}

function MemberData({ groupId, member, canWrite, onSaved }: { groupId: string; member: GroupMember; canWrite: boolean; onSaved: () => void }) {
  const [text, setText] = useState(JSON.stringify(member.data, null, 2));
  const action = useAction();
  const save = () =>
    action.run(async () => {
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch (caught) {
        throw new ApiError(400, 'invalid_request', `data: is not JSON (${(caught as Error).message})`);
      }
      await api.put(`/groups/${groupId}/members/${member.user_id}`, { data });
      onSaved();
    });
  const error = fieldError(action.error, 'data');
  return (
    <div class="member-data">
      <Field label={`Data of ${member.email ?? member.user_id} (JSON)`} name="data-text" error={null}>
        {(props) => <textarea {...props} rows={2} readOnly={!canWrite} value={text} aria-invalid={Boolean(error)} onInput={(e: InputEvent) => setText(inputValue(e))} />}
      </Field>
      <FieldMessage error={action.error} field="data" />
      <ErrorBanner error={action.error} fields={['data']} />
      {canWrite && (
        <button type="button" disabled={action.busy} onClick={() => void save()}>
          Save data of {member.email ?? member.user_id}
        </button>
      )}
    </div>
  );
}

function Members({ groupId, canWrite }: { groupId: string; canWrite: boolean }) {
  const members = useLoad(() => api.get<GroupMember[]>(`/groups/${groupId}/members?limit=500`), [groupId]);
  const { data, reload } = members;
  const [query, setQuery] = useState('');
  const [found, setFound] = useState<User[] | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const action = useAction();
  const searchId = useId();
  const held = new Set((data ?? []).map((member) => member.user_id));
  const search = (event: Event) => {
    event.preventDefault();
    void action.run(async () => setFound(await api.get<User[]>(`/users?limit=20&q=${encodeURIComponent(query.trim())}`)));
  };
  const change = (message: string, work: () => Promise<unknown>) =>
    action.run(async () => {
      setNotice(null);
      await work();
      setNotice(message);
      reload();
    });
  return (
    <LoadedPanel id="group-members" title="Members" load={members}>
      <Notice text={notice} />
      <ErrorBanner error={action.error} />
      {data && data.length === 0 && <p class="empty">The group has no member.</p>}
      {data && data.length > 0 && (
        <table data-testid="group-members">
          <TableHead columns={['Member', 'Data', 'Since']} actions={canWrite} />
          <tbody>
            {data.map((member) => (
              <tr key={member.user_id}>
                <td>
                  <a href={`/admin/users/${member.user_id}`}>{member.email ?? member.user_id}</a>
                </td>
                <td>
                  <MemberData
                    key={member.updated_at}
                    groupId={groupId}
                    member={member}
                    canWrite={canWrite}
                    onSaved={() => {
                      setNotice(`Data of ${member.email ?? member.user_id} saved.`);
                      reload();
                    }}
                  />
                </td>
                <td>{new Date(member.created_at).toLocaleString()}</td>
                {canWrite && (
                  <td>
                    <ConfirmButton
                      label={`Remove ${member.email ?? member.user_id}`}
                      question={`Remove ${member.email ?? member.user_id} from the group? They lose its roles at their next token.`}
                      onConfirm={() => change(`${member.email ?? member.user_id} removed.`, () => api.del(`/groups/${groupId}/members/${member.user_id}`))}
                    />
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canWrite && (
        <form class="search" onSubmit={search} aria-label="Find a user to add">
          <label for={searchId}>Add a member: email, username, name or id</label>
          <input id={searchId} type="search" value={query} onInput={(e: InputEvent) => setQuery(inputValue(e))} />
          <button type="submit" disabled={action.busy || !query.trim()}>
            Find users
          </button>
        </form>
      )}
      {canWrite && found && found.length === 0 && <p class="empty">No user matches.</p>}
      {canWrite && found && found.length > 0 && (
        <ul class="plain" data-testid="member-candidates">
          {found.map((user) => (
            <li key={user.id}>
              {user.email}{' '}
              {held.has(user.id) ? (
                <Badge>member</Badge>
              ) : (
                <button type="button" disabled={action.busy} onClick={() => void change(`${user.email} added.`, () => api.put(`/groups/${groupId}/members/${user.id}`, {}))}>
                  Add {user.email}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </LoadedPanel>
  );
}
