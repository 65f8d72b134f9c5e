// Signing keys: the keys in use and retired ones; rotate (a new key signs, the old one still verifies)
// and retire.
import { api } from '../api.ts';
import { Badge, Busy, ConfirmButton, ErrorBanner, LoadError, useAction, useLoad } from '../components/ui.tsx';
import { useCanWrite } from '../session.ts';

interface Key {
  kid: string;
  [key: string]: unknown;
}

export function Keys() {
  const canWrite = useCanWrite();
  const { data, error, loading, reload } = useLoad(() => api.get<Key[] | { keys: Key[] }>('/keys'), []);
  const action = useAction();
  if (error) return <LoadError error={error} retry={reload} />;
  if (loading || !data) return <Busy />;
  const keys = Array.isArray(data) ? data : data.keys;
  return (
    <section>
      <div class="page-head">
        <h1>Signing keys</h1>
        {canWrite && (
          <ConfirmButton
            label="Rotate keys"
            danger={false}
            question="Make a new signing key? Tokens signed by the current one stay valid."
            onConfirm={() =>
              action.run(async () => {
                await api.post('/keys/rotate');
                reload();
              })
            }
          />
        )}
      </div>
      <ErrorBanner error={action.error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Key id</th>
            <th scope="col">Details</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {keys.map((key) => (
            <tr key={key.kid}>
              <td>
                <code>{key.kid}</code>
              </td>
              <td>
                {Object.entries(key)
                  .filter(([name]) => name !== 'kid')
                  .map(([name, value]) => (
                    <Badge key={name}>
                      {name}: {String(value)}
                    </Badge>
                  ))}
              </td>
              <td>
                {canWrite && (
                  <ConfirmButton
                    label="Retire"
                    question={`Retire ${key.kid}? Tokens it signed stop verifying.`}
                    onConfirm={() =>
                      action.run(async () => {
                        await api.post(`/keys/${encodeURIComponent(key.kid)}/retire`);
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
    </section>
  );
}
