// The services one server process holds; built once at start and handed to the routers.
import type Provider from 'oidc-provider';
import type { AccountSessions } from './account/sessions.ts';
import type { AuditLog } from './admin/audit-log.ts';
import type { AdminKeyGuard } from './admin/auth.ts';
import type { ConsoleAccess } from './identity/console-access.ts';
import type { ConsoleSessions } from './admin/console-sessions.ts';
import type { AdminKeyCache } from './admin/key.ts';
import type { Config } from './config.ts';
import type { SecretBox } from './crypto.ts';
import type { Db } from './db/knex.ts';
import type { EventLog } from './event-log.ts';
import type { FlowStates } from './flows/state.ts';
import type { Locator } from './geo/locator.ts';
import type { ExecutionLog } from './hooks/executions.ts';
import type { HookJobQueue } from './hooks/jobs.ts';
import type { Lifecycle } from './hooks/lifecycle.ts';
import type { HookRunner } from './hooks/runner.ts';
import type { HookSandbox } from './hooks/sandbox/sandbox.ts';
import type { HookStore } from './hooks/store.ts';
import type { ActionTokens } from './identity/action-tokens.ts';
import type { ApplicationAccess } from './identity/application-access.ts';
import type { ConsentService } from './identity/consents.ts';
import type { GroupService } from './identity/groups.ts';
import type { InvitationService } from './identity/invitations.ts';
import type { RegistrationService } from './identity/registrations.ts';
import type { FactorService } from './identity/factors.ts';
import type { PasskeyService } from './identity/passkeys.ts';
import type { AccountLocks } from './identity/lockout.ts';
import type { Throttle } from './identity/throttle.ts';
import type { ThreatSignals } from './identity/threats.ts';
import type { UserService } from './identity/users.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import type { Courier } from './messaging/courier.ts';
import type { MessageDispatcher } from './messaging/dispatcher.ts';
import type { MessageQueue } from './messaging/message-queue.ts';
import type { ApplicationService } from './oidc/applications.ts';
import type { KeyRing } from './oidc/key-ring.ts';
import type { ResourceServerService } from './oidc/resource-servers.ts';
import type { Federation } from './providers/federation.ts';
import type { WebhookDispatcher } from './webhooks/dispatcher.ts';
import type { WebhookEndpointStore } from './webhooks/endpoints.ts';
import type { TransactionalWebhooks } from './webhooks/transactional.ts';

export interface Services {
  config: Config;
  db: Db;
  log: Logger;
  box: SecretBox;
  users: UserService;
  /** Second factors of multi-factor authentication. */
  factors: FactorService;
  /** Passkeys (WebAuthn credentials), each also a second factor. */
  passkeys: PasskeyService;
  /** Operator locks and the per-account failed-login budget. */
  locks: AccountLocks;
  applications: ApplicationService;
  /** Which applications an account has granted access to, and revoking one. */
  access: ApplicationAccess;
  resourceServers: ResourceServerService;
  provider: Provider;
  /** The one way a mail or text goes out (before_message_send, then the durable message queue). */
  courier: Courier;
  /** The durable message queue (GET /admin/api/message-queue), not the dev outbox. */
  messageQueue: MessageQueue;
  /** Hands queued messages to SMTP / the SMS messenger / the dev outbox, and retries them. */
  messageDispatcher: MessageDispatcher;
  /** The signing and cookie keys in force here, refreshed from the database (rotations by any instance). */
  keys: KeyRing;
  lifecycle: Lifecycle;
  /** Where a client address is (event.request.location), from the offline database. */
  locator: Locator;
  /** Threat signals at sign-in: the device cookie, impossible travel (identity/threats.ts). */
  threats: ThreatSignals;
  metrics: Metrics;
  hooks: HookStore;
  sandbox: HookSandbox;
  runner: HookRunner;
  /** The hook execution log: the runner writes it, the admin API reads it. */
  executions: ExecutionLog;
  /** The async hook jobs the runner queues and the worker runs. */
  hookJobs: HookJobQueue;
  /** Users' registrations with applications, and the roles tokens carry (own and through groups). */
  registrations: RegistrationService;
  /** Groups of users holding roles per application. */
  groups: GroupService;
  /** Invitations: pending users an operator asked to join an application. */
  invitations: InvitationService;
  /** One-time tokens of account mails (activation, reset, ...). */
  tokens: ActionTokens;
  consents: ConsentService;
  /** Attempt counters per key (logins, mails, admin keys), in the LOGIN_THROTTLE_WINDOW_SECONDS window. */
  throttle: Throttle;
  /** The journeys' state per interaction. */
  flowStates: FlowStates;
  /** Webhook endpoints and their delivery log. */
  webhooks: WebhookEndpointStore;
  /** Delivers the outbox; started after listen, stopped on close (null when WEBHOOK_DISPATCHER=false). */
  webhookDispatcher: WebhookDispatcher | null;
  /** Transactional webhook endpoints, asked before a change commits (CONTRACT §6). */
  transactional: TransactionalWebhooks;
  /** Every change made through the admin API (and the console). */
  audit: AuditLog;
  /** What the server itself reports: hook failures, failed deliveries and mail, key rotations, KICKSTART. */
  eventLog: EventLog;
  /** sha256 of the admin API key in force (shared by every instance through the database). */
  adminKey: AdminKeyCache;
  /** Checks admin API keys (and the metrics token), throttling wrong guesses per address. */
  adminGuard: AdminKeyGuard;
  /** External identity providers: the store, links, sign-ins in flight, clients, verifications. */
  federation: Federation;
  /** The administration console: who may sign in (and their role), and its sessions. */
  console: { access: ConsoleAccess; sessions: ConsoleSessions };
  /** The end user's account page (/account): its sign-in sessions. */
  account: { sessions: AccountSessions };
}
