// @name Lazy migration: find the user in the legacy store
// @event at_failed_identification
// @mode sync
// @secrets LEGACY_API_URL, LEGACY_API_TOKEN
// @purpose When an identifier matches no user, ask the legacy user API; if it knows the person,
//   create them here without a password. Pair with legacy-migration-password.js, which checks the
//   password against the legacy store on the first login and keeps it.
export default async function (event, api) {
  const url = new URL('/users', event.secrets.LEGACY_API_URL);
  url.searchParams.set('identifier', event.identifier);
  const res = await fetch(url.toString(), { headers: { authorization: `Bearer ${event.secrets.LEGACY_API_TOKEN}` } });
  if (res.status === 404) return;
  if (!res.ok) throw new Error(`legacy store answered ${res.status}`);
  const legacy = await res.json();
  api.migration.createUser({
    email: legacy.email,
    username: legacy.username ?? undefined,
    given_name: legacy.first_name ?? undefined,
    family_name: legacy.last_name ?? undefined,
    attributes: { legacy_id: String(legacy.id) },
  });
}
