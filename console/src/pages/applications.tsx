// Applications: the list, a new one, and one application's settings: redirect URIs, MFA policy,
// branding with a live preview of the sign-in page, secret rotation, deletion; its roles, sign-up
// policy and message senders (application-access.tsx).
import { useLocation, useRoute } from 'preact-iso';
import { useEffect, useState } from 'preact/hooks';
import { api, type Application } from '../api.ts';
import { Badge, Busy, ConfirmButton, ErrorBanner, Field, type InputEvent, LoadError, useAction, useLoad, inputValue } from '../components/ui.tsx';
import { useCanWrite } from '../session.ts';
import { ApplicationAccess } from './application-access.tsx';

const lines = (text: string) => text.split(/\s+/).filter(Boolean);

export function Applications() {
  const canWrite = useCanWrite();
  const location = useLocation();
  const { data, error, loading, reload } = useLoad(() => api.get<Application[]>('/applications'), []);
  const [form, setForm] = useState({ name: '', redirect_uris: '' });
  const [secret, setSecret] = useState<{ id: string; secret: string } | null>(null);
  const action = useAction();
  if (error) return <LoadError error={error} retry={reload} />;
  if (loading || !data) return <Busy />;
  const create = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      const app = await api.post<Application>('/applications', { name: form.name, redirect_uris: lines(form.redirect_uris) });
      if (app.client_secret) setSecret({ id: app.client_id, secret: app.client_secret });
      else location.route(`/admin/applications/${app.client_id}`);
      reload();
    });
  };
  return (
    <section>
      <h1>Applications</h1>
      {secret && (
        <div class="banner good" role="status">
          <p>
            Created <a href={`/admin/applications/${secret.id}`}>{secret.id}</a>. Its client secret, shown once: <code>{secret.secret}</code>
          </p>
        </div>
      )}
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Client id</th>
            <th scope="col">MFA</th>
          </tr>
        </thead>
        <tbody>
          {data.map((app) => (
            <tr key={app.client_id}>
              <td>
                <a href={`/admin/applications/${app.client_id}`}>{app.name}</a>
              </td>
              <td>
                <code>{app.client_id}</code>
              </td>
              <td>
                <Badge>{app.mfa}</Badge>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {canWrite && (
        <form class="panel" onSubmit={create} aria-labelledby="new-app" aria-busy={action.busy}>
          <h2 id="new-app">New application</h2>
          <Field label="Name" name="name" error={action.error}>
            {(props) => <input {...props} required value={form.name} onInput={(e: InputEvent) => setForm({ ...form, name: inputValue(e) })} />}
          </Field>
          <Field label="Redirect URIs (one per line)" name="redirect_uris" error={action.error}>
            {(props) => <textarea {...props} rows={3} value={form.redirect_uris} onInput={(e: InputEvent) => setForm({ ...form, redirect_uris: inputValue(e) })} />}
          </Field>
          <ErrorBanner error={action.error} fields={['name', 'redirect_uris']} />
          <button type="submit" class="primary" disabled={action.busy}>
            {action.busy ? 'Creating…' : 'Create'}
          </button>
        </form>
      )}
    </section>
  );
}

interface AppForm {
  name: string;
  redirect_uris: string;
  post_logout_redirect_uris: string;
  mfa: Application['mfa'];
  default_locale: Application['default_locale'];
  display_name: string;
  logo_uri: string;
  primary_color: string;
  background_color: string;
  text_color: string;
  dark_primary_color: string;
  dark_background_color: string;
  dark_text_color: string;
  font_stack: string;
  footer_text: string;
}

/** The colour inputs of the branding form, in order. */
const COLOR_FIELDS: Array<[keyof AppForm, string]> = [
  ['primary_color', 'Primary colour (#rrggbb)'],
  ['background_color', 'Background colour (#rrggbb, light scheme)'],
  ['text_color', 'Text colour (#rrggbb, light scheme)'],
  ['dark_primary_color', 'Dark scheme: primary colour'],
  ['dark_background_color', 'Dark scheme: background colour'],
  ['dark_text_color', 'Dark scheme: text colour'],
];

/** The branding a form describes, as the admin API takes it ('' is null: the default). */
function brandingOf(form: AppForm): Application['branding'] {
  const dark = { primary_color: form.dark_primary_color || null, background_color: form.dark_background_color || null, text_color: form.dark_text_color || null };
  return {
    display_name: form.display_name || null,
    logo_uri: form.logo_uri || null,
    primary_color: form.primary_color || null,
    background_color: form.background_color || null,
    text_color: form.text_color || null,
    theme: dark.primary_color || dark.background_color || dark.text_color ? { light: null, dark } : null,
    font_stack: form.font_stack || null,
    footer_text: form.footer_text || null,
  };
}

/**
 * The hosted sign-in page as the server renders it with this (unsaved) branding: the admin API's
 * preview in a frame (sandboxed by its own policy), reloaded a moment after the last keystroke.
 */
function SignInPreview({ id, form }: { id: string; form: AppForm }) {
  const wanted = `/admin/api/applications/${encodeURIComponent(id)}/preview?page=identify&branding=${encodeURIComponent(JSON.stringify(brandingOf(form)))}`;
  const [src, setSrc] = useState(wanted);
  useEffect(() => {
    const timer = setTimeout(() => setSrc(wanted), 400);
    return () => clearTimeout(timer);
  }, [wanted]);
  return (
    <figure class="preview" aria-label="Preview of the sign-in page">
      <iframe class="preview-frame" src={src} title="Preview of the sign-in page" sandbox="" />
      <figcaption>Live preview (the server's sign-in page with the values above, not yet saved)</figcaption>
    </figure>
  );
}

export function ApplicationDetail() {
  const { params } = useRoute();
  const location = useLocation();
  const canWrite = useCanWrite();
  const id = params.id!;
  const { data, error, loading, reload } = useLoad(() => api.get<Application>(`/applications/${encodeURIComponent(id)}`), [id]);
  const [form, setForm] = useState<AppForm | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const action = useAction();
  useEffect(() => {
    if (data)
      setForm({
        name: data.name,
        redirect_uris: data.redirect_uris.join('\n'),
        post_logout_redirect_uris: data.post_logout_redirect_uris.join('\n'),
        mfa: data.mfa,
        default_locale: data.default_locale ?? 'en',
        display_name: data.branding.display_name ?? '',
        logo_uri: data.branding.logo_uri ?? '',
        primary_color: data.branding.primary_color ?? '',
        background_color: data.branding.background_color ?? '',
        text_color: data.branding.text_color ?? '',
        dark_primary_color: data.branding.theme?.dark?.primary_color ?? '',
        dark_background_color: data.branding.theme?.dark?.background_color ?? '',
        dark_text_color: data.branding.theme?.dark?.text_color ?? '',
        font_stack: data.branding.font_stack ?? '',
        footer_text: data.branding.footer_text ?? '',
      });
  }, [data]);
  if (error) return <LoadError error={error} retry={reload} />;
  if (loading || !data || !form) return <Busy />;
  const set = (key: keyof AppForm) => (e: InputEvent) => setForm({ ...form, [key]: inputValue(e) });
  const save = (event: Event) => {
    event.preventDefault();
    setSaved(false);
    void action.run(async () => {
      await api.patch(`/applications/${encodeURIComponent(id)}`, {
        name: form.name,
        redirect_uris: lines(form.redirect_uris),
        post_logout_redirect_uris: lines(form.post_logout_redirect_uris),
        mfa: form.mfa,
        default_locale: form.default_locale,
        branding: brandingOf(form),
      });
      setSaved(true);
      reload();
    });
  };
  const fields = ['name', 'redirect_uris', 'post_logout_redirect_uris', 'mfa', 'default_locale', 'branding'];
  return (
    <section>
      <div class="page-head">
        <h1>{data.name}</h1>
        <code>{data.client_id}</code>
      </div>
      <p>
        <a href="/admin/applications">← Applications</a>
      </p>
      {saved && (
        <p class="banner good" role="status">
          Saved.
        </p>
      )}
      {secret && (
        <p class="banner good" role="status">
          The new client secret, shown once: <code>{secret}</code>
        </p>
      )}
      <div class="split">
        <form onSubmit={save} aria-busy={action.busy} class="panel">
          <fieldset disabled={!canWrite}>
            <Field label="Name" name="name" error={action.error}>
              {(props) => <input {...props} required value={form.name} onInput={set('name')} />}
            </Field>
            <Field label="Redirect URIs (one per line)" name="redirect_uris" error={action.error}>
              {(props) => <textarea {...props} rows={3} value={form.redirect_uris} onInput={set('redirect_uris')} />}
            </Field>
            <Field label="Post-logout redirect URIs" name="post_logout_redirect_uris" error={action.error}>
              {(props) => <textarea {...props} rows={2} value={form.post_logout_redirect_uris} onInput={set('post_logout_redirect_uris')} />}
            </Field>
            <Field label="Multi-factor authentication" name="mfa" error={action.error}>
              {(props) => (
                <select {...props} value={form.mfa} onChange={set('mfa')}>
                  <option value="off">off</option>
                  <option value="optional">optional (users who enrolled)</option>
                  <option value="required">required (everyone)</option>
                </select>
              )}
            </Field>
            <Field label="Language of the pages and mails when the browser asks for none we speak" name="default_locale" error={action.error}>
              {(props) => (
                <select {...props} value={form.default_locale} onChange={set('default_locale')}>
                  <option value="en">English</option>
                  <option value="fr">Français</option>
                  <option value="de">Deutsch</option>
                  <option value="es">Español</option>
                </select>
              )}
            </Field>
            <h2>Branding</h2>
            <Field label="Display name" name="branding" error={action.error}>
              {(props) => <input {...props} value={form.display_name} onInput={set('display_name')} />}
            </Field>
            <Field label="Logo URL (https)" name="logo_uri" error={action.error}>
              {(props) => <input {...props} value={form.logo_uri} onInput={set('logo_uri')} />}
            </Field>
            {COLOR_FIELDS.map(([key, label]) => (
              <Field key={key} label={label} name={key} error={action.error}>
                {(props) => <input {...props} value={form[key]} onInput={set(key)} />}
              </Field>
            ))}
            <Field label="Font stack (font-family names, comma-separated)" name="font_stack" error={action.error}>
              {(props) => <input {...props} value={form.font_stack} placeholder='"Inter", system-ui, sans-serif' onInput={set('font_stack')} />}
            </Field>
            <Field label="Footer text (replaces “Secured by Tessera”)" name="footer_text" error={action.error}>
              {(props) => <input {...props} value={form.footer_text} onInput={set('footer_text')} />}
            </Field>
          </fieldset>
          <ErrorBanner error={action.error} fields={fields} />
          {canWrite && (
            <div class="actions">
              <button type="submit" class="primary" disabled={action.busy}>
                {action.busy ? 'Saving…' : 'Save'}
              </button>
              {data.token_endpoint_auth_method !== 'none' && (
                <ConfirmButton
                  label="Rotate secret"
                  question="Generate a new client secret? The old one stops working at once."
                  onConfirm={() =>
                    action.run(async () => {
                      const rotated = await api.patch<Application>(`/applications/${encodeURIComponent(id)}`, { client_secret: 'rotate' });
                      setSecret(rotated.client_secret ?? null);
                    })
                  }
                />
              )}
              <ConfirmButton
                label="Delete application"
                question={`Delete ${data.name}? Its users can no longer sign in to it.`}
                onConfirm={() =>
                  action.run(async () => {
                    await api.del(`/applications/${encodeURIComponent(id)}`);
                    location.route('/admin/applications');
                  })
                }
              />
            </div>
          )}
        </form>
        <SignInPreview id={id} form={form} />
      </div>
      <ApplicationAccess app={data} canWrite={canWrite} />
    </section>
  );
}
