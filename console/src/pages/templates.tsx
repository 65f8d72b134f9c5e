// The template gallery: each template's purpose, event and declared secrets; open one to customise
// its code, fill its secrets and choose its applications, then publish it as a hook.
import { useLocation } from 'preact-iso';
import { useState } from 'preact/hooks';
import { api, type Application, type Hook, type Template } from '../api.ts';
import { Badge, Busy, ErrorBanner, Field, type InputEvent, LoadError, useAction, useLoad, inputValue } from '../components/ui.tsx';
import { useCanWrite } from '../session.ts';

function PublishForm({ template, apps, onClose }: { template: Template; apps: Application[]; onClose(): void }) {
  const location = useLocation();
  const [secrets, setSecrets] = useState<Record<string, string>>({});
  const [code, setCode] = useState(template.code);
  const [scope, setScope] = useState<string[] | null>(null);
  const action = useAction();
  const publish = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      const hook = await api.post<Hook>(`/templates/${template.name}/publish`, {
        secrets: Object.fromEntries(Object.entries(secrets).filter(([, v]) => v !== '')),
        applications: scope,
      });
      // A customised code is saved as the hook's next version.
      if (code !== template.code) await api.patch<Hook>(`/hooks/${hook.id}`, { code });
      location.route(`/admin/hooks/${hook.id}`);
    });
  };
  return (
    <form class="panel" onSubmit={publish} aria-labelledby={`publish-${template.name}`} aria-busy={action.busy}>
      <h2 id={`publish-${template.name}`}>Publish “{template.title}”</h2>
      {template.secrets.length === 0 && <p class="hint">This template needs no secret.</p>}
      {template.secrets.map((name) => (
        <Field key={name} label={`${name}${template.required_secrets.includes(name) ? '' : ' (optional)'}`} name="secrets" error={null}>
          {(props) => (
            <input
              {...props}
              name={`secret-${name}`}
              type="password"
              autocomplete="off"
              required={template.required_secrets.includes(name)}
              value={secrets[name] ?? ''}
              onInput={(e: InputEvent) => setSecrets({ ...secrets, [name]: inputValue(e) })}
            />
          )}
        </Field>
      ))}
      <fieldset class="field">
        <legend>Applications</legend>
        <label class="inline">
          <input type="radio" name={`scope-${template.name}`} checked={scope === null} onChange={() => setScope(null)} /> All applications
        </label>
        <label class="inline">
          <input type="radio" name={`scope-${template.name}`} checked={scope !== null} onChange={() => setScope([])} /> Only these:
        </label>
        {scope !== null &&
          apps.map((app) => (
            <label class="inline indent" key={app.client_id}>
              <input
                type="checkbox"
                checked={scope.includes(app.client_id)}
                onChange={(e: InputEvent) => setScope((e.currentTarget as HTMLInputElement).checked ? [...scope, app.client_id] : scope.filter((c) => c !== app.client_id))}
              />{' '}
              {app.name}
            </label>
          ))}
      </fieldset>
      <Field label="Code (customise before publishing)" name="code" error={action.error}>
        {(props) => <textarea {...props} class="mono" rows={14} value={code} onInput={(e: InputEvent) => setCode(inputValue(e))} />}
      </Field>
      {action.error && (
        <p class="field-error" role="alert">
          {action.error.message}
        </p>
      )}
      <div class="actions">
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? 'Publishing…' : 'Publish'}
        </button>
        <button type="button" onClick={onClose}>
          Cancel
        </button>
      </div>
      <ErrorBanner error={null} />
    </form>
  );
}

export function Templates() {
  const canWrite = useCanWrite();
  const { data, error, loading, reload } = useLoad(() => Promise.all([api.get<Template[]>('/templates'), api.get<Application[]>('/applications')]), []);
  const [open, setOpen] = useState<string | null>(null);
  if (error) return <LoadError error={error} retry={reload} />;
  if (loading || !data) return <Busy label="Loading the templates…" />;
  const [templates, apps] = data;
  return (
    <section>
      <h1>Template gallery</h1>
      <p class="lead">Ready hooks from the library. Publishing one makes a hook of it, which you can then edit like any other.</p>
      <ul class="cards">
        {templates.map((template) => (
          <li class="card" key={template.name} data-template={template.name}>
            <h2>{template.title}</h2>
            <p>{template.purpose}</p>
            <p>
              <code>{template.event}</code> <Badge tone={template.mode}>{template.mode}</Badge>
            </p>
            <p class="hint">Secrets: {template.secrets.length ? template.secrets.join(', ') : 'none'}</p>
            {canWrite && open !== template.name && (
              <button type="button" onClick={() => setOpen(template.name)}>
                Use this template
              </button>
            )}
            {open === template.name && <PublishForm template={template} apps={apps} onClose={() => setOpen(null)} />}
          </li>
        ))}
      </ul>
    </section>
  );
}
