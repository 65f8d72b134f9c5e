// Invitations (CONTRACT §9, Next Identity's Pre-Registration): an operator invites an address to an
// application; a pending user exists at once, and the mailed link (an action token of kind
// "invitation") lets its owner set a password and finish, which activates the account in one
// transaction with its registration event. Expiry, single use, resend and revocation live here; the
// pages are flows/invitation.ts, the routes admin/invitations.ts.
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { sha256Hex } from '../crypto.ts';
import { fromJson, toJson, type Db } from '../db/knex.ts';
import { ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import { onlyFields, type JsonObject } from '../input.ts';
import type { ActionTokens } from './action-tokens.ts';
import { insertRegistration, RegistrationService } from './registrations.ts';
import { applicationRoles, assertRoles, roleNames } from './roles.ts';
import { toUser, type User, type UserService } from './users.ts';
import { fieldsOf, InvitationBody } from '../api-schema/types.ts';

export type InvitationStatus = 'pending' | 'accepted' | 'revoked' | 'expired';

export interface Invitation {
  id: string;
  user_id: string;
  email: string;
  /** The client_id of the application the user is invited to. */
  application: string;
  roles: string[];
  status: InvitationStatus;
  expires_at: string;
  accepted_at: string | null;
  created_at: string;
}

export interface InvitationInput {
  email: string;
  application: string;
  given_name: string | null;
  family_name: string | null;
  roles: string[];
}

/** What the pages need of a usable invitation. */
export interface OpenInvitation {
  invitation: Invitation;
  user: User;
}

/** Sends the link (mail, or the brand's channel); a failure is the sender's to log. */
export type InvitationDelivery = (invitation: Invitation, user: User, link: string) => Promise<void>;

export interface InvitationOptions {
  ttlSeconds: number;
  /** The issuer URL: links are `${issuer}/invitation/<token>`. */
  issuer: string;
  applicationExists(clientId: string): Promise<boolean>;
  deliver: InvitationDelivery;
}

type Row = Record<string, unknown>;
const FIELDS = fieldsOf(InvitationBody);

function iso(ms: unknown): string | null {
  return ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString();
}

function toInvitation(row: Row, now = Date.now()): Invitation {
  const stored = String(row.status) as InvitationStatus;
  return {
    id: String(row.id),
    user_id: String(row.user_id),
    email: String(row.email),
    application: String(row.client_id),
    roles: fromJson<string[]>(row.roles, []),
    status: stored === 'pending' && Number(row.expires_at) <= now ? 'expired' : stored,
    expires_at: iso(row.expires_at)!,
    accepted_at: iso(row.accepted_at),
    created_at: iso(row.created_at)!,
  };
}

/** The body of POST /invitations: only known fields, each checked. */
export function invitationInput(body: JsonObject): InvitationInput {
  onlyFields(body, FIELDS);
  const raw = body as Record<string, unknown>;
  if (typeof raw.email !== 'string' || raw.email.trim() === '') throw new ValidationError('email', 'is required');
  if (typeof raw.application !== 'string' || raw.application === '') throw new ValidationError('application', 'is required: the client_id of the application the user is invited to');
  const name = (field: 'given_name' | 'family_name') => {
    const value = raw[field];
    if (value === undefined || value === null || value === '') return null;
    if (typeof value !== 'string') throw new ValidationError(field, 'must be a string');
    return value;
  };
  return { email: raw.email, application: raw.application, given_name: name('given_name'), family_name: name('family_name'), roles: roleNames('roles', raw.roles) };
}

export class InvitationService {
  readonly #db: Db;
  readonly #users: UserService;
  readonly #tokens: ActionTokens;
  readonly #options: InvitationOptions;

  constructor(db: Db, users: UserService, tokens: ActionTokens, options: InvitationOptions) {
    this.#db = db;
    this.#users = users;
    this.#tokens = tokens;
    this.#options = options;
  }

  /** Creates the pending user and the invitation, then sends the link. */
  async create(input: InvitationInput): Promise<Invitation> {
    if (!(await this.#options.applicationExists(input.application))) throw new ValidationError('application', `no application has client_id "${input.application}"`);
    // The roles the accepted invitation registers the user with: each one the application declares.
    await assertRoles(this.#db, input.application, input.roles, 'roles');
    if (await this.#users.findByEmail(input.email)) throw new ConflictError('email', 'an account with this address exists already: it can sign in (or reset its password) instead');
    const now = Date.now();
    const { invitation, user, token } = await this.#db.transaction(async (tx) => {
      const user = await this.#users.create({ email: input.email, given_name: input.given_name, family_name: input.family_name, status: 'pending' }, 'invitation', tx, {
        applicationId: input.application,
      });
      const row = {
        id: `inv_${randomUUID().replaceAll('-', '')}`,
        user_id: user.id,
        client_id: input.application,
        email: user.email,
        roles: toJson(input.roles),
        status: 'pending',
        expires_at: now + this.#options.ttlSeconds * 1000,
        accepted_at: null,
        created_at: now,
        updated_at: now,
      };
      await tx('invitations').insert(row);
      const token = await this.#issue(tx, row.id, user.id, input.application);
      return { invitation: toInvitation(row), user, token };
    });
    await this.#options.deliver(invitation, user, this.#link(token));
    return invitation;
  }

  async list(options: { status?: InvitationStatus; limit?: number; offset?: number } = {}): Promise<Invitation[]> {
    const now = Date.now();
    const query = this.#db('invitations')
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(options.limit ?? 50)
      .offset(options.offset ?? 0);
    if (options.status === 'expired') query.where({ status: 'pending' }).where('expires_at', '<=', now);
    else if (options.status === 'pending') query.where({ status: 'pending' }).where('expires_at', '>', now);
    else if (options.status) query.where({ status: options.status });
    return (await query).map((row) => toInvitation(row, now));
  }

  async get(id: string): Promise<Invitation> {
    return toInvitation(await this.#row(this.#db, id));
  }

  /** A new link (the old one stops working) and a new expiry, for an invitation not yet accepted. */
  async resend(id: string): Promise<Invitation> {
    const current = await this.#row(this.#db, id);
    if (current.status !== 'pending') throw new ConflictError('status', `the invitation is ${current.status}: only a pending (or expired) invitation can be sent again`);
    const user = await this.#users.findById(String(current.user_id));
    if (!user) throw new NotFoundError('user');
    const now = Date.now();
    const token = await this.#db.transaction(async (tx) => {
      await this.#tokens.revokeAll('invitation', user.id, tx);
      await tx('invitations')
        .where({ id })
        .update({ expires_at: now + this.#options.ttlSeconds * 1000, updated_at: now });
      return this.#issue(tx, id, user.id, String(current.client_id));
    });
    const invitation = await this.get(id);
    await this.#options.deliver(invitation, user, this.#link(token));
    return invitation;
  }

  /** Withdraws a pending invitation: the link stops working and the pending user (never used) is deleted. */
  async revoke(id: string): Promise<void> {
    const current = await this.#row(this.#db, id);
    if (current.status === 'accepted') throw new ConflictError('status', 'the invitation was accepted: the user exists now (DELETE /users/:id removes it)');
    if (current.status === 'revoked') return;
    await this.#db.transaction(async (tx) => {
      await tx('invitations').where({ id, status: 'pending' }).update({ status: 'revoked', updated_at: Date.now() });
      await this.#tokens.revokeAll('invitation', String(current.user_id), tx);
    });
    const user = await this.#users.findById(String(current.user_id));
    if (user && user.status === 'pending') await this.#users.delete(user.id);
  }

  /** The invitation a link opens, if it can still be accepted; otherwise why not (and for which application). */
  async open(token: string): Promise<{ ok: true; value: OpenInvitation } | { ok: false; status: 'used' | 'expired' | 'revoked' | 'unknown'; clientId: string | null }> {
    const state = await this.#tokens.inspect('invitation', token);
    if (state.status === 'unknown') {
      // The token went with a withdrawn invitation's pending user; the invitation still knows its link.
      const withdrawn =
        typeof token === 'string' && token.length <= 128
          ? await this.#db('invitations')
              .where({ token_id: sha256Hex(token), status: 'revoked' })
              .first()
          : undefined;
      return withdrawn ? { ok: false, status: 'revoked', clientId: String(withdrawn.client_id) } : { ok: false, status: 'unknown', clientId: null };
    }
    if (state.status !== 'valid') return { ok: false, status: state.status, clientId: state.clientId };
    const row = await this.#db('invitations').where({ user_id: state.token.userId, status: 'pending' }).first();
    const user = row ? await this.#users.findById(state.token.userId) : null;
    if (!row || !user || user.status !== 'pending') return { ok: false, status: 'used', clientId: state.token.clientId };
    return { ok: true, value: { invitation: toInvitation(row), user } };
  }

  /**
   * Accepts: in one transaction the link is used up, the password set, the address verified (the link
   * proved it), the account activated, the invitation marked accepted and user.registration.create
   * written. Either all of it happens or none (a second tab's submit finds the link used).
   */
  async accept(token: string, password: string, names: { given_name: string | null; family_name: string | null }, metadata: JsonObject = {}, attributes: JsonObject = {}): Promise<User | null> {
    const opened = await this.open(token);
    if (!opened.ok) return null;
    const { user, invitation } = opened.value;
    await this.#users.checkPassword(password, { email: user.email, username: user.username });
    const hash = await this.#users.passwords.hash(password);
    return this.#db.transaction(async (tx) => {
      if (!(await this.#tokens.consume('invitation', token, tx))) return null;
      const now = Date.now();
      const changed = await tx('users')
        .where({ id: user.id, status: 'pending' })
        .update({
          password_hash: hash,
          status: 'active',
          email_verified: true,
          given_name: names.given_name ?? user.given_name,
          family_name: names.family_name ?? user.family_name,
          metadata: toJson({ ...user.metadata, ...metadata }),
          attributes: toJson({ ...user.attributes, ...attributes }),
          updated_at: now,
        });
      if (Number(changed) !== 1) throw new ConflictError('user', 'the invited account changed meanwhile');
      await tx('invitations').where({ id: invitation.id, status: 'pending' }).update({ status: 'accepted', accepted_at: now, updated_at: now });
      const accepted = toUser(await tx('users').where({ id: user.id }).first());
      // Registered with the invitation's roles (those the application still declares), verified: the link proved the address.
      const declared = await applicationRoles(tx, invitation.application);
      if (declared) {
        const known = new Set(declared.map((role) => role.name));
        const existing = await tx('user_registrations').where({ user_id: user.id, client_id: invitation.application }).first('user_id');
        if (existing) await new RegistrationService(tx).verify(tx, accepted, invitation.application);
        else {
          // An invitation naming no roles gets the application's defaults, like a sign-up.
          const roles = invitation.roles.length ? invitation.roles.filter((role) => known.has(role)) : undefined;
          await insertRegistration(tx, accepted, invitation.application, { roles, verified: true, extra: { invited: true } });
        }
      }
      return accepted;
    });
  }

  /** A new link's token; the invitation remembers its hash (see `open`). */
  async #issue(tx: Knex.Transaction, invitationId: string, userId: string, clientId: string): Promise<string> {
    const token = await this.#tokens.issue('invitation', userId, { interactionUid: null, clientId }, this.#options.ttlSeconds, tx);
    await tx('invitations')
      .where({ id: invitationId })
      .update({ token_id: sha256Hex(token) });
    return token;
  }

  #link(token: string): string {
    return `${this.#options.issuer}/invitation/${token}`;
  }

  async #row(db: Knex | Knex.Transaction, id: string): Promise<Row> {
    const row = typeof id === 'string' && id.length <= 40 ? await db('invitations').where({ id }).first() : undefined;
    if (!row) throw new NotFoundError('invitation');
    return row;
  }
}
