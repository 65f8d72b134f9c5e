// @name Deny registration by email domain or disposable address
// @event before_registration
// @mode sync
// @secrets BLOCKED_DOMAINS (optional, comma-separated)
// @purpose Refuses sign-ups from disposable mail providers and from the domains you list.
const DISPOSABLE = ['mailinator.com', 'guerrillamail.com', '10minutemail.com', 'tempmail.com', 'yopmail.com', 'trashmail.com', 'sharklasers.com', 'throwawaymail.com'];

export default async function (event, api) {
  const domain = event.user.email.split('@').pop().toLowerCase();
  const blocked = (event.secrets.BLOCKED_DOMAINS ?? '').split(',').map((d) => d.trim().toLowerCase()).filter(Boolean);
  if (DISPOSABLE.includes(domain)) api.deny('Please sign up with a permanent email address.');
  else if (blocked.includes(domain)) api.deny('Sign-ups from this email domain are not allowed.');
}
