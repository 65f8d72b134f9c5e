// @name Send the reset mail through an HTTP mail API
// @event before_message_send
// @mode sync
// @secrets MAIL_API_URL, MAIL_API_KEY
// @purpose Sends the password-reset mail through the brand's own mail provider (an HTTP API that
// takes {to, template, link, expires_at, locale} as JSON with a bearer key) and tells Tessera not to
// send it. When the API does not take it, Tessera sends its own mail instead, so no reset is lost.
// Give the API's host in allowed_hosts.
export default async function (event, api) {
  const { message } = event;
  if (message.type !== 'password_reset' || message.channel !== 'email') return;
  const res = await fetch(event.secrets.MAIL_API_URL, {
    method: 'POST',
    headers: { authorization: `Bearer ${event.secrets.MAIL_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      to: message.to,
      template: 'password-reset',
      link: message.link,
      expires_at: message.expires_at,
      locale: message.locale,
      name: event.user?.given_name ?? null,
    }),
  });
  if (res.ok) {
    api.message.suppress();
  } else {
    console.log(`the mail API answered ${res.status}: Tessera sends the mail itself`);
  }
}
