import * as z from 'zod/mini';
import { isVaultName, isVaultPathOfNames } from './vault-names.js';

// eos is a short-lived process that parses each schema a handful of times: zod's JIT, which
// compiles a function per object schema at its first parse, costs more than it saves here
// (~5 ms of every command's start-up). Set here, the module every command loads first.
z.config({ jitless: true });
import { parseDurationSeconds } from '../util/duration.js';
import { CREDENTIAL_SOURCES, LOG_LEVELS, SSL_MODES, TARGET_SESSION_ATTRS } from './constants.js';

/**
 * The one configuration file (docs/design.md §3). Objects are strict: a misspelt key is an error
 * rather than a silently ignored setting. There is deliberately no field for a token or a
 * password: those live where the Vault CLI keeps them, or in a file the config names.
 */

export { CREDENTIAL_SOURCES, LOG_LEVELS, SSL_MODES, type CredentialSourceName, type LogLevel, type SslMode } from './constants.js';

const nonEmpty = z.string().check(z.trim(), z.minLength(1, 'must not be empty'));
/** A Vault role or connection name, and a mount path of such names (src/vault/names.ts). */
const vaultName = nonEmpty.check(z.refine(isVaultName, { message: 'must be a Vault name: letters, digits and _, with . and - inside' }));
const mountPath = nonEmpty.check(z.refine((v) => isVaultPathOfNames(v) && !v.endsWith('/'), { message: 'must be a Vault mount path: names joined by /' }));
const withDefault = <T extends z.ZodMiniType>(schema: T, value: z.output<T>) => z._default(schema, value as never);

const duration = z.union([z.number(), z.string()]).check(
  z.refine((v) => parseDurationSeconds(v) !== undefined, { message: 'must be a duration such as 30, "30s", "5m" or "1h"' }),
);

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
      mount: withDefault(nonEmpty, 'approle'),
      /** The file holds a wrapping token around the secret-id (a trusted orchestrator's delivery). */
      secretIdWrapped: z.optional(z.boolean()),
    }),
    // The CI job's or the pod's signed identity token, exchanged at auth/<mount>/login.
    z.strictObject({
      method: z.literal('jwt'),
      role: nonEmpty,
      mount: withDefault(nonEmpty, 'jwt'),
      identityToken: z.discriminatedUnion(
        'from',
        [
          // A file the platform rotates (a projected service-account token): read at every login.
          z.strictObject({ from: z.literal('file'), path: nonEmpty }),
          // A variable the CI system sets (GitLab's id_tokens).
          z.strictObject({ from: z.literal('env'), name: nonEmpty }),
          // GitHub Actions' request URL and token (permissions: id-token: write).
          z.strictObject({ from: z.literal('github'), audience: z.optional(nonEmpty) }),
        ],
        { error: () => 'must be {"from": "file", "path"}, {"from": "env", "name"} or {"from": "github"}' },
      ),
    }),
  ],
  { error: () => 'must be one of "token", "token-file", "approle", "jwt"' },
);

const vault = z.strictObject({
  address: z.optional(z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })),
  auth: z.optional(vaultAuth),
  caCert: z.optional(nonEmpty),
  caPath: z.optional(nonEmpty),
  clientCert: z.optional(nonEmpty),
  clientKey: z.optional(nonEmpty),
  tlsSkipVerify: z.optional(z.boolean()),
  tlsServerName: z.optional(nonEmpty),
  namespace: z.optional(nonEmpty.check(z.refine(isVaultPathOfNames, { message: 'must be a Vault namespace path: names joined by /' }))),
  timeout: z.optional(duration),
  maxRetries: z.optional(z.int().check(z.minimum(0), z.maximum(20))),
});

const database = z.strictObject({
  host: z.optional(nonEmpty),
  /** A host, or libpq's list of hosts (`a,b`): a primary and its standbys. */
  port: z.optional(z.union([z.int().check(z.minimum(1), z.maximum(65535)), z.string().check(z.regex(/^\d{1,5}(,\d{1,5})+$/, 'must be a port number, or a list of ports as a string ("5432,5433")'))])),
  name: z.optional(nonEmpty),
  /** libpq's target_session_attrs for a list of hosts (default read-write when there are several). */
  targetSessionAttrs: z.optional(z.enum(TARGET_SESSION_ATTRS)),
  sslmode: z.optional(z.enum(SSL_MODES)),
  /** The CA file that signed PostgreSQL's certificate, as libpq's sslrootcert. */
  sslrootcert: z.optional(nonEmpty),
  /** A client certificate and its key (libpq's sslcert, sslkey), for a server that asks for one. */
  sslcert: z.optional(nonEmpty),
  sslkey: z.optional(nonEmpty),
  /** How long reads are retried while PostgreSQL restarts or fails over (default 15s). */
  retryWindow: z.optional(duration),
  /** How long a standby's refusal of a freshly issued login is waited out as replication lag (default 10s). */
  replayWait: z.optional(duration),
});

const engine = z.strictObject({
  mount: withDefault(mountPath, 'database'),
  connection: withDefault(vaultName, 'delphi-postgresql'),
  role: withDefault(vaultName, 'delphi-readonly'),
  workerRole: withDefault(vaultName, 'delphi-worker'),
});

const credentials = z.strictObject({
  sources: withDefault(
    z.array(z.enum(CREDENTIAL_SOURCES)).check(
      z.minLength(1, 'must name at least one source'),
      z.refine((list) => new Set(list).size === list.length, { message: 'must not repeat a source' }),
    ),
    [...CREDENTIAL_SOURCES],
  ),
  renewAt: withDefault(z.number().check(z.gt(0.1), z.lt(1)), 0.75),
});

const log = z.strictObject({
  file: z.optional(nonEmpty),
  level: z.optional(z.enum(LOG_LEVELS)),
});

export const configSchema = z.strictObject({
  vault: z.prefault(vault, {}),
  kv: z.prefault(z.strictObject({ mount: withDefault(mountPath, 'secret') }), {}),
  database: z.prefault(database, {}),
  engine: z.prefault(engine, {}),
  credentials: z.prefault(credentials, {}),
  log: z.prefault(log, {}),
});

/** The configuration as written in a file (everything optional). */
export type ConfigInput = z.input<typeof configSchema>;
/** The configuration with defaults applied. */
export type Config = z.output<typeof configSchema>;
export type VaultAuthConfig = z.output<typeof vaultAuth>;

export const DEFAULT_CONFIG: Config = configSchema.parse({});
