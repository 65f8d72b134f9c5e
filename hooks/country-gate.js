// @name Sign-in from listed countries only (MFA or refusal elsewhere)
// @event after_identification
// @mode sync
// @secrets ALLOWED_COUNTRIES (comma-separated ISO codes, e.g. "DE,AT,CH"), OUTSIDE_ACTION (optional: "mfa", the default, or "deny")
// @purpose Reads the request's country from Tessera's offline location database
//   (event.request.location, GEOIP_DB); from outside the listed countries, or from an address the
//   database does not know, the user must pass MFA, or is refused with OUTSIDE_ACTION "deny".
export default async function (event, api) {
  const allowed = (event.secrets.ALLOWED_COUNTRIES ?? '')
    .split(',')
    .map((c) => c.trim().toUpperCase())
    .filter(Boolean);
  const country = event.request.location ? event.request.location.country : null;
  if (country && allowed.includes(country)) return;
  console.log(`outside the allowed countries: ${country ?? 'unknown'}`);
  if ((event.secrets.OUTSIDE_ACTION ?? 'mfa').trim().toLowerCase() === 'deny') {
    api.deny('Signing in from your location is not allowed.');
    return;
  }
  api.mfa.require();
}
