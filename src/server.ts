// Starts one Tessera server: database and migrations, keys, services, the koa app, the listener,
// and the periodic clean-up. main.ts calls it; tests call it to run a real server on loopback.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { createApp } from './app.ts';
import { AdminKeyGuard } from './admin/auth.ts';
import { ConsoleAccess } from './identity/console-access.ts';
import { ensureConsoleClient } from './admin/console-client.ts';
import { ConsoleSessions } from './admin/console-sessions.ts';
import { AccountSessions } from './account/sessions.ts';
import { ensureAccountClient } from './account/client.ts';
import { AdminKeyCache, establishAdminKey, keyFingerprint } from './admin/key.ts';
import type { Config } from './config.ts';
import { SecretBox } from './crypto.ts';
import { isDatabaseUnavailable, RETRY_AFTER_SECONDS } from './db/unavailable.ts';
import { isPostgres, openDatabase, type Db, type DatabaseTimeouts } from './db/knex.ts';
import { migrateToLatest } from './db/migrate.ts';
import { getOrCreateSetting } from './db/settings.ts';
import { armFaultPoint } from './faults.ts';
import { FlowStates } from './flows/state.ts';
import { ExecutionLog } from './hooks/executions.ts';
import { HookJobQueue } from './hooks/jobs.ts';
import { HookRunner } from './hooks/runner.ts';
import { codeProblem } from './hooks/sandbox/check.ts';
import { HookSandbox } from './hooks/sandbox/sandbox.ts';
import { HookStore } from './hooks/store.ts';
import { HookWorker } from './hooks/worker.ts';
import { ActionTokens } from './identity/action-tokens.ts';
import { ConsentService } from './identity/consents.ts';
import { PasswordHasher } from './identity/passwords.ts';
import { Throttle } from './identity/throttle.ts';
import { type AccountRevoker, UserService } from './identity/users.ts';
import { FactorService } from './identity/factors.ts';
import { passkeyConfig, PasskeyService } from './identity/passkeys.ts';
import { AuditLog } from './admin/audit-log.ts';
import { EventLog } from './event-log.ts';
import { ApplicationAccess } from './identity/application-access.ts';
import { GroupService } from './identity/groups.ts';
import { InvitationService } from './identity/invitations.ts';
import { RegistrationService } from './identity/registrations.ts';
import { sendInvitationMail } from './flows/invitation.ts';
import { AccountLocks } from './identity/lockout.ts';
import { applyKickstart } from './kickstart.ts';
import { createLogger, type Logger } from './log.ts';
import { Courier } from './messaging/courier.ts';
import { senderOf as senderFor } from './messaging/transactional.ts';
import type { MessageType } from './hooks/catalog/events.ts';
import { MessageDispatcher } from './messaging/dispatcher.ts';
import { createMailer } from './messaging/mailer.ts';
import { MessageQueue } from './messaging/message-queue.ts';
import { announceDelivery } from './messaging/outbox.ts';
import { createSmsSender } from './messaging/sms.ts';
import { grantedApplications, revokeAccount, revokeApplication } from './oidc/adapter.ts';
import { ApplicationService } from './oidc/applications.ts';
import { KeyRing } from './oidc/key-ring.ts';
import { loadOrCreateKeys } from './oidc/keys.ts';
import { Housekeeping } from './housekeeping.ts';
import { createProvider } from './oidc/provider.ts';
import { ResourceServerService } from './oidc/resource-servers.ts';
import { createMetrics, observeSandbox } from './metrics.ts';
import { createFederation } from './providers/federation.ts';
import { WebhookDispatcher } from './webhooks/dispatcher.ts';
import { WebhookEndpointStore } from './webhooks/endpoints.ts';
import { EventSubscribers } from './webhooks/subscribers.ts';
import { WebhookTargets } from './webhooks/targets.ts';
import { TransactionalWebhooks } from './webhooks/transactional.ts';
import type { Resolver } from './net/resolve-target.ts';
import type { Services } from './services.ts';
import { MmdbLocator } from './geo/locator.ts';
import { BreachedPasswords } from './identity/breached-passwords.ts';
import { ThreatSignals } from './identity/threats.ts';

export interface RunningServer {
  url: string;
  port: number;
  services: Services;
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Where the one-time admin key announcement goes; stdout by default. */
  announce?: (line: string) => void;
  /** DNS for webhook URLs (the system resolver by default; tests answer names of their own). */
  resolve?: Resolver;
}

/** Runs the migrations; on PostgreSQL through connections of their own, without the statement timeout. */
async function migrate(db: Db, config: Config, timeouts: DatabaseTimeouts, log: Logger): Promise<void> {
  const onWait = (reason: string) => log.info({ reason }, 'waiting for another instance before migrating');
  const options = { lockTimeoutMs: config.cluster.migrationLockTimeoutMs, onWait };
  if (!isPostgres(db)) return migrateToLatest(db, options);
  const migrator = openDatabase(config.databaseUrl, { ...timeouts, statementMs: 0 }, knexLog(log));
  try {
    await migrateToLatest(migrator, options);
  } finally {
    await migrator.destroy();
  }
}

/** knex's and pg's warnings, as JSON log lines like every other. */
function knexLog(log: Logger) {
  return (level: 'warn' | 'error' | 'debug', message: string) => log[level]({ component: 'knex' }, message);
}

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const log = options.log ?? createLogger(config.logLevel);
  const announce = options.announce ?? ((line: string) => process.stdout.write(`${line}\n`));
  armFaultPoint(config.faultPoint);
  const { dbConnectTimeoutMs: connectMs, dbAcquireTimeoutMs: acquireMs, dbStatementTimeoutMs: statementMs } = config.cluster;
  const timeouts = { connectMs, acquireMs, statementMs };
  const db = openDatabase(config.databaseUrl, timeouts, knexLog(log));
  let server: Server | null = null;
  try {
    await migrate(db, config, timeouts, log);
    const encryptionKey = config.encryptionKey ?? (await getOrCreateSetting(db, 'encryption_key', () => randomBytes(32).toString('base64'))).value;
    const box = new SecretBox(encryptionKey);
    const adminKey = await establishAdminKey(db, config.adminApiKey, (key) => announce(`Generated the admin API key (shown once, store it now): ${key}`));
    if (adminKey.replaced === 'env-removed') {
      log.warn('the stored admin API key came from ADMIN_API_KEY, which is no longer set: that key no longer works, and a new one was generated (printed above)');
    } else if (adminKey.replaced === 'unknown-origin') {
      log.warn('the stored admin API key may have come from ADMIN_API_KEY, which is not set: it was replaced by a new generated key (printed above)');
    }
    announceDelivery(config, log);
    log.info({ admin_key: { source: adminKey.source, fingerprint: keyFingerprint(adminKey.hash) } }, 'admin API key in force');
    const keys = new KeyRing(db, await loadOrCreateKeys(db), { refreshMs: config.cluster.keyRefreshMs, log });
    const metrics = createMetrics();
    // Signing an account out everywhere (an operator, a lock, disabling, a reset) ends its account-page sessions too.
    const accountSessions = new AccountSessions(db, config.account.sessionSeconds);
    const revokeEverywhere: AccountRevoker = async (within, accountId, reason) => {
      await revokeAccount(within as Db, accountId, reason);
      await accountSessions.closeAll(accountId, null, within);
    };
    const breached = new BreachedPasswords(config.threats, { log, resolve: options.resolve });
    const users = new UserService(db, new PasswordHasher(config.password, metrics.passwordChecks), config.password, revokeEverywhere, breached);
    const factors = new FactorService(db, box, config.mfa);
    const applications = new ApplicationService(db, box);
    const resourceServers = new ResourceServerService(db);
    const sandbox = new HookSandbox({
      memoryBudgetMb: config.hooks.memoryBudgetMb,
      onCatastrophicError: (message) => log.fatal({ message }, 'a hook isolate failed catastrophically; restart the server'),
    });
    observeSandbox(metrics.registry, () => sandbox.stats());
    const hooks = new HookStore(db, box, codeProblem, async (clientId) => (await applications.find(clientId)) !== null);
    const executions = new ExecutionLog(db, log, config.hooks.executionsPerSecond);
    const hookJobs = new HookJobQueue(db, config.hooks.asyncLeaseMs, box);
    // SQLite: one server per database, so a job leased at start is a dead process's: free it now.
    if (!isPostgres(db)) await hookJobs.releaseLeftovers();
    let worker: HookWorker | null = null;
    const runner = new HookRunner({
      db,
      store: hooks,
      executor: sandbox,
      executions,
      jobs: hookJobs,
      log,
      metrics,
      applicationName: async (clientId) => (await applications.find(clientId))?.name ?? null,
      onQueued: () => worker?.kick(),
      fairShare: config.hooks.fairShare,
    });
    worker = new HookWorker({ db, store: hooks, runner, log, jobs: hookJobs, settings: config.hooks });
    const throttle = new Throttle(db, config.throttle.windowSeconds);
    const lifecycle = runner;
    const webhookTargets = new WebhookTargets(config.webhooks.allowedHosts, options.resolve);
    const webhooks = new WebhookEndpointStore(db, box, { rotationWindowMs: config.webhooks.rotationWindowMs, targets: webhookTargets });
    const webhookDispatcher = config.webhooks.dispatcher ? new WebhookDispatcher({ db, store: webhooks, log, settings: config.webhooks, metrics, targets: webhookTargets }) : null;
    const tokens = new ActionTokens(db);
    const invitations = new InvitationService(db, users, tokens, {
      ttlSeconds: config.ttl.invitationSeconds,
      issuer: config.issuer,
      applicationExists: async (clientId) => (await applications.find(clientId)) !== null,
      // The mail is rendered with the services below (built next; no invitation is sent before).
      deliver: (invitation, user, link) => sendInvitationMail(services, invitation, user, link),
    });
    const locator = await MmdbLocator.open(config.geoip.database);
    const subscribers = new EventSubscribers(webhooks);
    // Transactional endpoints: the changes that wait for them ask before they commit.
    const transactional = new TransactionalWebhooks({ endpoints: () => subscribers.endpoints(), settings: config.webhooks, targets: webhookTargets, log, metrics });
    users.useGate(transactional);
    // Mail and texts: the courier (hooks, then the queue) in front of the one set of transports.
    const messageQueue = new MessageQueue(db, box, config.messages.leaseMs);
    const sms = createSmsSender({ webhookUrl: config.smsWebhookUrl, devOutbox: config.smsDevOutbox, db, log });
    const mailer = createMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, db, log });
    const messageDispatcher = new MessageDispatcher({ db, queue: messageQueue, transports: { mailer, sms }, settings: config.messages, log, metrics });
    const senderOf = async (clientId: string | null, type: MessageType) => (clientId ? senderFor((await applications.find(clientId))?.message_delivery ?? {}, type) : 'tessera');
    const courier = new Courier({ db, lifecycle, senderOf, queue: messageQueue, dispatcher: messageDispatcher, log, smsAvailable: sms !== null });
    const federation = createFederation({ db, box, config, resolve: options.resolve, applicationExists: async (clientId) => (await applications.find(clientId)) !== null });
    const verifiedClaims = async (userId: string) => {
      const result = await federation.verifications.get(userId);
      return result?.status === 'verified' ? result.verified_claims : null;
    };
    const registrations = new RegistrationService(db, transactional);
    const provider = createProvider({ config, db, keys: keys.current, users, applications, resourceServers, lifecycle, log, factors, verifiedClaims, subscribers, registrations });
    const services: Services = {
      config,
      db,
      log,
      box,
      users,
      factors,
      passkeys: new PasskeyService(db, factors, passkeyConfig(config.issuer), log),
      applications,
      access: new ApplicationAccess(db, { granted: grantedApplications, revoke: revokeApplication }),
      resourceServers,
      provider,
      keys,
      locks: new AccountLocks(db, throttle, revokeEverywhere),
      courier,
      messageQueue,
      messageDispatcher,
      lifecycle,
      locator,
      threats: new ThreatSignals(db, config.threats),
      metrics,
      hooks,
      sandbox,
      runner,
      executions,
      hookJobs,
      tokens,
      invitations,
      registrations,
      groups: new GroupService(db, transactional),
      consents: new ConsentService(db),
      throttle,
      flowStates: new FlowStates(db),
      webhooks,
      webhookDispatcher,
      transactional,
      audit: new AuditLog(db),
      eventLog: new EventLog(db),
      adminKey: new AdminKeyCache(db, adminKey.hash),
      adminGuard: new AdminKeyGuard(throttle, config.throttle.adminMaxFailuresPerIp, config.throttle.windowSeconds),
      federation,
      console: { access: new ConsoleAccess(db), sessions: new ConsoleSessions(db, config.console.sessionSeconds) },
      account: { sessions: accountSessions },
    };

    if (config.kickstartFile && (await applications.count()) === 0) {
      await applyKickstart(services, config.kickstartFile);
    }
    // After KICKSTART, which runs only while the database holds no application.
    await ensureConsoleClient(db, box, applications, config.issuer);
    await ensureAccountClient(db, box, applications, config.issuer);

    answerDatabaseFaults(provider);
    const app = createApp(services);
    server = createServer(app.callback());
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(config.port, config.host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    worker.start();
    await webhookDispatcher?.start();
    await messageDispatcher.start();
    keys.start(provider);
    const housekeeping = new Housekeeping(services);
    housekeeping.start();
    log.info({ port, issuer: config.issuer, database: config.databaseUrl.split(':')[0] }, 'tessera is listening');

    const running: RunningServer = {
      url: `http://127.0.0.1:${port}`,
      port,
      services,
      async close() {
        keys.stop();
        // In-flight requests get SHUTDOWN_GRACE to finish; idle keep-alive connections go at once.
        await new Promise<void>((resolve) => {
          server!.close(() => resolve());
          server!.closeIdleConnections();
          setTimeout(() => server!.closeAllConnections(), config.shutdownGraceMs).unref();
        });
        await worker!.stop();
        await housekeeping.stop();
        await executions.flush();
        await webhookDispatcher?.stop();
        await messageDispatcher.stop();
        subscribers.close();
        transactional.close();
        sandbox.dispose();
        mailer.close();
        await db.destroy();
      },
    };
    return running;
  } catch (error) {
    server?.close();
    await db.destroy();
    throw error;
  }
}

/**
 * The provider answers its own errors (500 server_error); a database that does not answer is a 503
 * with Retry-After instead, and the OAuth error says so (RFC 6749's temporarily_unavailable).
 */
function answerDatabaseFaults(provider: Provider): void {
  provider.on('server_error', (ctx: KoaContextWithOIDC, err: unknown) => {
    if (!isDatabaseUnavailable(err)) return;
    ctx.status = 503;
    ctx.set('retry-after', String(RETRY_AFTER_SECONDS));
    const body = ctx.body as { error?: string } | undefined;
    if (body && typeof body === 'object' && body.error === 'server_error') {
      ctx.body = { error: 'temporarily_unavailable', error_description: 'the service is briefly unavailable; try again in a few seconds' };
    }
  });
}
