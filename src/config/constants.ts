/**
 * The fixed value lists of the configuration, kept free of imports so the CLI can offer them as
 * option choices without loading zod at start-up.
 */
export const CREDENTIAL_SOURCES = ['dynamic', 'kv', 'env', 'defaults'] as const;
export type CredentialSourceName = (typeof CREDENTIAL_SOURCES)[number];

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** libpq's target_session_attrs: which of several hosts a session wants (db/hosts.ts). */
export const TARGET_SESSION_ATTRS = ['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby'] as const;
export type TargetSessionAttrs = (typeof TARGET_SESSION_ATTRS)[number];

/** Where the dashboard reads from on a site with standbys. */
export const READ_FROM = ['primary', 'standby', 'any'] as const;
export type ReadFrom = (typeof READ_FROM)[number];

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Where the engine set-up reads the PostgreSQL admin password from: never a flag, never printed. */
export const ADMIN_PASSWORD_ENV = 'DELPHI_DB_ADMIN_PASSWORD';
