// @name Claims from a CRM
// @event before_id_token
// @mode sync
// @secrets CRM_URL, CRM_TOKEN
// @purpose Adds the customer's tier and segment from the CRM to the ID token and access token.
export default async function (event, api) {
  const url = new URL('/customers', event.secrets.CRM_URL);
  url.searchParams.set('email', event.user.email);
  const res = await fetch(url.toString(), { headers: { authorization: `Bearer ${event.secrets.CRM_TOKEN}` } });
  if (!res.ok) return; // no CRM record: issue the token without the claims
  const customer = await res.json();
  api.idToken.setClaim('tier', customer.tier ?? 'standard');
  api.accessToken.setClaim('tier', customer.tier ?? 'standard');
  if (customer.segment) api.idToken.setClaim('segment', customer.segment);
}
