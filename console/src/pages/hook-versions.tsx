// A hook's versions in the editor: every saved code, newest first, which one is deployed (journeys
// run it) and which are drafts; the diff of a chosen version against the code in the editor or the
// deployed one; loading it into the editor; and, for admins, deploying a draft or rolling back to
// an earlier version, each after a confirmation.
import { useEffect, useState } from 'preact/hooks';
import { api, type Hook, type HookVersion } from '../api.ts';
import type { CodeDiff as CodeDiffType } from '../components/code-diff.tsx';
import { Badge, Busy, ConfirmButton, ErrorBanner, LoadedPanel, useAction, useLoad } from '../components/ui.tsx';

type Against = 'editor' | 'deployed';

/** The diff (jsdiff) is a chunk of its own, loaded at the first comparison, not with the first page. */
function CodeDiff(props: Parameters<typeof CodeDiffType>[0]) {
  const [loaded, setLoaded] = useState<{ CodeDiff: typeof CodeDiffType } | null>(null);
  const [failed, setFailed] = useState<Error | null>(null);
  useEffect(() => {
    import('../components/code-diff.tsx').then(setLoaded, setFailed);
  }, []);
  if (failed) return <ErrorBanner error={failed} />;
  return loaded ? <loaded.CodeDiff {...props} /> : <Busy label="Comparing…" />;
}

function who(actor: string): string {
  if (actor === 'admin-api') return 'the admin API key';
  if (actor.startsWith('console:')) return 'a console admin';
  return actor;
}

export function VersionsPanel({
  hook,
  editorCode,
  loadIntoEditor,
  onDeployed,
  canWrite,
}: {
  hook: Hook;
  /** The code in the editor now (saved or not). */
  editorCode: () => string;
  loadIntoEditor: (code: string) => void;
  /** The hook as it runs after a deploy or rollback. */
  onDeployed: (hook: Hook, message: string) => void;
  canWrite: boolean;
}) {
  const list = useLoad(() => api.get<HookVersion[]>(`/hooks/${hook.id}/versions`), [hook.id, hook.version, hook.latest_version]);
  const [chosen, setChosen] = useState<{ version: HookVersion; code: string } | null>(null);
  const [against, setAgainst] = useState<Against>('editor');
  const [editorSnapshot, setEditorSnapshot] = useState('');
  const action = useAction();

  const compare = (version: HookVersion) =>
    action.run(async () => {
      const full = await api.get<HookVersion>(`/hooks/${hook.id}/versions/${version.version}`);
      setEditorSnapshot(editorCode());
      setChosen({ version, code: full.code ?? '' });
    });
  const deploy = (version: HookVersion) =>
    action.run(async () => {
      const rollback = version.version < hook.version;
      const deployed = rollback ? await api.post<Hook>(`/hooks/${hook.id}/versions/${version.version}/rollback`) : await api.post<Hook>(`/hooks/${hook.id}/deploy`, { version: version.version });
      onDeployed(deployed, rollback ? `Rolled back: journeys run version ${deployed.version} again.` : `Deployed: journeys run version ${deployed.version}.`);
    });

  return (
    <LoadedPanel id="versions-title" title="Versions" load={list}>
      <p class="hint">Save as draft adds a version that journeys do not run yet; deploy makes them run it; a rollback deploys an earlier version again (the later ones stay listed).</p>
      {list.data && (
        <table>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">State</th>
              <th scope="col">Saved</th>
              <th scope="col">Last deployed</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((version) => {
              const state = version.version === hook.version ? 'deployed' : version.version > hook.version ? 'draft' : 'earlier';
              return (
                <tr key={version.version} data-version={version.version}>
                  <td>v{version.version}</td>
                  <td>
                    <Badge tone={state === 'deployed' ? 'good' : state === 'draft' ? 'off' : ''}>{state}</Badge>
                  </td>
                  <td>
                    {new Date(version.created_at).toLocaleString()} by {who(version.created_by)}
                  </td>
                  <td>{version.deployed_at ? `${new Date(version.deployed_at).toLocaleString()} by ${who(version.deployed_by ?? '')}` : 'never'}</td>
                  <td>
                    <div class="row">
                      <button type="button" onClick={() => void compare(version)}>
                        Compare<span class="sr-only"> version {version.version}</span>
                      </button>
                      {canWrite && state !== 'deployed' && (
                        <ConfirmButton
                          label={state === 'draft' ? `Deploy v${version.version}` : `Roll back to v${version.version}`}
                          question={
                            state === 'draft'
                              ? `Deploy version ${version.version}? Journeys run it from the next request on.`
                              : `Roll back to version ${version.version}? Journeys run it again from the next request on; version ${hook.version} stays listed.`
                          }
                          danger={state !== 'draft'}
                          disabled={action.busy}
                          onConfirm={() => deploy(version)}
                        />
                      )}
                    </div>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <ErrorBanner error={action.error} />
      {chosen && (
        <div class="compare">
          <fieldset class="field">
            <legend>Compare version {chosen.version.version} with</legend>
            <label class="inline">
              <input type="radio" name="diff-against" checked={against === 'editor'} onChange={() => setAgainst('editor')} /> the code in the editor
            </label>
            <label class="inline">
              <input type="radio" name="diff-against" checked={against === 'deployed'} onChange={() => setAgainst('deployed')} /> the deployed version (v{hook.version})
            </label>
          </fieldset>
          {against === 'editor' ? (
            <CodeDiff before={chosen.code} after={editorSnapshot} label={`v${chosen.version.version} → the editor`} />
          ) : (
            <CodeDiff before={hook.code} after={chosen.code} label={`v${hook.version} (deployed) → v${chosen.version.version}`} />
          )}
          <div class="actions">
            <button type="button" onClick={() => setEditorSnapshot(editorCode())} disabled={against !== 'editor'}>
              Compare with the editor again
            </button>
            {canWrite && (
              <button type="button" onClick={() => loadIntoEditor(chosen.code)}>
                Load v{chosen.version.version} into the editor
              </button>
            )}
            <button type="button" onClick={() => setChosen(null)}>
              Close the comparison
            </button>
          </div>
        </div>
      )}
    </LoadedPanel>
  );
}
