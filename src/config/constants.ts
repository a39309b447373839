/**
 * The fixed value lists of the configuration, kept free of imports so the CLI can offer them as
 * option choices without loading zod at start-up.
 */
export const CREDENTIAL_SOURCES = ['dynamic', 'kv', 'env', 'defaults'] as const;
export type CredentialSourceName = (typeof CREDENTIAL_SOURCES)[number];

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Where the engine set-up reads the PostgreSQL admin password from: never a flag, never printed. */
export const ADMIN_PASSWORD_ENV = 'DELPHI_DB_ADMIN_PASSWORD';
