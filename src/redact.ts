/**
 * Secret scrubbing shared by the log, error messages and anything printed. Kept free of heavy
 * imports so the error path of the CLI stays cheap.
 */

export const REDACTED = '[REDACTED]';

/** Keys whose values are secrets wherever they appear. */
const SECRET_KEY = /^(password|passwd|pass|pgpassword|secret|secret_?id|client_?token|token|x-vault-token|authorization|private_?key|admin_?password|jwt|id_?token|identity_?token)$/i;

/**
 * `scheme://user:password@host` → password replaced, up to the last `@` of the authority (an
 * unencoded `@` inside the password must not leave its tail behind).
 */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)([^/?#\s]*)@(?=[^@/?#\s]*(?:[/?#\s]|$))/gi;
/**
 * Assignments of a secret: libpq's `password=secret` and `password='s e c'`, and variables as a
 * shell or an env file writes them — `PGPASSWORD=…`, `DELPHI_DB_ADMIN_PASSWORD=…`,
 * `secret_id=…`, `VAULT_TOKEN=…` (a query string's `&` ends the value).
 */
const KV_PASSWORD = /\b([A-Za-z0-9_]*?(?:password|passwd|secret_?id|secret-id|token)\s*=\s*)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s&]+)/gi;
/** The same in JSON text: `"password":"…"`, `"secret_id": "…"`, `"client_token":"…"`. */
const JSON_SECRET = /("[A-Za-z0-9_]*?(?:password|passwd|secret_?id|token)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi;
/** Vault tokens in free text (hvs./hvb./hvr. and the legacy s./b. forms are long). */
const VAULT_TOKEN = /\b(hv[sbr]\.[A-Za-z0-9_-]{20,}|[sb]\.[A-Za-z0-9]{24,})\b/g;
/** Signed JWTs (identity tokens): a base64url JSON header (`eyJ`), a payload and a signature. */
const JWT = /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g;
/** A private key in PEM (a client key's contents where its path belonged), cut or whole. */
const PEM_PRIVATE_KEY = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;

export function redactString(text: string): string {
  return text
    // A Vault template ({{password}}) stands for a password; it is not one.
    .replace(URL_PASSWORD, (match: string, user: string, password: string) => (/^\{\{\w+\}\}$/.test(password) ? match : `${user}${REDACTED}@`))
    .replace(KV_PASSWORD, `$1${REDACTED}`)
    .replace(JSON_SECRET, `$1"${REDACTED}"`)
    .replace(VAULT_TOKEN, REDACTED)
    .replace(JWT, REDACTED)
    .replace(PEM_PRIVATE_KEY, `-----BEGIN $1PRIVATE KEY----- ${REDACTED}`);
}

/** Returns a copy of value with every secret replaced; cycles are cut. */
export function redact(value: unknown, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((item) => redact(item, seen));
  if (value instanceof Error) {
    const out: Record<string, unknown> = { type: value.name, message: redactString(value.message) };
    if (value.stack) out.stack = redactString(value.stack);
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? REDACTED : redact(v, seen);
    if (value.cause !== undefined) out.cause = redact(value.cause, seen);
    return out;
  }
  if (value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) && v !== null && v !== undefined && v !== '' ? REDACTED : redact(v, seen);
  }
  return out;
}

/** A lease id as logs and status show it: the path and the first characters of the random part. */
export function shortLeaseId(leaseId: string): string {
  const slash = leaseId.lastIndexOf('/');
  if (slash === -1) return leaseId.length > 8 ? `${leaseId.slice(0, 6)}…` : leaseId;
  return `${leaseId.slice(0, slash + 1)}${leaseId.slice(slash + 1, slash + 5)}…`;
}

/** The fixed mask for a secret value: the same whatever the value's length. */
export const MASK = '********';

/** Whether a field of that name holds a secret (password, token, secret_id, private_key …). */
function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/**
 * The fields `get` shows in clear: what Vault answers about a secret rather than the secret —
 * leases and TTLs, names and policies, versions and times, a database role's or connection's
 * definition, a server's health. Everything else is masked unless the user asks with
 * `--reveal`: a field eos does not know (an AWS `secret_key`, an OIDC `client_secret`, a
 * transit key, a cubbyhole value) is a secret until shown otherwise. An allow-list, because a
 * list of secret-looking names always misses the next engine's.
 */
const SHOWN_METADATA: ReadonlySet<string> = new Set([
  // leases and TTLs
  'lease_id', 'lease_duration', 'renewable', 'ttl', 'default_ttl', 'max_ttl', 'explicit_max_ttl', 'creation_ttl', 'period', 'num_uses',
  // who and what may
  // (not a token's accessor, which Vault's audit log hashes, nor its `meta`, which holds anything)
  'username', 'policies', 'token_policies', 'identity_policies', 'external_namespace_policies', 'display_name', 'entity_id', 'orphan', 'type', 'path', 'role_name',
  // versions and times
  'version', 'current_version', 'oldest_version', 'max_versions', 'cas_required', 'delete_version_after', 'created_time', 'creation_time', 'updated_time',
  'deletion_time', 'destroyed', 'expire_time', 'issue_time', 'last_renewal', 'last_renewal_time', 'expiration',
  // a database role and connection (their passwords are templates or not returned)
  'db_name', 'plugin_name', 'plugin_version', 'allowed_roles', 'verify_connection', 'connection_details', 'connection_url', 'max_open_connections',
  'max_idle_connections', 'max_connection_lifetime', 'username_template', 'password_authentication', 'credential_type', 'creation_statements',
  'revocation_statements', 'rollback_statements', 'renew_statements', 'root_credentials_rotate_statements',
  // sys/health and sys/seal-status
  'initialized', 'sealed', 'standby', 'performance_standby', 'replication_performance_mode', 'replication_dr_mode', 'server_time_utc', 'cluster_name',
  'cluster_id', 'enterprise', 'echo_duration_ms', 'clock_skew_ms', 'replication_primary_canary_age_ms', 'removed_from_cluster', 'ha_connection_healthy',
  'last_request_forwarding_heartbeat_ms', 'build_date', 'migration', 'recovery_seal', 'storage_type', 'seal_type',
]);

/** Whether `get` shows this field in clear without `--reveal` (SHOWN_METADATA says why so few). */
function isShownMetadata(key: string): boolean {
  return SHOWN_METADATA.has(key) && !isSecretKey(key);
}

/**
 * A copy for `get`'s display: known metadata in clear (with any password in a connection string
 * or token in text still scrubbed), every other value masked — inside a known field too: the
 * `connection_details` of another database plugin may hold a `tls_certificate_key`. true/false
 * and empty values stay: they say a field is set or not, and hold nothing.
 */
export function maskExceptMetadata(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(maskExceptMetadata);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shownValue(k, v)]));
}

function shownValue(key: string, value: unknown): unknown {
  if (value === null || value === '' || typeof value === 'boolean') return value;
  if (!isShownMetadata(key)) return MASK;
  if (typeof value !== 'object') return maskSecrets(value);
  // An array of text (policies, statements) as it is, scrubbed; anything with fields, field by field.
  if (Array.isArray(value)) return value.map((item) => (item !== null && typeof item === 'object' ? maskExceptMetadata(item) : maskSecrets(item)));
  return maskExceptMetadata(value);
}

/**
 * A copy for display: the values of secret fields masked, passwords inside connection strings
 * and tokens inside text scrubbed, everything else (names, TTLs, hosts, policies) as it is.
 */
export function maskSecrets(value: unknown): unknown {
  if (typeof value === 'string') return redactString(value);
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isSecretKey(k) && v !== null && v !== '' ? MASK : maskSecrets(v)]));
}
