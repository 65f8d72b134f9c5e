// @name Step up to MFA by IP country
// @event after_identification
// @mode sync
// @secrets GEOIP_URL, ALLOWED_COUNTRIES (comma-separated ISO codes, e.g. "US,CA")
// @purpose Looks up the country of the request's IP; outside the allowed countries (or when the
//   lookup fails) the user must pass MFA.
export default async function (event, api) {
  const allowed = (event.secrets.ALLOWED_COUNTRIES ?? '').split(',').map((c) => c.trim().toUpperCase()).filter(Boolean);
  let country = null;
  try {
    const res = await fetch(new URL(`/ip/${encodeURIComponent(event.request.ip ?? '')}`, event.secrets.GEOIP_URL).toString());
    if (res.ok) country = String((await res.json()).country ?? '').toUpperCase();
  } catch (error) {
    console.warn('geo lookup failed', String(error));
  }
  if (!country || !allowed.includes(country)) {
    console.log(`step-up: country ${country ?? 'unknown'}`);
    api.mfa.require();
  }
}
