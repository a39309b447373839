/**
 * An answer made comparable across servers and runs, by rule and never by hand: whatever one run
 * generated (tokens, accessors, ids, lease ids, passwords, user names, times, versions) is
 * masked, and every value the corpus saved (or the run's tag) is written as its {name} wherever
 * it appears. What is left — status, keys, policies, flags, TTLs, error texts — is what the
 * servers are compared on (compare.ts).
 */

export interface NormalizedAnswer {
  id: string;
  status: number;
  /** A redirect's target, masked like the body. */
  location?: string;
  /** The JSON body, masked; `{ "$text": … }` for a body that is not JSON; null for none. */
  body: unknown;
}

/** Keys whose value one run generated: masked wherever they appear. */
const GENERATED_KEY =
  /^(request_id|accessor|client_token|id|secret_id|secret_id_accessor|role_id|password|username|entity_id|cluster_id|cluster_name|nonce|build_date|server_time_utc|time|last_renewal|mfa_request_id|token|hmac|issue_time|expire_time|creation_time|created_time|updated_time|modified|deletion_time|last_renewal_time|last_updated_time|expiration_time|.*_accessor|local_mount_id|uuid|mount_accessor|last_echo|api_address|cluster_address|hostname|plugin_version|running_plugin_version|running_sha256)$/;

export function normalizeAnswer(
  id: string,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  text: string,
  json: unknown,
  saved: Record<string, string>,
): NormalizedAnswer {
  const masks = Object.entries(saved)
    .filter(([, value]) => value.length >= 4)
    .sort((a, b) => b[1].length - a[1].length);
  const maskText = (s: string) => masks.reduce((out, [name, value]) => out.split(value).join(`{${name}}`), s);
  const location = typeof headers.location === 'string' ? maskText(headers.location) : undefined;
  const body = json !== null ? maskValue(json, maskText) : text === '' ? null : { $text: maskText(text).slice(0, 300) };
  return { id, status, ...(location !== undefined ? { location } : {}), body };
}

/** A generated id in a list (a lease's last segment under sys/leases/lookup): 20 or more letters and digits. */
const GENERATED_ID = /^[A-Za-z0-9]{20,}$/;

function maskValue(value: unknown, maskText: (s: string) => string, key?: string): unknown {
  if (Array.isArray(value)) return value.map((v) => (key === 'keys' && typeof v === 'string' && GENERATED_ID.test(v) ? '<id>' : maskValue(v, maskText)));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    // Keys too: a mount or a path named after the run (`kv2-<run>/`) is the same key on both sides.
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[maskText(k)] = maskValue(v, maskText, k);
    return out;
  }
  if (key !== undefined && GENERATED_KEY.test(key)) {
    // Go's zero time ("never") is a value, not a generated one.
    if (value === null || value === '' || value === 0 || (typeof value === 'string' && value.startsWith('0001-01-01'))) return value;
    // A token's form is the server's (`s.` or `hvs.`, `b.` or `hvb.`): kept, the rest masked.
    const form = typeof value === 'string' ? /^(hv[sbr]|[sbr])\./.exec(value) : null;
    if (form) return `${form[0]}<masked>`;
    return typeof value === 'number' ? '<number>' : typeof value === 'string' ? '<masked>' : value;
  }
  if (key === 'lease_id' && typeof value === 'string' && value !== '') {
    // The path a lease was issued under is the answer's; its last segment is random.
    const masked = maskText(value);
    return masked.includes('/') ? `${masked.slice(0, masked.lastIndexOf('/'))}/<id>` : '<id>';
  }
  // A server's version (2.0.0-HEAD, 2.3.1), not a KV mount's "2" or a policy's number.
  if (key === 'version' && typeof value === 'string' && /\d+\.\d+/.test(value)) return '<version>';
  return typeof value === 'string' ? maskText(value) : value;
}
