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

export function redactString(text: string): string {
  return text
    // A Vault template ({{password}}) stands for a password; it is not one.
    .replace(URL_PASSWORD, (match: string, user: string, password: string) => (/^\{\{\w+\}\}$/.test(password) ? match : `${user}${REDACTED}@`))
    .replace(KV_PASSWORD, `$1${REDACTED}`)
    .replace(JSON_SECRET, `$1"${REDACTED}"`)
    .replace(VAULT_TOKEN, REDACTED)
    .replace(JWT, REDACTED);
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
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
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
