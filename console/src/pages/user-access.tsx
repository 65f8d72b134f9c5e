// A user's access on the user page: the applications the user is registered with (the roles held
// there, verified or not; register with another, change the roles, remove after a confirmation) and the
// groups the user is a member of (with the member's data).
import { useId, useState } from 'preact/hooks';
import { type Application, api, type Registration, type UserGroup } from '../api.ts';
import { Badge, ConfirmButton, ErrorBanner, FieldMessage, fieldError, type InputEvent, inputValue, LoadedPanel, Notice, TableHead, useAction, useLoad } from '../components/ui.tsx';

function RoleChecks({ app, held, onChange, disabled, label }: { app: Application | undefined; held: string[]; onChange: (roles: string[]) => void; disabled: boolean; label: string }) {
  const declared = app?.roles ?? [];
  if (declared.length === 0) return <span class="hint">no role declared</span>;
  return (
    <fieldset class="inline" disabled={disabled}>
      <legend class="sr-only">{label}</legend>
      {declared.map((role) => (
        <label key={role.name} class="check">
          <input
            type="checkbox"
            checked={held.includes(role.name)}
            onChange={(e) => onChange((e.currentTarget as HTMLInputElement).checked ? [...held, role.name] : held.filter((r) => r !== role.name))}
          />{' '}
          {role.name}
        </label>
      ))}
    </fieldset>
  );
}

function RegistrationRow({
  userId,
  registration,
  app,
  canWrite,
  onChanged,
}: {
  userId: string;
  registration: Registration;
  app: Application | undefined;
  canWrite: boolean;
  onChanged: (notice: string) => void;
}) {
  const [roles, setRoles] = useState(registration.roles);
  const action = useAction();
  const name = app?.name ?? registration.application;
  const path = `/users/${userId}/registrations/${encodeURIComponent(registration.application)}`;
  const changed = roles.slice().sort().join(' ') !== registration.roles.slice().sort().join(' ');
  return (
    <tr data-application={registration.application}>
      <td>
        <a href={`/admin/applications/${encodeURIComponent(registration.application)}`}>{name}</a>
      </td>
      <td>
        {canWrite ? <RoleChecks app={app} held={roles} onChange={setRoles} disabled={action.busy} label={`Roles in ${name}`} /> : roles.map((role) => <Badge key={role}>{role}</Badge>)}
        {!canWrite && roles.length === 0 && <span class="hint">none</span>}
        <FieldMessage error={action.error} field="roles" />
        <ErrorBanner error={action.error} fields={['roles']} />
      </td>
      <td>
        <Badge tone={registration.verified ? 'good' : 'off'}>{registration.verified ? 'verified' : 'not verified'}</Badge>
      </td>
      {canWrite && (
        <td>
          <div class="row">
            <button type="button" disabled={action.busy || !changed} onClick={() => void action.run(() => api.patch(path, { roles }).then(() => onChanged(`Roles in ${name} saved.`)))}>
              Save roles in {name}
            </button>
            {!registration.verified && (
              <button type="button" disabled={action.busy} onClick={() => void action.run(() => api.patch(path, { verified: true }).then(() => onChanged(`Registration with ${name} verified.`)))}>
                Mark verified
              </button>
            )}
            <ConfirmButton
              label={`Remove registration with ${name}`}
              question={`Remove the registration with ${name}? The user loses its roles there (a group's roles stay).`}
              confirm="Remove registration"
              onConfirm={() => action.run(() => api.del(path).then(() => onChanged(`Registration with ${name} removed.`)))}
            />
          </div>
        </td>
      )}
    </tr>
  );
}

function Registrations({ userId, canWrite }: { userId: string; canWrite: boolean }) {
  const load = useLoad(() => Promise.all([api.get<Registration[]>(`/users/${userId}/registrations`), api.get<Application[]>('/applications')]), [userId]);
  const { data, reload } = load;
  const [notice, setNotice] = useState<string | null>(null);
  const [form, setForm] = useState<{ application: string; roles: string[]; verified: boolean }>({ application: '', roles: [], verified: true });
  const action = useAction();
  const pickId = useId();
  const apps = new Map((data?.[1] ?? []).map((app) => [app.client_id, app]));
  const registered = new Set((data?.[0] ?? []).map((r) => r.application));
  const changed = (message: string) => {
    setNotice(message);
    reload();
  };
  const register = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      await api.post(`/users/${userId}/registrations`, { application: form.application, roles: form.roles, verified: form.verified });
      setForm({ application: '', roles: [], verified: true });
      changed(`Registered with ${apps.get(form.application)?.name ?? form.application}.`);
    });
  };
  return (
    <LoadedPanel id="user-registrations" title="Registrations" load={load}>
      <Notice text={notice} />
      {data && data[0].length === 0 && <p class="empty">The user is registered with no application.</p>}
      {data && data[0].length > 0 && (
        <table data-testid="user-registrations">
          <TableHead columns={['Application', 'Roles', 'Verified']} actions={canWrite} />
          <tbody>
            {data[0].map((registration) => (
              <RegistrationRow
                key={`${registration.application} ${registration.updated_at}`}
                userId={userId}
                registration={registration}
                app={apps.get(registration.application)}
                canWrite={canWrite}
                onChanged={changed}
              />
            ))}
          </tbody>
        </table>
      )}
      {canWrite && data && data[1].every((app) => registered.has(app.client_id)) && <p class="hint">Registered with every application.</p>}
      {canWrite && data && data[1].some((app) => !registered.has(app.client_id)) && (
        <form class="row" onSubmit={register} aria-label="Register with an application" aria-busy={action.busy}>
          <label for={pickId}>Register with</label>
          <select
            id={pickId}
            value={form.application}
            aria-invalid={Boolean(fieldError(action.error, 'application'))}
            onChange={(e: InputEvent) => setForm({ ...form, application: inputValue(e), roles: [] })}
          >
            <option value="">choose an application</option>
            {data[1]
              .filter((app) => !registered.has(app.client_id))
              .map((app) => (
                <option key={app.client_id} value={app.client_id}>
                  {app.name}
                </option>
              ))}
          </select>
          {form.application && (
            <RoleChecks app={apps.get(form.application)} held={form.roles} onChange={(roles) => setForm({ ...form, roles })} disabled={action.busy} label="Roles of the new registration" />
          )}
          <label class="check">
            <input type="checkbox" checked={form.verified} onChange={(e) => setForm({ ...form, verified: (e.currentTarget as HTMLInputElement).checked })} /> verified
          </label>
          <button type="submit" class="primary" disabled={action.busy || !form.application}>
            Register
          </button>
        </form>
      )}
      <FieldMessage error={action.error} field="application" />
      <FieldMessage error={action.error} field="roles" />
      <ErrorBanner error={action.error} fields={['application', 'roles']} />
    </LoadedPanel>
  );
}

function Groups({ userId }: { userId: string }) {
  const load = useLoad(() => api.get<UserGroup[]>(`/users/${userId}/groups`), [userId]);
  const { data } = load;
  return (
    <LoadedPanel id="user-groups" title="Groups" load={load}>
      {data && data.length === 0 && <p class="empty">The user is in no group.</p>}
      {data && data.length > 0 && (
        <ul class="plain" data-testid="user-groups">
          {data.map((group) => (
            <li key={group.id}>
              <a href={`/admin/groups/${group.id}`}>{group.name}</a> <span class="hint">since {new Date(group.joined_at).toLocaleString()}</span>{' '}
              {Object.keys(group.data).length > 0 && <code>{JSON.stringify(group.data)}</code>}
            </li>
          ))}
        </ul>
      )}
    </LoadedPanel>
  );
}

export function UserAccess({ userId, canWrite }: { userId: string; canWrite: boolean }) {
  return (
    <>
      <Registrations userId={userId} canWrite={canWrite} />
      <Groups userId={userId} />
    </>
  );
}
