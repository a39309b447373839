import * as z from 'zod/mini';
import { ExitCode } from '../errors.js';
import { VaultError } from './errors.js';

/**
 * What Vault answers (docs/design.md §9), checked where it enters eos: the client parses
 * every response into these types, so a server that answers otherwise (a proxy's HTML page, an
 * older API, a field of the wrong type) is one clear error naming the path and the field, not a
 * crash somewhere later. Objects are loose: Vault adds fields over versions, and eos reads only
 * these.
 */

const stringMap = z.record(z.string(), z.string());

export const authBlockSchema = z.looseObject({
  // Empty when the login is held back for login MFA (the block then carries mfa_requirement).
  client_token: z.string(),
  accessor: z.string(),
  // null in that same held-back answer; OpenBao sends the field always.
  policies: z._default(z.nullable(z.array(z.string())), null),
  token_policies: z.optional(z.array(z.string())),
  metadata: z.nullable(z.optional(stringMap)),
  lease_duration: z.number(),
  renewable: z.boolean(),
});

/** The envelope of every successful logical response; `data` is checked by the caller's schema. */
export const envelopeSchema = z.looseObject({
  request_id: z.optional(z.string()),
  lease_id: z._default(z.string(), ''),
  renewable: z._default(z.boolean(), false),
  lease_duration: z._default(z.number(), 0),
  data: z._default(z.nullable(z.record(z.string(), z.unknown())), null),
  warnings: z._default(z.nullable(z.array(z.string())), null),
  auth: z._default(z.nullable(authBlockSchema), null),
});

export const tokenInfoSchema = z.looseObject({
  accessor: z.string(),
  display_name: z.string(),
  // null for a batch token made without any policy (decoded from protobuf, an empty list is nil).
  policies: z.pipe(z.nullable(z.array(z.string())), z.transform((p) => p ?? [])),
  ttl: z.number(),
  creation_ttl: z.number(),
  expire_time: z.nullable(z.string()),
  explicit_max_ttl: z.number(),
  // OpenBao leaves both out for a token its expiration manager does not track: the root token
  // of `operator init` (or generate-root). Such a token has no TTL to renew.
  issue_time: z.optional(z.string()),
  renewable: z._default(z.boolean(), false),
  path: z.string(),
  meta: z.nullable(z.optional(stringMap)),
  /** Uses left; 0 (or absent): no limit. */
  num_uses: z.optional(z.number()),
  /** `service` or `batch` (absent on old servers). */
  type: z.optional(z.string()),
});

export const healthSchema = z.looseObject({
  initialized: z.boolean(),
  sealed: z.boolean(),
  standby: z.boolean(),
  version: z.string(),
  cluster_name: z.optional(z.string()),
  /** The same on every node of one Vault; absent until it is initialised and unsealed. */
  cluster_id: z.optional(z.string()),
  /** The server's clock (Unix seconds). */
  server_time_utc: z.optional(z.number()),
});

export const leaseRenewalSchema = z.looseObject({
  lease_id: z.string(),
  renewable: z.boolean(),
  lease_duration: z.number(),
  warnings: z._default(z.nullable(z.array(z.string())), null),
});

export const leaseInfoSchema = z.looseObject({
  id: z.string(),
  issue_time: z.string(),
  expire_time: z.nullable(z.string()),
  last_renewal: z.nullable(z.string()),
  renewable: z.boolean(),
  ttl: z.number(),
  /** Why Vault's last revocation of it failed (it keeps trying, then gives up: irrevocable). */
  revoke_error: z.optional(z.string()),
});

// A list answer that carries warnings but no keys leaves `keys` out (OpenBao's ListResponse).
export const listSchema = z.looseObject({ keys: z._default(z.array(z.string()), []) });

/** `sys/mounts`: every mount by its path, with its engine type. */
export const mountsSchema = z.record(z.string(), z.looseObject({ type: z.string() }));

/** `sys/policies/acl/<name>`: the policy's text as written. */
export const policySchema = z.looseObject({ name: z.string(), policy: z.string() });

/** `sys/capabilities-self`: the capabilities per path asked (and `capabilities` for one path). */
export const capabilitiesSchema = z.record(z.string(), z.array(z.string()));

/** `sys/internal/ui/mounts/<path>`: the mount a path falls in. */
export const uiMountSchema = z.looseObject({ path: z.string(), type: z.string(), options: z.optional(z.nullable(z.record(z.string(), z.string()))) });

/** A KV v2 read: the secret and its version's metadata (a soft-deleted version has null data). */
export const kvV2Schema = z.looseObject({
  data: z.nullable(z.record(z.string(), z.unknown())),
  metadata: z.looseObject({ version: z.number(), deletion_time: z.string(), destroyed: z.boolean() }),
});

/** `<mount>/config/<connection>` of the database engine. */
export const databaseConnectionSchema = z.looseObject({
  plugin_name: z.string(),
  allowed_roles: z.array(z.string()),
  // The plugin's own settings: connection_url for PostgreSQL, absent for plugins without one (Cassandra's hosts).
  connection_details: z.looseObject({ connection_url: z.optional(z.string()), username: z.optional(z.string()) }),
});

/** `<mount>/roles/<role>` of the database engine. */
export const databaseRoleSchema = z.looseObject({
  db_name: z.string(),
  creation_statements: z.array(z.string()),
  revocation_statements: z.array(z.string()),
  default_ttl: z.number(),
  max_ttl: z.number(),
});

/** `sys/wrapping/lookup`: where a wrapping token's answer came from, and its TTL. */
export const wrappingInfoSchema = z.looseObject({ creation_path: z.string(), creation_ttl: z.number() });

/** `<mount>/creds/<role>` of the database engine. */
// No password when the role's credential_type is rsa_private_key or client_certificate.
export const databaseCredsSchema = z.looseObject({ username: z.string(), password: z.optional(z.string()) });

export type AuthBlock = z.output<typeof authBlockSchema>;
export type TokenInfo = z.output<typeof tokenInfoSchema>;
export type HealthInfo = z.output<typeof healthSchema>;
export type LeaseRenewal = z.output<typeof leaseRenewalSchema>;
export type LeaseInfo = z.output<typeof leaseInfoSchema>;

export interface SecretResponse<D = Record<string, unknown>> {
  request_id?: string | undefined;
  lease_id: string;
  renewable: boolean;
  lease_duration: number;
  data: D | null;
  warnings: string[] | null;
  auth: AuthBlock | null;
}

/** Any schema of the shape a caller expects in `data`. */
export type DataSchema<D> = z.ZodMiniType<D>;

/** Vault answered, but not in the shape its API documents. */
export class VaultResponseError extends VaultError {
  constructor(path: string, detail: string) {
    super(
      `Vault's answer to ${path} does not fit its API: ${detail}`,
      ExitCode.failed,
      'check that VAULT_ADDR points at Vault or OpenBao itself (not a proxy page), and the server version',
    );
  }
}

/** Parses `body` or throws a VaultResponseError naming the first field that does not fit. */
export function parseResponse<T>(schema: z.ZodMiniType<T>, path: string, body: unknown, prefix = ''): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = [prefix, ...(issue?.path ?? []).map(String)].filter((p) => p !== '').join('.') || '(the body)';
  throw new VaultResponseError(path, `${field}: ${issue?.message ?? 'unexpected value'}`);
}

/** The envelope, with `data` checked by `dataSchema` when one is given. */
export function parseSecret<D = Record<string, unknown>>(path: string, body: unknown, dataSchema?: DataSchema<D>): SecretResponse<D> {
  const envelope = parseResponse(envelopeSchema, path, body ?? {});
  if (!dataSchema || envelope.data === null) return envelope as SecretResponse<D>;
  return { ...envelope, data: parseResponse(dataSchema, path, envelope.data, 'data') };
}
