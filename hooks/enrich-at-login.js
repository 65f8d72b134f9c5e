// @name Enrich at login from the brand's endpoint
// @event before_id_token
// @mode sync
// @secrets ENRICH_URL, ENRICH_TOKEN (optional: sent as a bearer token)
// @purpose Next Identity's Login/Enrich: at each sign-in (the authorization code grant) POSTs the
// user and the application to the brand's endpoint, which answers {claims?, profile?}: the claims go
// into the ID token and the access token, the profile into the user's metadata (`enrich`). Refreshes
// reuse the stored answer without calling. The failure policy is the hook's on_error: "fail" (the
// default) refuses the sign-in when the endpoint fails, "continue" issues the tokens without the claims.
// Give the endpoint's host in allowed_hosts.
export default async function (event, api) {
  const stored = event.user.metadata.enrich;
  if (event.grant_type === 'refresh_token' && stored && typeof stored === 'object') {
    setClaims(api, stored.claims);
    return;
  }
  const headers = { 'content-type': 'application/json' };
  if (event.secrets.ENRICH_TOKEN) headers.authorization = `Bearer ${event.secrets.ENRICH_TOKEN}`;
  const res = await fetch(event.secrets.ENRICH_URL, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      event: 'login',
      user: { id: event.user.id, email: event.user.email, given_name: event.user.given_name, family_name: event.user.family_name },
      application: event.application,
      scopes: event.scopes,
    }),
  });
  if (!res.ok) throw new Error(`the enrich endpoint answered ${res.status}`);
  const answer = await res.json();
  const claims = answer && typeof answer.claims === 'object' && answer.claims !== null ? answer.claims : {};
  setClaims(api, claims);
  api.user.setMetadata('enrich', { claims, profile: answer?.profile ?? null, at: new Date().toISOString() });
}

function setClaims(api, claims) {
  for (const [key, value] of Object.entries(claims ?? {})) {
    api.idToken.setClaim(key, value);
    api.accessToken.setClaim(key, value);
  }
}
