// @name Alert a chat channel on password reset
// @event after_password_reset
// @mode async
// @secrets CHAT_WEBHOOK_URL
// @purpose Posts a message to a chat webhook (Slack-compatible {"text": ...}) when a password is reset.
export default async function (event) {
  const text = `Password reset for ${event.user.email} from ${event.request.ip ?? 'an unknown address'}`;
  const res = await fetch(event.secrets.CHAT_WEBHOOK_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text }),
  });
  if (!res.ok) throw new Error(`chat webhook answered ${res.status}`);
}
