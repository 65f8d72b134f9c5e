// The journey map: every lifecycle point of the catalog in journey order, the hooks attached to each
// (mode, applications, order) and their last 24 hours of runs, errors and p95 latency.
import { api, type Application, type EventSpec, type Hook, type HookStats } from '../api.ts';
import { Badge, Busy, LoadError, useLoad } from '../components/ui.tsx';
import { layoutFor } from '../journey-layout.ts';
import { useCanWrite } from '../session.ts';

interface MapData {
  events: EventSpec[];
  hooks: Hook[];
  stats: Map<string, HookStats>;
  apps: Map<string, string>;
}

async function loadMap(): Promise<MapData> {
  const [events, hooks, stats, apps] = await Promise.all([
    api.get<EventSpec[]>('/events'),
    api.get<Hook[]>('/hooks'),
    api.get<{ hooks: HookStats[] }>('/hook-stats'),
    api.get<Application[]>('/applications'),
  ]);
  return { events, hooks, stats: new Map(stats.hooks.map((s) => [s.hook_id, s])), apps: new Map(apps.map((a) => [a.client_id, a.name])) };
}

function HookCard({ hook, stats, apps }: { hook: Hook; stats: HookStats | undefined; apps: Map<string, string> }) {
  return (
    <li class={`hook-card${hook.enabled ? '' : ' disabled'}`} data-hook={hook.id}>
      <a href={`/admin/hooks/${hook.id}`} class="hook-name">
        {hook.name}
      </a>
      <div class="meta">
        <Badge tone={hook.mode}>{hook.mode}</Badge>
        <Badge>order {hook.order}</Badge>
        <Badge>v{hook.version}</Badge>
        {!hook.enabled && <Badge tone="off">disabled</Badge>}
      </div>
      <div class="apps">{hook.applications === null ? 'All applications' : hook.applications.map((id) => apps.get(id) ?? id).join(', ') || 'No application'}</div>
      <dl class="stats" aria-label="Last 24 hours">
        <div>
          <dt>runs</dt>
          <dd>{stats?.runs ?? 0}</dd>
        </div>
        <div>
          <dt>errors</dt>
          <dd class={stats?.errors ? 'bad' : ''}>{stats?.errors ?? 0}</dd>
        </div>
        <div>
          <dt>p95</dt>
          <dd>{stats?.p95_ms == null ? '–' : `${stats.p95_ms} ms`}</dd>
        </div>
      </dl>
    </li>
  );
}

export function Journeys() {
  const canWrite = useCanWrite();
  const { data, error, loading, reload } = useLoad(loadMap, []);
  if (error) return <LoadError error={error} retry={reload} />;
  if (loading || !data) return <Busy label="Loading the journey map…" />;
  const byEvent = new Map<string, Hook[]>();
  for (const hook of data.hooks) byEvent.set(hook.event, [...(byEvent.get(hook.event) ?? []), hook]);
  const specs = new Map(data.events.map((e) => [e.name, e]));
  return (
    <section>
      <div class="page-head">
        <h1>Journeys and hooks</h1>
        {canWrite && (
          <a class="button primary" href="/admin/hooks/new">
            New hook
          </a>
        )}
      </div>
      <p class="lead">Every point where a hook can run, in the order a user meets them. Figures are for the last 24 hours.</p>
      {layoutFor(data.events.map((e) => e.name)).map((journey) => (
        <section class="journey" key={journey.id} aria-labelledby={`journey-${journey.id}`}>
          <h2 id={`journey-${journey.id}`}>{journey.title}</h2>
          <ol class="points">
            {journey.events.map((name) => {
              const spec = specs.get(name)!;
              const hooks = (byEvent.get(name) ?? []).sort((a, b) => a.order - b.order);
              return (
                <li class="point" key={name} data-event={name}>
                  <h3>
                    <code>{name}</code> {spec.sync ? <Badge tone="sync">sync</Badge> : <Badge tone="async">async only</Badge>}
                  </h3>
                  <p class="fires">{spec.fires}</p>
                  {hooks.length > 0 ? (
                    <ul class="hooks">
                      {hooks.map((hook) => (
                        <HookCard key={hook.id} hook={hook} stats={data.stats.get(hook.id)} apps={data.apps} />
                      ))}
                    </ul>
                  ) : (
                    <p class="empty">No hook</p>
                  )}
                  {canWrite && (
                    <a class="add" href={`/admin/hooks/new?event=${name}`}>
                      + Add hook<span class="sr-only"> to {name}</span>
                    </a>
                  )}
                </li>
              );
            })}
          </ol>
        </section>
      ))}
    </section>
  );
}
