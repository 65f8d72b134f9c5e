// The one entry point flows call at each lifecycle point: `lifecycle.run(event, payload, ctx)`.
// The hook runner (runner.ts) implements it.

export type LifecycleEvent =
  | 'before_registration' | 'before_progressive_profiling' | 'after_registration' | 'after_account_activation'
  | 'after_identification' | 'at_failed_identification' | 'before_password_validation' | 'at_failed_authentication'
  | 'before_mfa_send' | 'after_mfa_send' | 'after_mfa_change' | 'before_password_reset' | 'after_password_reset'
  | 'after_username_request' | 'after_login' | 'after_external_login' | 'before_id_token' | 'after_consent_update'
  | 'after_account_disabled' | 'after_account_deleted';

export interface LifecycleContext {
  applicationId: string | null;
  ip: string | null;
  userAgent: string | null;
  locale: string | null;
}

/** What the sync hooks decided, merged: a denial (with the message to show) or the actions to apply. */
export interface LifecycleOutcome {
  denied: { message: string } | null;
  actions: Array<{ type: string; [key: string]: unknown }>;
  /** True when a hook with on_error "fail" threw or hit a limit (denied then holds a generic message). */
  failed?: boolean;
}

export interface Lifecycle {
  run(event: LifecycleEvent, payload: Record<string, unknown>, ctx: LifecycleContext): Promise<LifecycleOutcome>;
}
