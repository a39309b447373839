import { fileLines } from '../util/bounded-lines.js';
import { UsageError } from '../errors.js';

/**
 * A Vault/OpenBao `file` audit log, summarised for the audit: who asked for each role's
 * credentials (by token accessor — HMAC'd in the log, which is enough to tell tokens apart — and
 * remote address), how many were issued, and the refusals and errors. The log is JSON lines,
 * a `request` and a `response` entry per request (OpenBao's internal/audit/format.go); only
 * responses are counted, as they carry the outcome. Secrets in it are HMAC'd; nothing of it is
 * printed but paths, times, accessors' hashes, addresses and error texts.
 */

export interface RoleRequests {
  role: string;
  requests: number;
  issued: number;
  refused: number;
  errors: number;
  byAccessor: { accessor: string; requests: number }[];
  byAddress: { address: string; requests: number }[];
}

export interface AuditLogSummary {
  file: string;
  since: string | null;
  entries: number;
  unreadable: number;
  roles: RoleRequests[];
  /** Every refused or failed request for credentials, newest last (at most 50). */
  refusals: { time: string; path: string; accessor: string | null; address: string | null; error: string }[];
}

interface Entry {
  time?: string;
  type?: string;
  auth?: { accessor?: string };
  request?: { path?: string; remote_address?: string; client_token_accessor?: string };
  response?: { secret?: { lease_id?: string } };
  error?: string;
}

const MAX_REFUSALS = 50;

export async function summariseAuditLog(file: string, options: { mount: string; roles: string[]; since?: number | undefined }): Promise<AuditLogSummary> {
  const perRole = new Map<string, { requests: number; issued: number; refused: number; errors: number; accessors: Map<string, number>; addresses: Map<string, number> }>();
  for (const role of options.roles) perRole.set(role, { requests: 0, issued: 0, refused: 0, errors: 0, accessors: new Map(), addresses: new Map() });
  const refusals: AuditLogSummary['refusals'] = [];
  let entries = 0;
  let unreadable = 0;
  const prefix = `${options.mount}/creds/`;
  for await (const line of fileLines(file, (reason) => new UsageError(`the Vault audit log ${file} cannot be read: ${reason}`, "name the file audit device's file_path on a host that can read it (--vault-audit-log)"))) {
    if (line === null) {
      unreadable += 1;
      continue;
    }
    if (line.trim() === '') continue;
    let entry: Entry;
    try {
      entry = JSON.parse(line) as Entry;
    } catch {
      unreadable += 1;
      continue;
    }
    // Entries of the window only (the header's count is the window's, not the file's).
    if (options.since !== undefined && entry.time && Date.parse(entry.time) < options.since) continue;
    entries += 1;
    if (entry.type !== 'response') continue;
    const path = entry.request?.path ?? '';
    if (!path.startsWith(prefix)) continue;
    const role = path.slice(prefix.length);
    const counts = perRole.get(role);
    if (!counts) continue;
    counts.requests += 1;
    const accessor = entry.auth?.accessor ?? entry.request?.client_token_accessor ?? null;
    const address = entry.request?.remote_address ?? null;
    if (accessor) counts.accessors.set(accessor, (counts.accessors.get(accessor) ?? 0) + 1);
    if (address) counts.addresses.set(address, (counts.addresses.get(address) ?? 0) + 1);
    if (entry.error) {
      const refused = /permission denied/i.test(entry.error);
      if (refused) counts.refused += 1;
      else counts.errors += 1;
      refusals.push({ time: entry.time ?? '', path, accessor, address, error: entry.error.replace(/\s+/g, ' ').trim() });
      if (refusals.length > MAX_REFUSALS) refusals.shift();
    } else if (entry.response?.secret?.lease_id) counts.issued += 1;
  }
  const top = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, 10);
  return {
    file,
    since: options.since === undefined ? null : new Date(options.since).toISOString(),
    entries,
    unreadable,
    roles: [...perRole].map(([role, c]) => ({
      role,
      requests: c.requests,
      issued: c.issued,
      refused: c.refused,
      errors: c.errors,
      byAccessor: top(c.accessors).map(([accessor, requests]) => ({ accessor, requests })),
      byAddress: top(c.addresses).map(([address, requests]) => ({ address, requests })),
    })),
    refusals,
  };
}
