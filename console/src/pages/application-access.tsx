// An application's access settings: the roles it declares (name, description, given by default to new
// registrations), whether the hosted pages let people sign up (registration open or closed), and who
// sends each transactional message (Tessera, or the brand through the message.* webhooks). One PATCH
// of {roles, registration, message_delivery}; a refusal shows next to the field it names (a role still
// held by users or groups is a 409 on `roles`).
import { useEffect, useId, useState } from 'preact/hooks';
import { api, type Application, type RoleDefinition, type Sender } from '../api.ts';
import { ErrorBanner, Field, FieldMessage, fieldError, type InputEvent, inputValue, Notice, TableHead, useAction } from '../components/ui.tsx';

const MESSAGES: Array<[string, string]> = [
  ['activation', 'Activation link'],
  ['activation.resend', 'Activation link, sent again'],
  ['password_reset', 'Password reset'],
  ['username', 'Forgotten username'],
  ['invitation', 'Invitation'],
  ['email_change', 'New address confirmation'],
];
const FIELDS = ['roles', 'registration', 'message_delivery'];

interface RoleRow {
  name: string;
  description: string;
  default: boolean;
}

export function ApplicationAccess({ app: loaded, canWrite }: { app: Application; canWrite: boolean }) {
  const [app, setApp] = useState(loaded);
  useEffect(() => setApp(loaded), [loaded]);
  const [roles, setRoles] = useState<RoleRow[]>([]);
  const [registration, setRegistration] = useState<Application['registration']>('open');
  const [delivery, setDelivery] = useState<Record<string, Sender | ''>>({});
  const [saved, setSaved] = useState(false);
  const action = useAction();
  const rolesId = useId();
  useEffect(() => {
    setRoles((app.roles ?? []).map((role: RoleDefinition) => ({ name: role.name, description: role.description ?? '', default: role.default === true })));
    setRegistration(app.registration ?? 'open');
    setDelivery({ ...(app.message_delivery ?? {}) } as Record<string, Sender>);
  }, [app]);
  const setRole = (index: number, change: Partial<RoleRow>) => setRoles(roles.map((role, i) => (i === index ? { ...role, ...change } : role)));
  const save = (event: Event) => {
    event.preventDefault();
    setSaved(false);
    void action.run(async () => {
      const message_delivery = Object.fromEntries(Object.entries(delivery).filter(([, sender]) => sender));
      const answer = await api.patch<Application>(`/applications/${encodeURIComponent(app.client_id)}`, {
        roles: roles.map((role) => ({ name: role.name.trim(), ...(role.description.trim() ? { description: role.description.trim() } : {}), default: role.default })),
        registration,
        message_delivery,
      });
      setApp(answer);
      setSaved(true);
    });
  };
  const rolesError = fieldError(action.error, 'roles');
  return (
    <form class="panel" onSubmit={save} aria-labelledby="app-access" aria-busy={action.busy} data-testid="application-access">
      <h2 id="app-access">Roles, sign-up and messages</h2>
      <Notice text={saved ? 'Roles, sign-up and messages saved.' : null} />
      <fieldset disabled={!canWrite} aria-describedby={rolesError ? `${rolesId}-error` : undefined}>
        <legend>Roles</legend>
        <p class="hint">Registrations and groups hold these; tokens asked with the scope roles carry them. Default roles go to every new registration that names none.</p>
        {roles.length === 0 ? (
          <p class="empty">This application declares no role.</p>
        ) : (
          <table data-testid="application-roles">
            <TableHead columns={['Name', 'Description', 'Default']} actions={canWrite} />
            <tbody>
              {roles.map((role, index) => (
                <tr key={index}>
                  <td>
                    <input aria-label={`Role ${index + 1} name`} required value={role.name} aria-invalid={Boolean(rolesError)} onInput={(e: InputEvent) => setRole(index, { name: inputValue(e) })} />
                  </td>
                  <td>
                    <input aria-label={`Role ${index + 1} description`} value={role.description} onInput={(e: InputEvent) => setRole(index, { description: inputValue(e) })} />
                  </td>
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`Role ${index + 1} is given by default`}
                      checked={role.default}
                      onChange={(e) => setRole(index, { default: (e.currentTarget as HTMLInputElement).checked })}
                    />
                  </td>
                  {canWrite && (
                    <td>
                      <button type="button" onClick={() => setRoles(roles.filter((_, i) => i !== index))}>
                        Remove role {role.name || index + 1}
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <FieldMessage error={action.error} field="roles" id={`${rolesId}-error`} />
        {canWrite && (
          <button type="button" onClick={() => setRoles([...roles, { name: '', description: '', default: false }])}>
            Add a role
          </button>
        )}
      </fieldset>
      <fieldset disabled={!canWrite}>
        <legend>Sign-up and messages</legend>
        <Field label="Self-service sign-up" name="registration" error={action.error} hint="Closed: the hosted pages offer no sign-up; invitations and the admin API still register users.">
          {(props) => (
            <select {...props} value={registration} onChange={(e: InputEvent) => setRegistration(inputValue(e) as Application['registration'])}>
              <option value="open">open</option>
              <option value="closed">closed</option>
            </select>
          )}
        </Field>
        <div class="grid">
          {MESSAGES.map(([key, label]) => (
            <Field key={key} label={`${label}: sent by`} name={`message_delivery.${key}`} error={action.error}>
              {(props) => (
                <select {...props} value={delivery[key] ?? ''} onChange={(e: InputEvent) => setDelivery({ ...delivery, [key]: inputValue(e) as Sender | '' })}>
                  <option value="">{key === 'activation.resend' ? 'as the activation link' : 'Tessera (default)'}</option>
                  <option value="tessera">Tessera</option>
                  <option value="brand">the brand (message.* webhook)</option>
                </select>
              )}
            </Field>
          ))}
        </div>
        <FieldMessage error={action.error} field="message_delivery" />
      </fieldset>
      <ErrorBanner error={action.error} fields={FIELDS} />
      {canWrite && (
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? 'Saving…' : 'Save roles, sign-up and messages'}
        </button>
      )}
    </form>
  );
}
