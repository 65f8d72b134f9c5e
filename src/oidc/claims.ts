// The standard claims Tessera issues, by scope, and a user's values for them; and the claims of
// the scopes `roles` and `groups` (CONTRACT §9).
import type { RegistrationService } from '../identity/registrations.ts';
import type { User } from '../identity/users.ts';

export const SUPPORTED_CLAIMS = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name', 'given_name', 'family_name', 'preferred_username', 'updated_at'],
  phone: ['phone_number', 'phone_number_verified'],
};

/** Scope `roles`: the user's roles for the asking application (own and through groups); `groups`: group names. */
export const MEMBERSHIP_CLAIMS = { roles: ['roles'], groups: ['groups'] };

export type MembershipSource = Pick<RegistrationService, 'rolesFor' | 'groupNames'>;

/** The `roles` and `groups` claims the scopes ask for (nothing read when neither is asked). */
export async function membershipClaims(source: MembershipSource | undefined, userId: string, clientId: string | null | undefined, scopes: readonly string[]): Promise<Record<string, string[]>> {
  const claims: Record<string, string[]> = {};
  if (!source) return claims;
  if (scopes.includes('roles') && clientId) claims.roles = await source.rolesFor(userId, clientId);
  if (scopes.includes('groups')) claims.groups = await source.groupNames(userId);
  return claims;
}

/** The standard claims of a user; the provider keeps those the granted scopes allow. */
export function userClaims(user: User): Record<string, unknown> {
  const name = [user.given_name, user.family_name].filter(Boolean).join(' ') || undefined;
  return {
    sub: user.id,
    email: user.email,
    email_verified: user.email_verified,
    name,
    given_name: user.given_name ?? undefined,
    family_name: user.family_name ?? undefined,
    preferred_username: user.username ?? undefined,
    updated_at: Math.floor(Date.parse(user.updated_at) / 1000),
    phone_number: user.phone_number ?? undefined,
    phone_number_verified: user.phone_number ? user.phone_number_verified : undefined,
  };
}
