// The ordered list of migrations. Imported statically so the same code runs from src/ (type
// stripping) and from dist/ (compiled), with no file-system discovery.
import type { Knex } from 'knex';
import * as core001 from './001_core.ts';
import * as hooks003 from './003_hooks.ts';
import * as webhooks004 from './004_webhooks.ts';
import * as mfa005 from './005_mfa.ts';
import * as accounts006 from './006_account_index.ts';
import * as applicationSettings007 from './007_application_settings.ts';
import * as lockout008 from './008_lockout.ts';
import * as hookVersions013 from './013_a_hook_versions.ts';
import * as messageQueue013 from './013_b_message_queue.ts';
import * as keyGenerations014 from './014_a_key_generations.ts';
import * as external015 from './015_external.ts';
import * as console016 from './016_console.ts';
import * as webhookSubscriptions017 from './017_webhook_subscriptions.ts';
import * as invitations017 from './017_b_invitations.ts';
import * as auditLog017 from './017_c_audit_log.ts';
import * as messageDelivery018 from './018_message_delivery.ts';
import * as account021 from './021_account.ts';
import * as registrations019 from './019_registrations_groups.ts';
import * as importDevices020 from './020_import_devices.ts';
import * as consoleLookups022 from './022_console_lookups.ts';
import * as transactionalEventLog023 from './023_transactional_event_log.ts';
import * as passkeys024 from './024_passkeys.ts';
import * as locales025 from './025_locales.ts';

export interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

export const migrations: Array<[name: string, migration: Migration]> = [
  ['001_core', core001],
  ['003_hooks', hooks003],
  ['004_webhooks', webhooks004],
  ['005_mfa', mfa005],
  ['006_account_index', accounts006],
  ['007_application_settings', applicationSettings007],
  ['008_lockout', lockout008],
  ['013_a_hook_versions', hookVersions013],
  ['013_b_message_queue', messageQueue013],
  ['014_a_key_generations', keyGenerations014],
  ['015_external', external015],
  ['016_console', console016],
  ['017_webhook_subscriptions', webhookSubscriptions017],
  ['017_b_invitations', invitations017],
  ['017_c_audit_log', auditLog017],
  ['018_message_delivery', messageDelivery018],
  ['021_account', account021],
  ['019_registrations_groups', registrations019],
  ['020_import_devices', importDevices020],
  ['022_console_lookups', consoleLookups022],
  ['023_transactional_event_log', transactionalEventLog023],
  ['024_passkeys', passkeys024],
  ['025_locales', locales025],
];
