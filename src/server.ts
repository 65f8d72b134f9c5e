// Starts one Tessera server: database and migrations, keys, services, the koa app, the listener,
// and the periodic clean-up. main.ts calls it; tests call it to run a real server on loopback.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.ts';
import { AdminKeyGuard } from './admin/auth.ts';
import { ConsoleAccess } from './admin/console-access.ts';
import { ensureConsoleClient } from './admin/console-client.ts';
import { ConsoleSessions } from './admin/console-sessions.ts';
import { AdminKeyCache, establishAdminKey, keyFingerprint } from './admin/key.ts';
import type { Config } from './config.ts';
import { SecretBox } from './crypto.ts';
import { openDatabase } from './db/knex.ts';
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
import { UserService } from './identity/users.ts';
import { FactorService } from './identity/factors.ts';
import { AuditLog } from './admin/audit-log.ts';
import { ApplicationAccess } from './identity/application-access.ts';
import { InvitationService } from './identity/invitations.ts';
import { sendInvitationMail } from './flows/invitation.ts';
import { AccountLocks } from './identity/lockout.ts';
import { applyKickstart } from './kickstart.ts';
import { createLogger, type Logger } from './log.ts';
import { createMailer } from './messaging/mailer.ts';
import { announceDelivery } from './messaging/outbox.ts';
import { createSmsSender } from './messaging/sms.ts';
import { deleteExpiredModels, grantedApplications, revokeAccount, revokeApplication } from './oidc/adapter.ts';
import { ApplicationService } from './oidc/applications.ts';
import { loadOrCreateKeys } from './oidc/keys.ts';
import { createProvider } from './oidc/provider.ts';
import { ResourceServerService } from './oidc/resource-servers.ts';
import { createMetrics } from './metrics.ts';
import { WebhookDispatcher } from './webhooks/dispatcher.ts';
import { WebhookEndpointStore } from './webhooks/endpoints.ts';
import { WebhookTargets } from './webhooks/targets.ts';
import type { Resolver } from './net/resolve-target.ts';
import type { Services } from './services.ts';
import { MmdbLocator } from './geo/locator.ts';

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

const CLEANUP_INTERVAL_MS = 10 * 60 * 1000;

/**
 * Deletes what has expired, each store its own rows: OIDC artifacts, one-time tokens, interaction
 * state, throttle windows, factors' codes and devices, the hook execution log and finished jobs, the
 * webhook delivery log.
 */
async function cleanUp(services: Services): Promise<void> {
  const { config } = services;
  const now = Date.now();
  const models = await deleteExpiredModels(services.db, now);
  await services.tokens.prune(now);
  await services.flowStates.prune(now);
  await services.throttle.prune(now);
  await services.factors.prune(now);
  await services.console.sessions.prune(now);
  const executions = await services.executions.prune(config.hooks.executionMaxAgeDays * 86400_000, config.hooks.executionsPerHook, now);
  await services.hookJobs.prune(config.hooks.executionMaxAgeDays * 86400_000, now);
  const webhooks = await services.webhooks.prune(config.webhooks.retentionDays * 86400_000, now);
  await services.audit.prune(config.auditLogRetentionDays * 86400_000, now);
  services.log.debug({ models, executions, webhooks }, 'expired rows cleaned');
}

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const log = options.log ?? createLogger(config.logLevel);
  const announce = options.announce ?? ((line: string) => process.stdout.write(`${line}\n`));
  armFaultPoint(config.faultPoint);
  const db = openDatabase(config.databaseUrl);
  let server: Server | null = null;
  try {
    await migrateToLatest(db);
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
    const keys = await loadOrCreateKeys(db);
    const metrics = createMetrics();
    const users = new UserService(db, new PasswordHasher(config.password, metrics.passwordChecks), config.password, revokeAccount);
    const factors = new FactorService(db, box, config.mfa);
    const applications = new ApplicationService(db, box);
    const resourceServers = new ResourceServerService(db);
    const sandbox = new HookSandbox({ onCatastrophicError: (message) => log.fatal({ message }, 'a hook isolate failed catastrophically; restart the server') });
    const hooks = new HookStore(db, box, codeProblem, async (clientId) => (await applications.find(clientId)) !== null);
    const executions = new ExecutionLog(db, log);
    const hookJobs = new HookJobQueue(db, config.hooks.asyncLeaseMs);
    let worker: HookWorker | null = null;
    const runner = new HookRunner({
      db,
      store: hooks,
      executor: sandbox,
      executions,
      log,
      metrics,
      applicationName: async (clientId) => (await applications.find(clientId))?.name ?? null,
      onQueued: () => worker?.kick(),
    });
    worker = new HookWorker({ db, store: hooks, executor: sandbox, runner, log, jobs: hookJobs, settings: config.hooks });
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
    const provider = createProvider({ config, db, keys, users, applications, resourceServers, lifecycle, log, factors });
    const services: Services = {
      config,
      db,
      log,
      box,
      users,
      factors,
      applications,
      access: new ApplicationAccess(db, { granted: grantedApplications, revoke: revokeApplication }),
      resourceServers,
      provider,
      locks: new AccountLocks(db, throttle, revokeAccount),
      mailer: createMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, db, log }),
      sms: createSmsSender({ webhookUrl: config.smsWebhookUrl, devOutbox: config.smsDevOutbox, db, log }),
      lifecycle,
      locator,
      metrics,
      hooks,
      sandbox,
      runner,
      executions,
      hookJobs,
      tokens,
      invitations,
      consents: new ConsentService(db),
      throttle,
      flowStates: new FlowStates(db),
      webhooks,
      webhookDispatcher,
      audit: new AuditLog(db),
      adminKey: new AdminKeyCache(db, adminKey.hash),
      adminGuard: new AdminKeyGuard(throttle, config.throttle.adminMaxFailuresPerIp, config.throttle.windowSeconds),
      console: { access: new ConsoleAccess(db), sessions: new ConsoleSessions(db, config.console.sessionSeconds) },
    };

    if (config.kickstartFile && (await applications.count()) === 0) {
      await applyKickstart(services, config.kickstartFile);
    }
    // After KICKSTART, which runs only while the database holds no application.
    await ensureConsoleClient(db, box, applications, config.issuer);

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
    const timer = setInterval(() => {
      cleanUp(services).catch((err) => log.warn({ err }, 'clean-up failed'));
    }, CLEANUP_INTERVAL_MS);
    timer.unref();
    log.info({ port, issuer: config.issuer, database: config.databaseUrl.split(':')[0] }, 'tessera is listening');

    const running: RunningServer = {
      url: `http://127.0.0.1:${port}`,
      port,
      services,
      async close() {
        clearInterval(timer);
        // In-flight requests get SHUTDOWN_GRACE to finish; idle keep-alive connections go at once.
        await new Promise<void>((resolve) => {
          server!.close(() => resolve());
          server!.closeIdleConnections();
          setTimeout(() => server!.closeAllConnections(), config.shutdownGraceMs).unref();
        });
        await worker!.stop();
        await executions.flush();
        await webhookDispatcher?.stop();
        sandbox.dispose();
        services.mailer.close();
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
