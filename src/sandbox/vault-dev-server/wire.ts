import { randomUUID } from 'node:crypto';
import { parseDurationSeconds } from '../../util/duration.js';

/**
 * Vault's wire format (§0 of the API eos relies on, docs/design.md#9-the-vault-api-eos-relies-on):
 * the success envelope, 204 for empty successes, and `{"errors":[…]}` with the status Vault uses
 * for each kind of failure; fields read from request bodies; times as Go writes them.
 *
 * A § in this folder's comments names a part of that API as docs/vault-dev-server.md's table
 * does: wire §0, sys §1, tokens and AppRole §2, KV §3, database §4, leases §5.
 */

/** What a request asks, as Vault's logical.Operation (an HTTP method maps onto one). */
/** `scan`: OpenBao's recursive list (the SCAN method, or GET `?scan=true`). */
export type Operation = 'read' | 'list' | 'scan' | 'update' | 'patch' | 'delete';

export interface VaultResponse {
  status: number;
  body?: unknown;
}

export interface Envelope {
  data?: unknown;
  lease_id?: string;
  renewable?: boolean;
  lease_duration?: number;
  warnings?: string[] | null;
  auth?: unknown;
}

export function envelope(fields: Envelope): Record<string, unknown> {
  return {
    request_id: randomUUID(),
    lease_id: fields.lease_id ?? '',
    renewable: fields.renewable ?? false,
    lease_duration: fields.lease_duration ?? 0,
    data: fields.data ?? null,
    wrap_info: null,
    warnings: fields.warnings && fields.warnings.length > 0 ? fields.warnings : null,
    auth: fields.auth ?? null,
  };
}

export function ok(fields: Envelope, status = 200): VaultResponse {
  return { status, body: envelope(fields) };
}

/** Some sys/ routes copy their data to the top level of the body as well (a legacy of Vault's). */
export function withTopLevel(data: Record<string, unknown>): VaultResponse {
  return { status: 200, body: { ...data, ...envelope({ data }) } };
}

export function noContent(): VaultResponse {
  return { status: 204 };
}

/** A failure answered as `{"errors":[…]}`; thrown by handlers, caught by the server. */
export class VaultHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
  ) {
    super(errors.join('; ') || `HTTP ${status}`);
  }
}

/** How Go's multierror prints one wrapped error: bare backend errors reach clients like this. */
export function multierror(message: string): string {
  return `1 error occurred:\n\t* ${message}\n\n`;
}

export const badRequest = (message: string) => new VaultHttpError(400, [message]);
export const notFound = () => new VaultHttpError(404, []);
/** A missing, bad, revoked or expired token. */
export const permissionDenied = () => new VaultHttpError(403, ['permission denied']);
/** A valid token whose policies do not allow the request: Vault wraps this one. */
export const policyDenied = () => new VaultHttpError(403, [multierror('permission denied')]);
export const unsupportedOperation = () => new VaultHttpError(405, [multierror('unsupported operation')]);
export const unsupportedPath = () => new VaultHttpError(404, [multierror('unsupported path')]);
export const internalError = (message: string) => new VaultHttpError(500, [multierror(message)]);
export const noRoute = (path: string) => new VaultHttpError(404, [`no handler for route "${path}". route entry not found.`]);

/** A field of the request body as a string (Vault accepts numbers and strings alike). */
export function stringField(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : String(value);
}

/** A duration field in seconds; a malformed one is a 400 like Vault's field parser gives. */
export function durationField(body: Record<string, unknown>, name: string): number | undefined {
  const raw = body[name];
  if (raw === undefined || raw === null || raw === '') return undefined;
  const seconds = parseDurationSeconds(raw as string | number);
  if (seconds === undefined) throw badRequest(`error converting input ${String(raw)} for field "${name}": time: invalid duration "${String(raw)}"`);
  return Math.floor(seconds);
}

/** A list field: a JSON list, or a comma-separated string. */
export function listField(body: Record<string, unknown>, name: string): string[] | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.map(String).map((s) => s.trim()).filter((s) => s !== '');
  return String(value)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export function boolField(body: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const value = body[name];
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'boolean') return value;
  const text = String(value).toLowerCase();
  if (['1', 't', 'true'].includes(text)) return true;
  if (['0', 'f', 'false'].includes(text)) return false;
  throw badRequest(`error converting input ${String(value)} for field "${name}"`);
}

/** The immediate children of a folder among keys: names, and folders with a trailing slash. */
function childrenOf(keys: string[], folder: string): string[] {
  const children = new Set<string>();
  for (const key of keys) {
    if (!key.startsWith(folder)) continue;
    const rest = key.slice(folder.length);
    const slash = rest.indexOf('/');
    children.add(slash === -1 ? rest : rest.slice(0, slash + 1));
  }
  return [...children].sort();
}

/** A prefix as a folder: `a` and `a/` both name the folder `a/`; '' is the top. */
const asFolder = (prefix: string) => (prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`);

/** The immediate children of a prefix: names, and folders with a trailing slash; 404 when none. */
export function listChildren(all: string[], prefix: string): VaultResponse {
  const keys = childrenOf(all, asFolder(prefix));
  if (keys.length === 0) throw notFound();
  return ok({ data: { keys } });
}

/**
 * OpenBao's SCAN: every key below a prefix, as paths relative to it, a level at a time (the
 * keys of one folder, sorted, before those of its subfolders); `{}` when there are none.
 */
export function scanKeys(all: string[], prefix: string): VaultResponse {
  const base = asFolder(prefix);
  const below = all.filter((k) => k.startsWith(base)).map((k) => k.slice(base.length));
  const out: string[] = [];
  let level = [''];
  while (level.length > 0) {
    const next: string[] = [];
    for (const folder of level) {
      for (const child of childrenOf(below, folder)) (child.endsWith('/') ? next : out).push(`${folder}${child}`);
    }
    level = next;
  }
  return ok({ data: out.length > 0 ? { keys: out } : {} });
}

/**
 * A time as Go's JSON encoder writes it: RFC 3339 with up to nine fractional digits and the
 * trailing zeros cut (`2026-11-29T06:24:16.123456789Z`, `…:16Z`). Sub-millisecond digits come
 * from the high-resolution clock where the time is now, else they are zero.
 */
export function goTime(ms: number): string {
  const whole = Math.floor(ms);
  const base = new Date(whole).toISOString().slice(0, 19);
  const fraction = `${String(whole % 1000).padStart(3, '0')}${String(Math.floor((ms - whole) * 1e6)).padStart(6, '0')}`.replace(/0+$/, '');
  return `${base}${fraction ? `.${fraction}` : ''}Z`;
}
