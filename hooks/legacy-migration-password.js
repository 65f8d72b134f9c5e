// @name Lazy migration: check the password against the legacy store
// @event before_password_validation
// @mode sync
// @secrets LEGACY_API_URL, LEGACY_API_TOKEN
// @purpose For a user created by migration (no local password yet), the legacy store checks the
//   password once; when it accepts, Tessera hashes and keeps it, and never asks again.
export default async function (event, api) {
  const res = await fetch(new URL('/authenticate', event.secrets.LEGACY_API_URL).toString(), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${event.secrets.LEGACY_API_TOKEN}` },
    body: JSON.stringify({ id: event.user.attributes.legacy_id, email: event.user.email, password: event.password }),
  });
  if (res.ok) api.password.accept();
  else if (res.status === 401 || res.status === 403) api.password.reject();
  // Anything else (the legacy store is down) is no wrong password: fail the run, so the user sees
  // an error to retry later (on_error "fail") instead of being told the password is wrong.
  else throw new Error(`legacy store answered ${res.status}`);
}
