// @name Sync consents to a marketing hub
// @event after_consent_update
// @mode async
// @secrets HUB_URL, HUB_TOKEN
// @purpose Sends the user's consents to the marketing hub whenever they change.
export default async function (event) {
  const res = await fetch(new URL(`/subscribers/${encodeURIComponent(event.user.id)}/consents`, event.secrets.HUB_URL).toString(), {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${event.secrets.HUB_TOKEN}`, 'idempotency-key': event.id },
    body: JSON.stringify({ email: event.user.email, consents: event.consents, changed: event.changed }),
  });
  if (!res.ok) throw new Error(`marketing hub answered ${res.status}`);
}
