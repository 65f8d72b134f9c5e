// A hook: its code in the editor (CodeMirror, loaded on demand, with completion of `event` and `api`
// for the chosen event), its settings, a test run of the code as it is in the editor (saved or not)
// on the event's sample or on a real event picked from the execution log (kept redacted), and, once
// saved, its versions (drafts, diff, deploy, rollback: hook-versions.tsx) and its execution log.
import { useLocation, useRoute } from 'preact-iso';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type Application, type EventSpec, type Execution, type ExecutionEvent, type Hook, type TestResult } from '../api.ts';
import { Badge, Busy, ConfirmButton, ErrorBanner, Field, Json, LoadedPanel, LoadError, type InputEvent, useAction, useLoad, inputValue } from '../components/ui.tsx';
import type { MountedEditor } from '../editor/code-editor.ts';
import { useCanWrite } from '../session.ts';
import { VersionsPanel } from './hook-versions.tsx';

const STARTER = `export default async function (event, api) {
  // Type "event." or "api." for what this event offers.
}
`;

interface Draft {
  name: string;
  event: string;
  mode: 'sync' | 'async';
  /** The code the editor starts from (the editor owns it after). */
  code: string;
  enabled: boolean;
  order: string;
  on_error: 'fail' | 'continue';
  timeout_ms: string;
  allowed_hosts: string;
  applications: string[] | null;
  /** New secret values (write-only); an empty value removes the secret. */
  secrets: Array<{ name: string; value: string }>;
}

const FIELDS = ['name', 'event', 'mode', 'code', 'enabled', 'order', 'on_error', 'timeout_ms', 'allowed_hosts', 'applications', 'secrets'];

function draftOf(hook: Hook | null, event: string): Draft {
  return {
    name: hook?.name ?? '',
    event: hook?.event ?? event,
    mode: hook?.mode ?? 'sync',
    code: hook?.code ?? STARTER,
    enabled: hook?.enabled ?? true,
    order: String(hook?.order ?? 0),
    on_error: hook?.on_error ?? 'fail',
    timeout_ms: String(hook?.timeout_ms ?? 2000),
    allowed_hosts: (hook?.allowed_hosts ?? []).join('\n'),
    applications: hook ? hook.applications : null,
    secrets: [],
  };
}

/** An event as the test run takes it: without the fields every run sets itself. */
function payloadOf(event: Record<string, unknown>): string {
  const { id: _id, type: _type, hook: _hook, secrets: _secrets, created_at: _at, ...fields } = event;
  return JSON.stringify(fields, null, 2);
}

/** A recorded event picked from the execution log for the test run. */
interface Recorded {
  run: Execution;
  event: ExecutionEvent;
}

function nonce(): string {
  return document.querySelector('meta[name="csp-nonce"]')?.getAttribute('content') ?? '';
}

/**
 * CodeMirror, mounted once with the code it starts from and left alone after: it owns the document
 * (see code-editor.ts), and `handle` lets the page read it when it saves or runs a test.
 */
function CodeEditor({ initialCode, spec, readOnly, handle }: { initialCode: string; spec: EventSpec | null; readOnly: boolean; handle: { current: MountedEditor | null } }) {
  const host = useRef<HTMLDivElement>(null);
  const [failed, setFailed] = useState<Error | null>(null);
  const [ready, setReady] = useState(false);
  useEffect(() => {
    let live = true;
    import('../editor/code-editor.ts').then(
      ({ mountEditor }) => {
        if (!live || !host.current) return;
        handle.current = mountEditor(host.current, { code: initialCode, label: 'Hook code', nonce: nonce(), readOnly });
        setReady(true);
      },
      (error: Error) => setFailed(error),
    );
    return () => {
      live = false;
      handle.current?.destroy();
      handle.current = null;
    };
  }, []);
  useEffect(() => handle.current?.setEvent(spec), [spec, ready]);
  return (
    <div class="code-editor">
      {!ready && !failed && <Busy label="Loading the editor…" />}
      {failed && (
        <p role="alert" class="banner error">
          The editor could not load: {failed.message}
        </p>
      )}
      <div ref={host} data-ready={ready ? 'yes' : 'no'} />
    </div>
  );
}

function TestPanel({
  draft,
  code,
  spec,
  canWrite,
  recorded,
  useSample,
}: {
  draft: Draft;
  code: () => string;
  spec: EventSpec | null;
  canWrite: boolean;
  recorded: Recorded | null;
  useSample: () => void;
}) {
  // Mounted anew for each recorded event picked (its key), so the event and its label change together.
  const [payload, setPayload] = useState(() => (recorded ? payloadOf(recorded.event.event) : spec ? payloadOf(spec.sample) : ''));
  const [result, setResult] = useState<TestResult | null>(null);
  const action = useAction();
  const title = useRef<HTMLHeadingElement>(null);
  const first = useRef(true);
  useEffect(() => {
    if (recorded) {
      title.current?.scrollIntoView({ block: 'start' });
      title.current?.focus();
    }
  }, []);
  useEffect(() => {
    // Another lifecycle point chosen: its sample (the first render has its event already).
    if (first.current) first.current = false;
    else if (spec) setPayload(payloadOf(spec.sample));
  }, [spec?.name]);
  const run = () =>
    action.run(async () => {
      let event: unknown;
      try {
        event = JSON.parse(payload);
      } catch {
        throw new Error('event: is not valid JSON');
      }
      const secrets = Object.fromEntries(draft.secrets.filter((s) => s.name && s.value).map((s) => [s.name, s.value]));
      setResult(
        await api.post<TestResult>('/hooks/test', {
          event_type: draft.event,
          code: code(),
          mode: draft.mode,
          event,
          secrets,
          allowed_hosts: draft.allowed_hosts.split(/\s+/).filter(Boolean),
          timeout_ms: Number(draft.timeout_ms),
        }),
      );
    });
  return (
    <section class="panel" aria-labelledby="test-title">
      <h2 id="test-title" ref={title} tabIndex={-1}>
        Test run
      </h2>
      <p class="hint">Runs the code in the editor, saved or not, on this event, in the same sandbox as a journey. Nothing is changed or recorded, but its fetch calls are real.</p>
      {recorded && (
        <p class="banner" role="status" data-testid="recorded-event">
          The event of the run of {new Date(recorded.run.created_at).toLocaleString()} (v{recorded.run.hook_version}, {recorded.run.outcome}); passwords, secrets, tokens, codes and links read{' '}
          <code>{recorded.event.redacted}</code>.{' '}
          <button type="button" onClick={useSample}>
            Use the sample instead
          </button>
        </p>
      )}
      <Field label={recorded ? 'Event (recorded; edit it as you like)' : 'Event (the sample; edit it as you like)'} name="event" error={action.error}>
        {(props) => <textarea {...props} class="mono" rows={8} value={payload} onInput={(e: InputEvent) => setPayload(inputValue(e))} />}
      </Field>
      {canWrite && (
        <button type="button" class="primary" onClick={run} disabled={action.busy || !spec}>
          {action.busy ? 'Running…' : 'Run test'}
        </button>
      )}
      <ErrorBanner error={action.error} fields={['event']} />
      {result && (
        <div class="result" data-testid="test-result" aria-live="polite">
          <p>
            <Badge tone={result.outcome === 'success' ? 'good' : 'bad'}>{result.outcome}</Badge> in {result.duration_ms} ms
          </p>
          {result.error && <p class="field-error">{result.error}</p>}
          <h3>Actions</h3>
          <Json value={result.actions} />
          <h3>Logs</h3>
          <pre class="json">{result.logs.join('\n') || '(none)'}</pre>
        </div>
      )}
    </section>
  );
}

function ExecutionLog({ hookId, canWrite, onReplay }: { hookId: string; canWrite: boolean; onReplay: (recorded: Recorded) => void }) {
  const log = useLoad(() => api.get<Execution[]>(`/hooks/${hookId}/executions?limit=50`), [hookId]);
  const { data } = log;
  const replay = useAction();
  const pick = (run: Execution) =>
    replay.run(async () => {
      onReplay({ run, event: await api.get<ExecutionEvent>(`/hooks/${hookId}/executions/${run.id}/event`) });
    });
  return (
    <LoadedPanel id="log-title" title="Execution log" load={log}>
      <ErrorBanner error={replay.error} />
      <p class="hint">Every failed or denied run is listed; when the hook runs often, a sample of the successful ones (HOOK_EXECUTIONS_PER_SECOND).</p>
      {data && data.length === 0 && <p class="empty">No run yet.</p>}
      {data && data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Outcome</th>
              <th scope="col">Version</th>
              <th scope="col">Duration</th>
              <th scope="col">Logs, actions, error</th>
              {canWrite && <th scope="col">Event</th>}
            </tr>
          </thead>
          <tbody>
            {data.map((run) => (
              <tr key={run.id}>
                <td>{new Date(run.created_at).toLocaleString()}</td>
                <td>
                  <Badge tone={run.outcome === 'success' ? 'good' : 'bad'}>{run.outcome}</Badge>
                </td>
                <td>v{run.hook_version}</td>
                <td>{run.duration_ms} ms</td>
                <td>
                  <details>
                    <summary>{run.error ?? `${run.actions.length} actions, ${run.logs.length} log lines`}</summary>
                    <Json value={{ actions: run.actions, logs: run.logs }} />
                  </details>
                </td>
                {canWrite && (
                  <td>
                    {run.has_event ? (
                      <button type="button" onClick={() => void pick(run)} disabled={replay.busy}>
                        Test on this event<span class="sr-only"> of {new Date(run.created_at).toLocaleString()}</span>
                      </button>
                    ) : (
                      <span class="hint">not kept</span>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </LoadedPanel>
  );
}

export function HookEditor() {
  const { params } = useRoute();
  const location = useLocation();
  const id = params.id ?? null;
  const canWrite = useCanWrite();
  const loaded = useLoad(
    () =>
      Promise.all([api.get<EventSpec[]>('/events'), api.get<Application[]>('/applications'), id ? api.get<Hook>(`/hooks/${id}`) : Promise.resolve(null)]).then(([events, apps, hook]) => ({
        events,
        apps,
        hook,
      })),
    [id],
  );
  const [draft, setDraft] = useState<Draft | null>(null);
  const editor = useRef<MountedEditor | null>(null);
  const save = useAction();
  const [saved, setSaved] = useState<string | null>(null);
  const [recorded, setRecorded] = useState<Recorded | null>(null);
  useEffect(() => {
    if (!loaded.data) return;
    const wanted = new URLSearchParams(window.location.search).get('event');
    const fallback = loaded.data.events.find((e) => e.name === wanted)?.name ?? loaded.data.events[0]?.name ?? '';
    setDraft(draftOf(loaded.data.hook, fallback));
  }, [loaded.data]);

  if (loaded.error) return <LoadError error={loaded.error} retry={loaded.reload} />;
  if (!loaded.data || !draft) return <Busy label="Loading the hook…" />;
  const { events, apps, hook } = loaded.data;
  const spec = events.find((e) => e.name === draft.event) ?? null;
  // The editor's document when it is loaded; the code it starts from until then.
  const currentCode = () => editor.current?.getCode() ?? draft.code;
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft({ ...draft, [key]: value });

  const submit = (event: Event) => {
    event.preventDefault();
    void save.run(async () => {
      const secrets: Record<string, string | null> = {};
      for (const secret of draft.secrets) if (secret.name) secrets[secret.name] = secret.value === '' ? null : secret.value;
      const body = {
        name: draft.name,
        event: draft.event,
        mode: draft.mode,
        code: currentCode(),
        enabled: draft.enabled,
        order: Number(draft.order),
        on_error: draft.on_error,
        timeout_ms: Number(draft.timeout_ms),
        allowed_hosts: draft.allowed_hosts.split(/\s+/).filter(Boolean),
        applications: draft.applications,
        ...(Object.keys(secrets).length ? { secrets: hook ? secrets : Object.fromEntries(Object.entries(secrets).filter(([, v]) => v !== null)) } : {}),
      };
      const result = hook ? await api.patch<Hook>(`/hooks/${hook.id}`, body) : await api.post<Hook>('/hooks', body);
      setSaved(`Saved: version ${result.version}.`);
      if (!hook) location.route(`/admin/hooks/${result.id}`);
      else loaded.reload();
    });
  };
  // A draft holds the code only: a new version that journeys do not run until it is deployed.
  const saveDraft = () =>
    void save.run(async () => {
      const result = await api.patch<Hook>(`/hooks/${hook!.id}`, { code: currentCode(), draft: true });
      setSaved(
        result.latest_version > result.version
          ? `Saved as draft: version ${result.latest_version}. Journeys still run version ${result.version}.`
          : `No change: the code is version ${result.latest_version}'s.`,
      );
      loaded.reload();
    });

  return (
    <section>
      <div class="page-head">
        <h1>{hook ? hook.name : 'New hook'}</h1>
        {hook && (
          <span data-testid="hook-version">
            <Badge tone="good">deployed v{hook.version}</Badge>
            {hook.latest_version > hook.version && <Badge tone="off">draft v{hook.latest_version}</Badge>}
          </span>
        )}
      </div>
      <p>
        <a href="/admin/">← Journey map</a>
      </p>
      {saved && (
        <p class="banner good" role="status">
          {saved}
        </p>
      )}
      <form class="hook-form" onSubmit={submit} aria-busy={save.busy}>
        <div class="grid">
          <Field label="Name" name="name" error={save.error}>
            {(props) => <input {...props} required value={draft.name} disabled={!canWrite} onInput={(e: InputEvent) => set('name', inputValue(e))} />}
          </Field>
          <Field label="Lifecycle point" name="event" error={save.error} hint={spec?.fires}>
            {(props) => (
              <select {...props} value={draft.event} disabled={!canWrite} onChange={(e: InputEvent) => set('event', inputValue(e))}>
                {events.map((e) => (
                  <option key={e.name} value={e.name}>
                    {e.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <fieldset class="field">
            <legend>Mode</legend>
            {(['sync', 'async'] as const).map((mode) => (
              <label key={mode} class="inline">
                <input type="radio" name="mode" value={mode} checked={draft.mode === mode} disabled={!canWrite || (mode === 'sync' && spec?.sync === false)} onChange={() => set('mode', mode)} />{' '}
                {mode === 'sync' ? 'sync (the journey waits; actions apply)' : 'async (after the journey; retried)'}
              </label>
            ))}
          </fieldset>
          <Field label="Order" name="order" error={save.error} hint="Lower runs first">
            {(props) => <input {...props} type="number" value={draft.order} disabled={!canWrite} onInput={(e: InputEvent) => set('order', inputValue(e))} />}
          </Field>
          <Field label="On error" name="on_error" error={save.error}>
            {(props) => (
              <select {...props} value={draft.on_error} disabled={!canWrite} onChange={(e: InputEvent) => set('on_error', inputValue(e) as Draft['on_error'])}>
                <option value="fail">fail the journey</option>
                <option value="continue">continue without the hook</option>
              </select>
            )}
          </Field>
          <Field label="Timeout (ms)" name="timeout_ms" error={save.error}>
            {(props) => <input {...props} type="number" min={1} max={10000} value={draft.timeout_ms} disabled={!canWrite} onInput={(e: InputEvent) => set('timeout_ms', inputValue(e))} />}
          </Field>
          <label class="inline">
            <input type="checkbox" checked={draft.enabled} disabled={!canWrite} onChange={(e: InputEvent) => set('enabled', (e.currentTarget as HTMLInputElement).checked)} /> Enabled
          </label>
        </div>

        <h2>Code</h2>
        <CodeEditor key={hook?.id ?? 'new'} initialCode={draft.code} spec={spec} readOnly={!canWrite} handle={editor} />
        {save.error && save.error.message.startsWith('code') && (
          <p class="field-error" role="alert">
            {save.error.message}
          </p>
        )}

        <div class="grid">
          <fieldset class="field">
            <legend>Applications</legend>
            <label class="inline">
              <input type="radio" name="apps-scope" checked={draft.applications === null} disabled={!canWrite} onChange={() => set('applications', null)} /> All applications
            </label>
            <label class="inline">
              <input type="radio" name="apps-scope" checked={draft.applications !== null} disabled={!canWrite} onChange={() => set('applications', [])} /> Only these:
            </label>
            {draft.applications !== null &&
              apps.map((app) => (
                <label class="inline indent" key={app.client_id}>
                  <input
                    type="checkbox"
                    checked={draft.applications!.includes(app.client_id)}
                    disabled={!canWrite}
                    onChange={(e: InputEvent) =>
                      set('applications', (e.currentTarget as HTMLInputElement).checked ? [...draft.applications!, app.client_id] : draft.applications!.filter((c) => c !== app.client_id))
                    }
                  />{' '}
                  {app.name}
                </label>
              ))}
            {fieldErrorLine(save.error, 'applications')}
          </fieldset>
          <Field label="Allowed hosts for fetch (one per line; none: any public address)" name="allowed_hosts" error={save.error}>
            {(props) => <textarea {...props} rows={3} class="mono" value={draft.allowed_hosts} disabled={!canWrite} onInput={(e: InputEvent) => set('allowed_hosts', inputValue(e))} />}
          </Field>
          <fieldset class="field">
            <legend>Secrets (write-only)</legend>
            {hook && hook.secrets.length > 0 && <p class="hint">Set: {hook.secrets.join(', ')}. Give a name again to replace its value; an empty value removes it.</p>}
            {draft.secrets.map((secret, i) => (
              <div class="row" key={i}>
                <input
                  aria-label={`Secret ${i + 1} name`}
                  placeholder="NAME"
                  value={secret.name}
                  onInput={(e: InputEvent) =>
                    set(
                      'secrets',
                      draft.secrets.map((s, j) => (j === i ? { ...s, name: inputValue(e) } : s)),
                    )
                  }
                />
                <input
                  aria-label={`Secret ${i + 1} value`}
                  type="password"
                  autocomplete="off"
                  placeholder="value"
                  value={secret.value}
                  onInput={(e: InputEvent) =>
                    set(
                      'secrets',
                      draft.secrets.map((s, j) => (j === i ? { ...s, value: inputValue(e) } : s)),
                    )
                  }
                />
              </div>
            ))}
            {canWrite && (
              <button type="button" onClick={() => set('secrets', [...draft.secrets, { name: '', value: '' }])}>
                Add a secret
              </button>
            )}
            {fieldErrorLine(save.error, 'secrets')}
          </fieldset>
        </div>
        <ErrorBanner error={save.error} fields={FIELDS} />
        {canWrite && (
          <div class="actions">
            <button type="submit" class="primary" disabled={save.busy}>
              {save.busy ? 'Saving…' : hook ? 'Save and deploy' : 'Create hook'}
            </button>
            {hook && (
              <button type="button" onClick={saveDraft} disabled={save.busy}>
                Save as draft
              </button>
            )}
            {hook && (
              <ConfirmButton
                label="Delete hook"
                question={`Delete the hook "${hook.name}"? Journeys stop running it at once.`}
                onConfirm={() =>
                  save.run(async () => {
                    await api.del(`/hooks/${hook.id}`);
                    location.route('/admin/');
                  })
                }
              />
            )}
          </div>
        )}
      </form>
      <TestPanel key={recorded?.run.id ?? 'sample'} draft={draft} code={currentCode} spec={spec} canWrite={canWrite} recorded={recorded} useSample={() => setRecorded(null)} />
      {hook && (
        <VersionsPanel
          hook={hook}
          editorCode={currentCode}
          loadIntoEditor={(code) => {
            editor.current?.setCode(code);
            setSaved('The version is in the editor: save it to deploy it again, or test it first.');
          }}
          onDeployed={(_deployed, message) => {
            setSaved(message);
            loaded.reload();
          }}
          canWrite={canWrite}
        />
      )}
      {hook && <ExecutionLog hookId={hook.id} canWrite={canWrite} onReplay={setRecorded} />}
    </section>
  );
}

function fieldErrorLine(error: Error | null, field: string) {
  const message = error && 'field' in error && (error as { field: string | null }).field === field ? error.message : null;
  return message ? (
    <p class="field-error" role="alert">
      {message}
    </p>
  ) : null;
}
