// Where each lifecycle point of the catalog sits on the journey map, in the order a user meets them.
// A point the catalog adds that is not placed here still shows, under "Other points", so the map
// never hides one.
export const JOURNEYS: Array<{ id: string; title: string; events: string[] }> = [
  { id: 'registration', title: 'Registration', events: ['before_registration', 'before_progressive_profiling', 'after_registration', 'after_account_activation'] },
  {
    id: 'login',
    title: 'Login',
    events: ['after_identification', 'at_failed_identification', 'before_password_validation', 'at_failed_authentication', 'after_external_login', 'after_login'],
  },
  { id: 'mfa', title: 'Multi-factor authentication', events: ['before_mfa_send', 'after_mfa_send', 'after_mfa_change'] },
  { id: 'recovery', title: 'Recovery', events: ['before_password_reset', 'after_password_reset', 'after_username_request'] },
  { id: 'tokens', title: 'Tokens', events: ['before_id_token'] },
  { id: 'account', title: 'Account and messages', events: ['after_consent_update', 'after_account_disabled', 'after_account_deleted', 'before_message_send'] },
];

export function layoutFor(catalog: string[]): Array<{ id: string; title: string; events: string[] }> {
  const known = new Set(catalog);
  const placed = new Set(JOURNEYS.flatMap((j) => j.events));
  const journeys = JOURNEYS.map((j) => ({ ...j, events: j.events.filter((e) => known.has(e)) })).filter((j) => j.events.length > 0);
  const other = catalog.filter((e) => !placed.has(e));
  return other.length ? [...journeys, { id: 'other', title: 'Other points', events: other }] : journeys;
}
