import type pg from 'pg';
import { quoteIdent, quoteLiteral } from '../db/identifiers.js';
import { engineMarker, isVaultClusterId, VAULT_CLUSTER_ID } from './engine-sql.js';
import { PermissionDeniedError, quoted, UsageError } from '../errors.js';
import { TimeIndex } from '../util/time-index.js';
import type { VaultClient } from '../vault/client.js';
import { listOrEmpty, readOrNull } from '../vault/read-secret.js';
import { databaseConnectionSchema, databaseRoleSchema, type LeaseInfo } from '../vault/responses.js';

/**
 * `eos self secrets audit`: what Vault and the database say about dynamic credentials,
 * reconciled. Vault keeps no username with a lease that it will show (sys/leases/lookup gives id
 * and times only), but it writes each lease's expiry into the role it made: the database engine
 * sets `VALID UNTIL` to the lease's expiry plus 5 s, at issue and at every renewal (OpenBao's
 * path_creds_create.go and secret_creds.go). A role and a lease belong together when those agree.
 *
 * The command is src/commands/self-secrets-audit.ts; the Vault and PostgreSQL log summaries are
 * vault-audit-log.ts and postgres-log.ts.
 */

/** What Vault adds to a lease's expiry for the role's VALID UNTIL. */
const VALID_UNTIL_MARGIN_MS = 5000;
/** Rounding and clock steps: how far past its bound a pair may still be. */
const MATCH_SLACK_MS = 3000;
/**
 * The longest one Vault request may take (Vault's and OpenBao's default max_request_duration):
 * how long after computing a user's VALID UNTIL, and after putting the time in its name, Vault
 * may record its lease.
 */
const MAX_REQUEST_MS = 90_000;
/** Lease lookups in flight at once: fast on a big site, gentle on Vault. */
const LOOKUPS_AT_ONCE = 8;
/** A lease this long past its end and still there is not being revoked (Vault revokes at once). */
const REVOCATION_LATE_S = 60;
/** A user made this recently by Vault's clock may still be waiting for its lease to be recorded (> one request). */
const YOUNG_ROLE_MS = 120_000;

export interface AuditedLease {
  id: string;
  role: string;
  issueTime: string;
  expireTime: string | null;
  renewable: boolean;
  /** Seconds left by Vault's own clock when it was looked up (negative: expired, its revocation pending). */
  ttl: number;
  /** Why Vault's last revocation of it failed, when one did. */
  revokeError?: string | undefined;
}

export interface AuditedDbRole {
  host: string;
  name: string;
  /** The role's comment: eos's ownership marker (`eos:<Vault cluster id>/<mount>/<connection>`) on users its engine made. */
  marker: string | null;
  validUntil: string | null;
  attributes: string[];
  memberOf: string[];
  /** Privileges granted to the role itself (not through a group): `SELECT ON public.alerts`. */
  directGrants: string[];
}

export interface AuditedSession {
  host: string;
  pid: number;
  user: string;
  clientAddr: string | null;
  application: string;
  state: string | null;
  backendStart: string;
}

export type FindingKind =
  | 'session-of-dropped-role'
  | 'orphan-role'
  | 'expired-role'
  | 'stale-session'
  | 'lease-without-role'
  | 'excess-privilege'
  | 'logs-passwords'
  | 'session-outside-cidr'
  | 'allowed-roles-wildcard';

export interface Finding {
  kind: FindingKind;
  severity: 'high' | 'medium' | 'low';
  subject: string;
  host?: string;
  evidence: string;
  fix: string;
  /** Whether `--fix` can do it (as the admin, or by revoking a lease). */
  fixable: boolean;
  /** A stale session, as pg_stat_activity named it (--fix ends exactly this one). */
  session?: { pid: number; user: string; backendStart: string };
}

export interface VaultSide {
  /**
   * What this engine connection's users are marked with before their Vault role,
   * `eos:<cluster id>/<mount>/<connection>` (engine-sql.ts ownershipMarker); none when Vault gave
   * no cluster id.
   */
  marker?: string | undefined;
  /** Vault's clock when it was asked (ms, sys/health): users' names carry its time, not the database's. */
  now?: number | undefined;
  leases: AuditedLease[];
  /**
   * The leases of the mount's other Vault roles on this connection, or whose definition is gone
   * (a role renamed since, a copy of one): never reported, but paired with users like the audited
   * roles' leases.
   */
  otherLeases?: AuditedLease[] | undefined;
  /**
   * The leases of the mount's roles on other connections (another database of the same cluster,
   * where a copy of a role's statements makes users too): never paired, but a user that could be
   * theirs is not dropped.
   */
  elsewhereLeases?: AuditedLease[] | undefined;
  /** The group each Vault role's creation statements put its users in (IN ROLE …), when one. */
  groups: Record<string, string | null>;
  allowedRoles: string[] | null;
}

export interface DatabaseSide {
  host: string;
  /** A standby: its roles are the primary's as far as it has replayed. */
  inRecovery: boolean;
  roles: AuditedDbRole[];
  sessions: AuditedSession[];
  /** Client sessions whose role no longer exists (a dropped role's session lives on until it ends). */
  roleless: { pid: number; clientAddr: string | null; application: string; backendStart: string }[];
  /** Settings under which the server logs Vault's CREATE ROLE … PASSWORD '…'. */
  loggingProblems: string[];
  /** The server's clock when it was read (ms): expiry is judged by it, not by this host's. */
  serverNow: number;
  /** Where the server writes its log (`log_destination`, and whether the collector runs): what --pg-log can read. */
  logDestination: { destinations: string; collector: boolean };
}

/**
 * The leases of each role (LIST needs sudo on sys/leases/lookup/…), each looked up; the leases of
 * the mount's other roles too, and each role's definition, which must use the engine's connection.
 */
export async function gatherVaultSide(client: VaultClient, engine: { mount: string; connection: string; roles: string[]; namespace?: string | undefined }): Promise<VaultSide> {
  const health = await client.health();
  const leasesOf = async (role: string): Promise<AuditedLease[]> => {
    const prefix = `${engine.mount}/creds/${role}/`;
    const ids = await listOrEmpty(client, `sys/leases/lookup/${prefix}`);
    // A few lookups at a time (thousands of leases one by one took a second per 2 000), in order.
    const infos: (LeaseInfo | null)[] = new Array<LeaseInfo | null>(ids.length).fill(null);
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const i = next++;
        // A lease that expired between the list and its lookup is gone: Vault answers 400.
        infos[i] = await client.lookupLease(`${prefix}${ids[i] as string}`).catch((err: unknown) => {
          if ((err as { status?: number }).status === 400) return null;
          throw err;
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(LOOKUPS_AT_ONCE, ids.length) }, worker));
    return infos.flatMap((info) => (info ? [{ id: info.id, role, issueTime: info.issue_time, expireTime: info.expire_time, renewable: info.renewable, ttl: info.ttl, ...(info.revoke_error ? { revokeError: info.revoke_error } : {}) }] : []));
  };
  const leases: AuditedLease[] = [];
  const groups: Record<string, string | null> = {};
  for (const role of engine.roles) {
    const definition = await readOrNull(client, `${engine.mount}/roles/${role}`, databaseRoleSchema);
    // A name that is no role (a typo in a cron job) would audit nothing and call the real users
    // strangers: refused.
    if (!definition) {
      throw new UsageError(`the Vault role ${quoted(role)} is not on ${engine.mount}/ (${engine.mount}/roles/${role} is not there)`, `name the roles to audit with --role (the engine's roles: vault list ${engine.mount}/roles), or set engine.role and engine.workerRole in the config`);
    }
    if (definition.db_name !== engine.connection) {
      throw new UsageError(`the Vault role ${quoted(role)} makes its users through the connection ${quoted(definition.db_name)}, not ${quoted(engine.connection)}`, "audit one connection's roles at a time: --role, or the config's engine.connection");
    }
    groups[role] = groupOf(definition.creation_statements.join(' '));
    leases.push(...(await leasesOf(role)));
  }
  // Every other role with leases on the mount (`delphi-readonly/` and the like) that makes its
  // users through this connection, or no longer says (deleted): a user may be its.
  const otherLeases: AuditedLease[] = [];
  const elsewhereLeases: AuditedLease[] = [];
  for (const key of await listOrEmpty(client, `sys/leases/lookup/${engine.mount}/creds/`)) {
    const role = key.replace(/\/$/, '');
    if (!key.endsWith('/') || engine.roles.includes(role)) continue;
    const definition = await readOrNull(client, `${engine.mount}/roles/${role}`, databaseRoleSchema);
    (!definition || definition.db_name === engine.connection ? otherLeases : elsewhereLeases).push(...(await leasesOf(role)));
  }
  const connection = await readOrNull(client, `${engine.mount}/config/${engine.connection}`, databaseConnectionSchema);
  return {
    // Users another Vault made carry its cluster id: without one, no user is surely this Vault's.
    marker: health.cluster_id && isVaultClusterId(health.cluster_id) ? engineMarker({ clusterId: health.cluster_id, namespace: engine.namespace }, engine.mount, engine.connection) : undefined,
    now: health.server_time_utc === undefined ? undefined : health.server_time_utc * 1000,
    leases,
    otherLeases,
    elsewhereLeases,
    groups,
    allowedRoles: connection?.allowed_roles ?? null,
  };
}

/**
 * The group a role's creation statement puts its users in: `IN ROLE "app-readers"` (a quoted
 * identifier, `""` for a quote) or `IN ROLE Readers` (unquoted, folded to lower case as
 * PostgreSQL folds it). Several groups, or none: null (the audit then looks at every v-* role).
 */
export function groupOf(statements: string): string | null {
  const m = /\bIN\s+ROLE\s+("((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*))\s*(,)?/i.exec(statements);
  if (!m || m[4]) return null;
  return m[2] !== undefined ? m[2].replace(/""/g, '"') : (m[3] as string).toLowerCase();
}

/** Vault's dynamic users on one host: roles named `v-…`, their sessions, and the logging settings. */
export async function gatherDatabaseSide(client: pg.Client, host: string): Promise<DatabaseSide> {
  const { rows: roles } = await client.query<{ name: string; marker: string | null; valid_until: Date | number | null; attributes: string[]; member_of: string[] }>(
    `SELECT r.rolname AS name, shobj_description(r.oid, 'pg_authid') AS marker, r.rolvaliduntil AS valid_until,
            array_remove(ARRAY[CASE WHEN r.rolsuper THEN 'SUPERUSER' END, CASE WHEN r.rolcreaterole THEN 'CREATEROLE' END,
                               CASE WHEN r.rolcreatedb THEN 'CREATEDB' END, CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' END,
                               CASE WHEN r.rolreplication THEN 'REPLICATION' END], NULL)::text[] AS attributes,
            -- text[], not name[]: node-postgres parses the one and not the other.
            ARRAY(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY 1) AS member_of
       FROM pg_roles r WHERE r.rolname LIKE 'v-%' ORDER BY r.rolname`,
  );
  const { rows: grants } = await client.query<{ grantee: string; grant: string }>(
    `SELECT grantee.rolname AS grantee, format('%s ON %I.%I', a.privilege_type, n.nspname, c.relname) AS grant
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
       JOIN pg_roles grantee ON grantee.oid = a.grantee
      WHERE grantee.rolname LIKE 'v-%' ORDER BY 1, 2`,
  );
  // By grantee once: the seed's statements give every user its own grants on every table.
  const grantsOf = new Map<string, string[]>();
  for (const g of grants) {
    const list = grantsOf.get(g.grantee);
    if (list) list.push(g.grant);
    else grantsOf.set(g.grantee, [g.grant]);
  }
  const { rows: sessions } = await client.query<{ pid: number; user: string; client_addr: string | null; application: string; state: string | null; backend_start: Date | null }>(
    `SELECT pid, usename AS user, host(client_addr) AS client_addr, application_name AS application, state, backend_start
       FROM pg_stat_activity WHERE usename LIKE 'v-%' ORDER BY backend_start`,
  );
  // After DROP ROLE a session lives on with a NULL usename (revocation statements end the primary's
  // sessions only; a standby's, or one an outside DROP left, are found here).
  const { rows: roleless } = await client.query<{ pid: number; client_addr: string | null; application: string; backend_start: Date | null }>(
    `SELECT pid, host(client_addr) AS client_addr, application_name AS application, backend_start FROM pg_stat_activity
      WHERE backend_type = 'client backend' AND usesysid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = usesysid)`,
  );
  // Another user's session shows its start only to a member of pg_read_all_stats (pg_monitor).
  if ([...sessions, ...roleless].some((x) => !(x.backend_start instanceof Date))) {
    throw new PermissionDeniedError(`the login the audit uses on ${host} cannot see other users' sessions (backend_start is hidden)`, 'audit as a member of pg_monitor (or pg_read_all_stats), or as the admin: --admin-user');
  }
  const { rows: settings } = await client.query<{ name: string; setting: string }>(
    `SELECT name, setting FROM pg_settings WHERE name IN ('log_statement', 'log_min_duration_statement', 'log_destination', 'logging_collector')`,
  );
  const { rows: recovery } = await client.query<{ r: boolean; now: Date }>('SELECT pg_is_in_recovery() AS r, now() AS now');
  const setting = (name: string) => settings.find((s) => s.name === name)?.setting;
  const loggingProblems: string[] = [];
  // mod logs DDL too (ddl ⊂ mod ⊂ all).
  if (['ddl', 'mod', 'all'].includes(setting('log_statement') ?? '')) loggingProblems.push(`log_statement = ${setting('log_statement')}`);
  if (setting('log_min_duration_statement') === '0') loggingProblems.push('log_min_duration_statement = 0');
  return {
    host,
    inRecovery: recovery[0]?.r === true,
    roleless: roleless.map((r) => ({ pid: r.pid, clientAddr: r.client_addr, application: r.application, backendStart: (r.backend_start as Date).toISOString() })),
    serverNow: recovery[0]?.now instanceof Date ? recovery[0].now.getTime() : Date.now(),
    logDestination: { destinations: setting('log_destination') ?? 'stderr', collector: setting('logging_collector') === 'on' },
    roles: roles.map((r) => ({
      host,
      name: r.name,
      marker: r.marker,
      // node-postgres reads VALID UNTIL 'infinity' as the number Infinity: no end, as none.
      validUntil: r.valid_until instanceof Date && Number.isFinite(r.valid_until.getTime()) ? r.valid_until.toISOString() : null,
      attributes: r.attributes,
      memberOf: r.member_of,
      directGrants: grantsOf.get(r.name) ?? [],
    })),
    sessions: sessions.map((s) => ({ host, pid: s.pid, user: s.user, clientAddr: s.client_addr, application: s.application, state: s.state, backendStart: (s.backend_start as Date).toISOString() })),
    loggingProblems,
  };
}

/**
 * When Vault made a user, by its clock, from the name its default template gives
 * (`v-<display>-<role>-<random>-<unix time>`); null for a name without it.
 */
export function madeAt(name: string): number | null {
  const m = /-(\d{9,11})$/.exec(name);
  return m ? Number(m[1]) * 1000 : null;
}

/** Rounding and clock steps below, one request above: how far a lease may be from its role. */
function withinOneRequest(lag: number): boolean {
  return lag >= -MATCH_SLACK_MS && lag <= MAX_REQUEST_MS + MATCH_SLACK_MS;
}

/**
 * Whether a lease's expiry fits a role's VALID UNTIL. Vault computes VALID UNTIL (now + TTL + 5 s)
 * before it makes or renews the user, and records the lease's expiry after (OpenBao's
 * path_creds_create.go, secret_creds.go): a lease's expiry + 5 s is never before its role's
 * VALID UNTIL, and after it by at most one request. Both are Vault's clock.
 */
export function expiryFits(role: AuditedDbRole, lease: AuditedLease): boolean {
  return role.validUntil !== null && lease.expireTime !== null && withinOneRequest(Date.parse(lease.expireTime) + VALID_UNTIL_MARGIN_MS - Date.parse(role.validUntil));
}

/**
 * Whether a lease could be a role's at all: its expiry fits, or its issue time is within one
 * request after the time in the role's name (Vault names the user before it records the lease,
 * and the name and the issue time never change). The second keeps --fix off a role whose
 * renewal reached the database but not Vault's storage, which moves VALID UNTIL alone.
 */
export function couldBelong(role: AuditedDbRole, lease: AuditedLease): boolean {
  const made = madeAt(role.name);
  return expiryFits(role, lease) || (made !== null && withinOneRequest(Date.parse(lease.issueTime) - made));
}

/**
 * Pairs roles and leases by expiry: each lease, earliest first, takes the unpaired role whose
 * VALID UNTIL fits it best (and, among equals, whose name's time is nearest its issue). Returns
 * the pairs and the roles and leases left over; a leftover that could still be another's
 * counterpart is unsure.
 */
export function pairRolesWithLeases(
  roles: AuditedDbRole[],
  leases: AuditedLease[],
): { pairs: Map<AuditedDbRole, AuditedLease>; orphanRoles: AuditedDbRole[]; lonelyLeases: AuditedLease[]; unsure: Set<AuditedDbRole | AuditedLease> } {
  const open = new Set(roles);
  const pairs = new Map<AuditedDbRole, AuditedLease>();
  const lonelyLeases: AuditedLease[] = [];
  // Times parsed once: a burst of users (workers started together) puts thousands in one window.
  const byValidUntil = new TimeIndex(
    roles.map((role) => ({ role, at: validUntilOf(role), made: madeAt(role.name) })),
    (entry) => entry.at,
  );
  const sorted = leases.map((lease) => ({ lease, want: wantOf(lease), issue: Date.parse(lease.issueTime) })).sort((a, b) => (a.want ?? -Infinity) - (b.want ?? -Infinity));
  for (const { lease, want, issue } of sorted) {
    let best: AuditedDbRole | undefined;
    let bestMisfit = Infinity;
    if (want !== null) {
      // The window is expiryFits' bounds: every role in it fits by expiry.
      for (const { role, at, made } of byValidUntil.within(want - MAX_REQUEST_MS - MATCH_SLACK_MS, want + MATCH_SLACK_MS)) {
        if (!open.has(role)) continue;
        // VALID UNTIL nearest the lease's expiry + 5 s, then the name's time nearest its issue.
        const misfit = Math.abs(want - (at as number)) + (made === null ? 0 : Math.abs(issue - made));
        if (misfit < bestMisfit) {
          best = role;
          bestMisfit = misfit;
        }
      }
    }
    if (best === undefined) lonelyLeases.push(lease);
    else {
      open.delete(best);
      pairs.set(best, lease);
    }
  }
  const orphanRoles = roles.filter((r) => open.has(r));
  // A leftover that could be some counterpart's (two made within one request's time, or a
  // VALID UNTIL moved alone) may have been paired wrongly or not at all: it is reported, but
  // --fix does not act on it. No VALID UNTIL (custom statements, 'infinity'): nothing to pair
  // it by, so nothing to act on.
  const unsure = new Set<AuditedDbRole | AuditedLease>();
  const leaseOfRole = leaseFinder(leases);
  const roleOfLease = roleFinder(roles);
  for (const r of orphanRoles) if (!r.validUntil || leaseOfRole(r)) unsure.add(r);
  for (const l of lonelyLeases) if (roleOfLease(l)) unsure.add(l);
  return { pairs, orphanRoles, lonelyLeases, unsure };
}

const validUntilOf = (role: AuditedDbRole) => (role.validUntil === null ? null : Date.parse(role.validUntil));
const wantOf = (lease: AuditedLease) => (lease.expireTime === null ? null : Date.parse(lease.expireTime) + VALID_UNTIL_MARGIN_MS);

/** The first of these leases that could be a role's (couldBelong), found by time, not by trying each. */
function leaseFinder(leases: AuditedLease[]): (role: AuditedDbRole) => AuditedLease | undefined {
  const byWant = new TimeIndex(leases, wantOf);
  const byIssue = new TimeIndex(leases, (l) => Date.parse(l.issueTime));
  return (role) => {
    const at = validUntilOf(role);
    if (at !== null) for (const l of byWant.within(at - MATCH_SLACK_MS, at + MAX_REQUEST_MS + MATCH_SLACK_MS)) if (couldBelong(role, l)) return l;
    const made = madeAt(role.name);
    if (made !== null) for (const l of byIssue.within(made - MATCH_SLACK_MS, made + MAX_REQUEST_MS + MATCH_SLACK_MS)) if (couldBelong(role, l)) return l;
    return undefined;
  };
}

/** The first of these roles a lease could be the lease of (couldBelong), found by time. */
function roleFinder(roles: AuditedDbRole[]): (lease: AuditedLease) => AuditedDbRole | undefined {
  const byValidUntil = new TimeIndex(roles, validUntilOf);
  const byMade = new TimeIndex(roles, (r) => madeAt(r.name));
  return (lease) => {
    const want = wantOf(lease);
    if (want !== null) for (const r of byValidUntil.within(want - MAX_REQUEST_MS - MATCH_SLACK_MS, want + MATCH_SLACK_MS)) if (couldBelong(r, lease)) return r;
    const issue = Date.parse(lease.issueTime);
    for (const r of byMade.within(issue - MAX_REQUEST_MS - MATCH_SLACK_MS, issue + MATCH_SLACK_MS)) if (couldBelong(r, lease)) return r;
    return undefined;
  };
}

/** Every finding of one audit, worst first. */
export function auditFindings(vault: VaultSide, databases: DatabaseSide[], now: number, options: { allowCidr?: ((addr: string) => boolean) | undefined } = {}): Finding[] {
  const findings: Finding[] = [];
  const ours = scopeOf(vault);
  const scoped = byGroups(vault);
  // What a lease could be the role of: every v-* role on every host (another engine's, a standby's).
  const anyRole = databases.flatMap((d) => d.roles);
  databases = databases.map((d) => {
    const roles = d.roles.filter(ours);
    const names = new Set(roles.map((r) => r.name));
    return { ...d, roles, sessions: d.sessions.filter((s) => names.has(s.user)) };
  });
  const primary = databases[0];
  const roles = primary?.roles ?? [];
  // This engine's users and the leases of its roles, and of the mount's other roles (a role
  // renamed since, a copy of one): their users have leases too, only not audited ones.
  const pairing = pairRolesWithLeases(roles, [...vault.leases, ...(vault.otherLeases ?? [])]);
  const audited = new Set(vault.leases);
  const lonelyLeases = pairing.lonelyLeases.filter((l) => audited.has(l));
  const unsure = new Set(pairing.unsure);
  // A user that could be a lease's of another connection's role (a copy of these statements,
  // another database of the cluster) is reported, never dropped.
  const elsewhereLeaseOf = leaseFinder(vault.elsewhereLeases ?? []);
  for (const role of pairing.orphanRoles) if (elsewhereLeaseOf(role)) unsure.add(role);
  // A lease left over may still be the role of a user outside the scope (another engine's, made
  // in the same minute) or of one only a standby still has: reported, not revoked.
  const anyRoleOf = roleFinder(anyRole);
  for (const lease of lonelyLeases) if (anyRoleOf(lease)) unsure.add(lease);
  const orphanRoles = pairing.orphanRoles;
  // Leases and no lease paired at all: the wrong cluster, or a Vault that makes roles elsewhere.
  // Then nothing of the pairing is acted on.
  const nonePaired = vault.leases.length > 0 && lonelyLeases.length === vault.leases.length;
  // --fix acts on the pairing only where it is sure: the one primary's roles (a standby may lag
  // behind; two hosts out of recovery — an old primary not fenced — may each have half of them),
  // and no counterpart that could be the other's.
  const outOfRecovery = databases.filter((d) => !d.inRecovery).length;
  const primaryKnown = primary !== undefined && !primary.inRecovery && outOfRecovery === 1 && !nonePaired;
  const certain = (item: AuditedDbRole | AuditedLease) => primaryKnown && !unsure.has(item);
  // A user of one of the audited Vault roles, by the marker that role's statements write on it
  // (this Vault, mount, connection and role: the groups and the names alone may be another
  // engine's), made long enough ago by Vault's clock that its lease would be recorded by now.
  const vaultNow = vault.now ?? now;
  const primaryByName = new Map(roles.map((r) => [r.name, r]));
  const madeByUs = (name: string) => {
    const made = madeAt(name);
    const marker = primaryByName.get(name)?.marker;
    return vault.marker !== undefined && Object.keys(vault.groups).some((r) => marker === `${vault.marker}/${r}`) && made !== null && made < vaultNow - YOUNG_ROLE_MS;
  };
  const notOurs = 'it does not carry the marker of an audited role (eos writes COMMENT ON ROLE on the users it makes), or was made in the last two minutes';
  const noGroups = "the Vault roles put their users in no group (seed statements): another engine's users look the same";
  /** Every reason --fix leaves a finding alone, in one parenthesis. */
  const notDone = (...reasons: (string | false)[]) => {
    const given = reasons.filter((r): r is string => typeof r === 'string' && r !== '');
    return given.length === 0 ? '' : ` (not done by --fix: ${given.join('; ')})`;
  };
  // Whether a role's credentials are over: not while Vault holds a live lease for it (Vault
  // revokes it when it ends, and the database's clock may run ahead of Vault's); else by its
  // VALID UNTIL on the primary's clock, the one its logins are refused by.
  const leaseOf = pairing.pairs;
  const over = (role: AuditedDbRole) => role.validUntil !== null && Date.parse(role.validUntil) <= now && !((leaseOf.get(role)?.ttl ?? 0) > 0);
  // Why --fix leaves a finding of the pairing alone, as precisely as the audit knows it.
  const anyLeaseOf = leaseFinder([...vault.leases, ...(vault.otherLeases ?? []), ...(vault.elsewhereLeases ?? [])]);
  const why = (item: AuditedDbRole | AuditedLease): string => {
    if (certain(item)) return '';
    if (nonePaired) return 'no lease of this Vault has its role here — is this the database the engine manages?';
    if (outOfRecovery === 0) return 'no host is a primary (every one is in recovery), and a standby may lag behind';
    if (outOfRecovery > 1) return `${outOfRecovery} hosts are out of recovery (an old primary not fenced?): which one Vault writes to is not known`;
    if ('name' in item) {
      if (!item.validUntil) return 'it has no VALID UNTIL to pair it with a lease by';
      return `the lease ${anyLeaseOf(item)?.id ?? '?'} could be its own (issued, or ending, within one request of it)`;
    }
    return `the user ${anyRoleOf(item)?.name ?? '?'} could be its role (made, or ending, within one request of it)`;
  };
  const groupsAllowed = new Set(Object.values(vault.groups).filter((g): g is string => g !== null));
  for (const role of orphanRoles) {
    const expired = over(role);
    findings.push(
      expired
        ? { kind: 'expired-role', severity: 'medium', subject: role.name, host: role.host, evidence: `VALID UNTIL ${role.validUntil} has passed; the role is still there`, fix: `drop it as the admin: DROP ROLE ${quoteIdent(role.name)} (ending its sessions first)${notDone(why(role), !scoped && noGroups, !madeByUs(role.name) && notOurs)}`, fixable: certain(role) && scoped && madeByUs(role.name) }
        : // Only a role of this engine's groups is surely its own: without groups (seed statements),
          // another engine's user looks the same, and --fix must not drop a live one.
          { kind: 'orphan-role', severity: 'high', subject: role.name, host: role.host, evidence: `no lease in Vault expires with it (VALID UNTIL ${role.validUntil ?? 'infinity'})`, fix: `${scoped ? '' : 'make sure no other database engine made it, then '}drop it as the admin: DROP ROLE ${quoteIdent(role.name)} (ending its sessions first)${notDone(why(role), !scoped && noGroups, !madeByUs(role.name) && notOurs)}`, fixable: scoped && certain(role) && madeByUs(role.name) },
    );
  }
  // A role whose lease Vault still holds, expired a while ago: its revocation is failing (a user
  // that owns objects cannot be dropped, 2BP01; Vault retries, then gives up and keeps the lease).
  for (const [role, lease] of leaseOf) {
    if (!over(role) || (lease.ttl > -REVOCATION_LATE_S && !lease.revokeError)) continue;
    findings.push({
      kind: 'expired-role',
      severity: 'medium',
      subject: role.name,
      host: role.host,
      evidence: `VALID UNTIL ${role.validUntil} has passed, and its lease ${lease.id} ended ${Math.max(0, -lease.ttl)} s ago by Vault's clock without being revoked${lease.revokeError ? ` (Vault's last try: ${lease.revokeError.replace(/\s+/g, ' ').slice(0, 300)})` : ''}`,
      fix: `find what stops the revocation — usually objects or privileges the user holds (2BP01): REASSIGN OWNED BY ${quoteIdent(role.name)} TO <owner>; DROP OWNED BY ${quoteIdent(role.name)}; then vault lease revoke ${lease.id}`,
      fixable: false,
    });
  }
  for (const lease of lonelyLeases) {
    findings.push({ kind: 'lease-without-role', severity: 'medium', subject: lease.id, evidence: `no role in the database has VALID UNTIL ${lease.expireTime ?? '-'} + 5 s`, fix: `revoke it: vault lease revoke ${lease.id} (its revocation finds no role and succeeds)${notDone(why(lease))}`, fixable: certain(lease) });
  }
  for (const role of roles) {
    const extra = [
      ...role.attributes,
      ...role.memberOf.filter((g) => !groupsAllowed.has(g)).map((g) => `member of ${g}`),
      ...role.directGrants.map((g) => `granted ${g} directly`),
    ];
    if (extra.length > 0) {
      findings.push({ kind: 'excess-privilege', severity: role.attributes.length > 0 ? 'high' : 'medium', subject: role.name, host: role.host, evidence: extra.join('; '), fix: 'check the role statements (eos self secrets set delphi-db-engine --apply writes group-role statements), then drop the role', fixable: false });
    }
  }
  for (const db of databases) {
    const byName = new Map(db.roles.map((r) => [r.name, r]));
    for (const session of db.sessions) {
      // Expiry by the primary's copy of the role: a lagging standby may not have the renewal yet.
      const primaryRole = primaryByName.get(session.user);
      const role = primaryRole ?? byName.get(session.user);
      if (role && over(role)) {
        // Acted on only for the primary's copy of a role whose lease is over in Vault too, or that
        // surely has none.
        const sure = primaryRole !== undefined && (leaseOf.has(primaryRole) || certain(primaryRole));
        findings.push({ kind: 'stale-session', severity: 'high', subject: `${session.user} pid ${session.pid}`, host: db.host, session: { pid: session.pid, user: session.user, backendStart: session.backendStart }, evidence: `open since ${session.backendStart} from ${session.clientAddr ?? 'a local socket'} (${session.application || 'no application name'}), its credentials expired at ${role.validUntil}`, fix: `end it as the admin: SELECT pg_terminate_backend(${session.pid})${notDone(!sure && (primaryRole === undefined ? 'its role is not on the primary' : why(primaryRole)), !scoped && noGroups, !madeByUs(session.user) && notOurs)}`, fixable: primaryKnown && sure && scoped && madeByUs(session.user) });
      }
      if (options.allowCidr && session.clientAddr && !options.allowCidr(session.clientAddr)) {
        findings.push({ kind: 'session-outside-cidr', severity: 'high', subject: `${session.user} pid ${session.pid}`, host: db.host, evidence: `from ${session.clientAddr}, outside --allow-cidr`, fix: `find who holds these credentials (${primaryRole && leaseOf.get(primaryRole) ? `its lease ${leaseOf.get(primaryRole)?.id}; ` : ''}the Vault audit log names the token that asked for it); end the session`, fixable: false });
      }
    }
    for (const session of db.roleless ?? []) {
      // Never --fix's: whose it was cannot be known once the role is gone.
      findings.push({ kind: 'session-of-dropped-role', severity: 'high', subject: `pid ${session.pid}`, host: db.host, evidence: `open since ${session.backendStart} from ${session.clientAddr ?? 'a local socket'} (${session.application || 'no application name'}) under a role that no longer exists`, fix: `if it was one of Vault's users (its name is gone with the role), end it as the admin on ${db.host}: SELECT pg_terminate_backend(${session.pid})`, fixable: false });
    }
    for (const problem of db.loggingProblems) {
      findings.push({ kind: 'logs-passwords', severity: 'high', subject: problem, host: db.host, evidence: `${problem}: the server logs every CREATE ROLE … PASSWORD '…' Vault sends, the password in clear`, fix: `ALTER SYSTEM SET ${problem.startsWith('log_statement') ? "log_statement = 'none'" : 'log_min_duration_statement = -1'}; SELECT pg_reload_conf(); (or set it for Vault's admin role only: ALTER ROLE <admin> SET log_statement = 'none')`, fixable: false });
    }
  }
  if (vault.allowedRoles?.includes('*')) {
    findings.push({ kind: 'allowed-roles-wildcard', severity: 'medium', subject: 'allowed_roles = *', evidence: 'any role written to this engine may use the connection (and its admin login)', fix: 'name the roles: eos self secrets set delphi-db-engine --apply writes allowed_roles with eos\'s roles', fixable: false });
  }
  const order = { high: 0, medium: 1, low: 2 } as const;
  return findings.sort((a, b) => order[a.severity] - order[b.severity]);
}

/** One step of `--fix`: statements as the admin on a host, or a lease revoked through Vault. */
export type FixStep =
  | { kind: 'sql'; host: string; finding: FindingKind; subject: string; statements: { text: string; values?: unknown[]; expectRow?: boolean }[] }
  | { kind: 'revoke'; finding: FindingKind; subject: string; leaseId: string };

/**
 * What `--fix` does for the fixable findings: orphan and expired roles dropped with a
 * revocation's two statements (ending their sessions), other stale sessions ended, leases whose
 * role is gone revoked. Nothing else: a privilege too many or a logging setting is the DBA's call.
 */
export function fixPlan(findings: Finding[]): FixStep[] {
  const steps: FixStep[] = [];
  const dropped = new Set<string>();
  for (const f of findings) {
    if ((f.kind === 'orphan-role' || f.kind === 'expired-role') && f.host && f.fixable) {
      steps.push({ kind: 'sql', host: f.host, finding: f.kind, subject: f.subject, statements: dropStatements(f.subject) });
      dropped.add(`${f.host} ${f.subject}`);
    }
  }
  for (const f of findings) {
    if (f.kind === 'stale-session' && f.host && f.session && f.fixable) {
      // A dropped role's sessions on the primary end with the drop; elsewhere (a standby) they do not.
      if (dropped.has(`${f.host} ${f.session.user}`)) continue;
      // This very session: a pid alone may have been reused since the audit looked.
      steps.push({
        kind: 'sql',
        host: f.host,
        finding: f.kind,
        subject: f.subject,
        statements: [{ text: "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = $1 AND usename = $2 AND date_trunc('milliseconds', backend_start) = $3::timestamptz", values: [f.session.pid, f.session.user, f.session.backendStart], expectRow: true }],
      });
    }
    if (f.kind === 'lease-without-role' && f.fixable) steps.push({ kind: 'revoke', finding: f.kind, subject: f.subject, leaseId: f.subject });
  }
  return steps;
}

/** What two audits agree on: a finding is acted on only if a second look still sees it. */
export function confirmedFindings(first: Finding[], second: Finding[]): Finding[] {
  const key = (f: Finding) => `${f.kind}\u0000${f.subject}\u0000${f.host ?? ''}\u0000${f.evidence}`;
  // Fixable only if both looks thought so.
  const again = new Map(second.map((f) => [key(f), f.fixable]));
  return first.filter((f) => again.has(key(f))).map((f) => ({ ...f, fixable: f.fixable && again.get(key(f)) === true }));
}

/**
 * A step as the operator reads it: SQL one can paste into psql (the statements run with
 * parameters; here each value is a quoted literal), or the lease revoked.
 */
export function fixStepText(step: FixStep): string {
  if (step.kind === 'revoke') return `revoke lease ${step.leaseId}`;
  const pasteable = (q: { text: string; values?: unknown[] }) => (q.values ? q.text.replace(/\$(\d+)/g, (_, n: string) => quoteLiteral(String(q.values?.[Number(n) - 1]))) : q.text);
  return `on ${step.host}: ${step.statements.map((q) => `${pasteable(q)};`).join(' ')}`;
}

/**
 * Whether this login may do --fix's steps on its host: drop Vault's users (CREATEROLE) and end
 * other users' sessions (pg_signal_backend), or a superuser.
 */
export async function mayFix(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ can: boolean }>("SELECT rolsuper OR (rolcreaterole AND pg_has_role(current_user, 'pg_signal_backend', 'MEMBER')) AS can FROM pg_roles WHERE rolname = current_user");
  return rows[0]?.can === true;
}

/** Runs the plan, each step on its own: one that fails is reported, the others still run. */
export async function applyFixPlan(
  steps: FixStep[],
  deps: { admin: (host: string) => pg.Client | undefined; vault: VaultClient; onStep?: (result: { step: FixStep; ok: boolean; error?: string }) => void },
): Promise<{ step: FixStep; ok: boolean; error?: string }[]> {
  const results: { step: FixStep; ok: boolean; error?: string }[] = [];
  for (const step of steps) {
    try {
      if (step.kind === 'revoke') await deps.vault.revokeLease(step.leaseId);
      else {
        const client = deps.admin(step.host);
        if (!client) throw new Error(`no admin session on ${step.host}`);
        for (const statement of step.statements) {
          const result = await client.query(statement.text, statement.values);
          // The session the audit saw is gone (it ended, or its pid is another's now): say so.
          if (statement.expectRow && result.rowCount === 0) throw new Error('the session is no longer there (ended, or its pid reused): nothing ended');
        }
      }
      results.push({ step, ok: true });
    } catch (err) {
      results.push({ step, ok: false, error: err instanceof Error ? err.message : String(err) });
    }
    deps.onStep?.(results[results.length - 1] as { step: FixStep; ok: boolean; error?: string });
  }
  return results;
}

/**
 * Which `v-…` roles are this engine's. Roles are the whole cluster's, and another engine (or
 * another database's) makes `v-…` users too. When the Vault roles put their users in groups
 * (`IN ROLE …`, the group-role design): the members of those groups, the users marked by one of
 * this connection's roles, and unmarked users of no group with grants in this database, named as
 * these roles name them (made before the groups, by the seed's statements: they are audited too,
 * never dropped). Else every `v-…` role.
 */
function scopeOf(vault: VaultSide): (role: AuditedDbRole) => boolean {
  if (!byGroups(vault)) return () => true;
  const groups = new Set(Object.values(vault.groups) as string[]);
  const names = Object.keys(vault.groups).map((r) => `-${r.slice(0, 8)}-`);
  // Another Vault's, namespace's, mount's or connection's users (eos marks them with theirs) are
  // left out even in groups of the same names: they are that site's audit's.
  // (This Vault and namespace's users of another mount or connection — moved, renamed — stay in:
  // reported, and never dropped, as their marker names no audited role.)
  const vaultOf = (marker: string) => FOREIGN_MARKER.exec(marker)?.[0];
  const ours = vault.marker === undefined ? undefined : vaultOf(vault.marker);
  const foreign = (role: AuditedDbRole) => ours !== undefined && role.marker !== null && vaultOf(role.marker) !== undefined && vaultOf(role.marker) !== ours;
  return (role) =>
    !foreign(role) &&
    (role.memberOf.some((g) => groups.has(g)) ||
    (vault.marker !== undefined && role.marker?.startsWith(`${vault.marker}/`) === true) ||
      // Another engine's users with the same role names are members of its own groups, or hold
      // their grants in another database (grants are read in this one).
      (role.marker === null && role.memberOf.length === 0 && role.directGrants.length > 0 && madeAt(role.name) !== null && names.some((n) => role.name.includes(n))));
}

/**
 * The Vault-and-namespace part of an eos marker that names a Vault: `eos:<cluster id>/`, then
 * `<namespace>:/` in a namespace (no mount, connection or role name holds a `:`).
 */
const FOREIGN_MARKER = new RegExp(`^eos:${VAULT_CLUSTER_ID.source.slice(1, -1)}/(?:[^:]+:/)?`, 'i');

/** Whether every audited Vault role puts its users in a group (the group-role design). */
function byGroups(vault: VaultSide): boolean {
  const groups = Object.values(vault.groups);
  return groups.length > 0 && groups.every((g) => g !== null);
}

/**
 * The two statements of a revocation, for a role no lease will ever revoke: its sessions ended
 * (the name as a parameter, whatever the server's string settings), then the role dropped (an
 * identifier, quoted as one).
 */
export function dropStatements(role: string): { text: string; values?: unknown[] }[] {
  return [{ text: 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', values: [role] }, { text: `DROP ROLE IF EXISTS ${quoteIdent(role)}` }];
}
