import { z } from 'zod';
import { parseDurationSeconds } from '../util/duration.js';
import { CREDENTIAL_SOURCES, LOG_LEVELS, SSL_MODES } from './constants.js';

/**
 * The one configuration file (DESIGN §3). Objects are strict: a misspelt key is an error
 * rather than a silently ignored setting. There is deliberately no field for a token or a
 * password: those live where the Vault CLI keeps them, or in a file the config names.
 */

export { CREDENTIAL_SOURCES, LOG_LEVELS, SSL_MODES, type CredentialSourceName, type LogLevel, type SslMode } from './constants.js';

const nonEmpty = z.string().trim().min(1, 'must not be empty');

const duration = z.union([z.number(), z.string()]).refine((v) => parseDurationSeconds(v) !== undefined, {
  message: 'must be a duration such as 30, "30s", "5m" or "1h"',
});

const vaultAuth = z.discriminatedUnion(
  'method',
  [
    // VAULT_TOKEN, else the token file the Vault CLI keeps (~/.vault-token).
    z.strictObject({ method: z.literal('token') }),
    // A token file at another path, read fresh at every start.
    z.strictObject({ method: z.literal('token-file'), path: nonEmpty }),
    z.strictObject({
      method: z.literal('approle'),
      roleId: nonEmpty,
      secretIdFile: nonEmpty,
      mount: nonEmpty.default('approle'),
    }),
  ],
  { error: () => 'must be one of "token", "token-file", "approle"' },
);

const vault = z.strictObject({
  address: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  auth: vaultAuth.optional(),
  caCert: nonEmpty.optional(),
  caPath: nonEmpty.optional(),
  clientCert: nonEmpty.optional(),
  clientKey: nonEmpty.optional(),
  tlsSkipVerify: z.boolean().optional(),
  tlsServerName: nonEmpty.optional(),
  namespace: nonEmpty.optional(),
  timeout: duration.optional(),
  maxRetries: z.int().min(0).max(20).optional(),
});

const database = z.strictObject({
  host: nonEmpty.optional(),
  port: z.int().min(1).max(65535).optional(),
  name: nonEmpty.optional(),
  sslmode: z.enum(SSL_MODES).optional(),
});

const engine = z.strictObject({
  mount: nonEmpty.default('database'),
  connection: nonEmpty.default('delphi-postgresql'),
  role: nonEmpty.default('delphi-readonly'),
  workerRole: nonEmpty.default('delphi-worker'),
});

const credentials = z.strictObject({
  sources: z
    .array(z.enum(CREDENTIAL_SOURCES))
    .min(1, 'must name at least one source')
    .refine((list) => new Set(list).size === list.length, { message: 'must not repeat a source' })
    .default([...CREDENTIAL_SOURCES]),
  renewAt: z.number().gt(0.1).lt(1).default(0.75),
});

const log = z.strictObject({
  file: nonEmpty.optional(),
  level: z.enum(LOG_LEVELS).optional(),
});

export const configSchema = z.strictObject({
  vault: vault.prefault({}),
  kv: z.strictObject({ mount: nonEmpty.default('secret') }).prefault({}),
  database: database.prefault({}),
  engine: engine.prefault({}),
  credentials: credentials.prefault({}),
  log: log.prefault({}),
});

/** The configuration as written in a file (everything optional). */
export type ConfigInput = z.input<typeof configSchema>;
/** The configuration with defaults applied. */
export type Config = z.output<typeof configSchema>;
export type VaultAuthConfig = z.output<typeof vaultAuth>;

export const DEFAULT_CONFIG: Config = configSchema.parse({});
