import pg from 'pg';
import { connectAdmin } from '../db/admin-session.js';
import { OperationFailedError, PermissionDeniedError } from '../errors.js';
import type { VaultClient } from '../vault/client.js';
import { connectionQuery, type EnginePlan, type VaultRoleDefinition } from './engine-plan.js';
import { formatVaultDuration } from '../util/duration.js';
import { quoteIdent } from '../db/identifiers.js';
import { readOrNull } from '../vault/read-secret.js';
import { databaseConnectionSchema, databaseRoleSchema, mountsSchema, policySchema } from '../vault/responses.js';

/**
 * Performs an engine plan through the Vault API and, for the one-time SQL, an admin session —
 * idempotently: every step first reads what is there and changes only what differs, so a
 * second run reports no changes. With `dryRun` nothing is written.
 */

export type StepStatus = 'created' | 'updated' | 'unchanged' | 'would create' | 'would update' | 'checked';

export interface AppliedStep {
  step: string;
  status: StepStatus;
  detail?: string;
}

export interface ApplyDeps {
  client: VaultClient;
  /** Connected as the plan's admin user. */
  admin: pg.ClientBase;
  adminPassword: string;
  dryRun: boolean;
}

export async function applyEnginePlan(plan: EnginePlan, deps: ApplyDeps): Promise<AppliedStep[]> {
  const steps: AppliedStep[] = [];
  const { setup } = plan;
  const change = (exists: boolean): StepStatus => (deps.dryRun ? (exists ? 'would update' : 'would create') : exists ? 'updated' : 'created');

  await checkAdminPrivileges(plan, deps.admin);

  // 1. The mount.
  const mounts = (await deps.client.read('sys/mounts', mountsSchema)).data ?? {};
  const mounted = mounts[`${setup.mount}/`];
  if (mounted && mounted.type !== 'database') {
    throw new OperationFailedError(`${setup.mount}/ is already mounted as a "${mounted.type}" engine`, 'choose another path with --mount');
  }
  if (mounted) steps.push({ step: `mount ${setup.mount}/`, status: 'unchanged' });
  else {
    if (!deps.dryRun) await deps.client.write(`sys/mounts/${setup.mount}`, { type: 'database', description: 'Delphi database credentials (eos)' });
    steps.push({ step: `mount ${setup.mount}/`, status: change(false) });
  }

  // 2. The one-time SQL (group roles and their privileges).
  for (const role of setup.roles) {
    if (setup.style !== 'group') break;
    const state = await groupState(deps.admin, role.group, role.access);
    if (state.complete) {
      steps.push({ step: `group role ${role.group}`, status: 'unchanged' });
      continue;
    }
    if (!deps.dryRun) {
      const statements = plan.sql.filter((s) => s.includes(quoteIdent(role.group)));
      await deps.admin.query('BEGIN');
      try {
        for (const statement of statements) await deps.admin.query(statement);
        await deps.admin.query('COMMIT');
      } catch (err) {
        await deps.admin.query('ROLLBACK').catch(() => undefined);
        throw new OperationFailedError(`the one-time SQL for ${role.group} failed: ${(err as Error).message}`, 'check the admin user\'s privileges (see docs/setup.md, "Database permissions")', err);
      }
    }
    steps.push({ step: `group role ${role.group}`, status: change(state.exists), detail: state.missing.join(', ') });
  }

  // 3. The connection (its password is never read back: unchanged settings are left alone).
  const connectionPath = `${setup.mount}/config/${setup.connection}`;
  const current = await readOrNull(deps.client, connectionPath, databaseConnectionSchema);
  // What a site added to the URL by hand for Vault's plugin (sslrootcert, sslcert, sslkey: paths
  // on the Vault host) is kept: a re-apply must not take the CA away from Vault's connection.
  const wanted = { ...plan.connection, connection_url: keepSiteParameters(plan.connection.connection_url, current?.connection_details.connection_url) };
  const connectionChanges: string[] = [];
  if (current) {
    const compare = (field: string, was: string | undefined, now: string) => was !== now && connectionChanges.push(`${field}: ${was ?? '-'} → ${now}`);
    compare('plugin_name', current.plugin_name, wanted.plugin_name);
    compare('connection_url', current.connection_details.connection_url, wanted.connection_url);
    compare('username', current.connection_details.username, wanted.username);
    compare('allowed_roles', [...current.allowed_roles].sort().join(','), [...wanted.allowed_roles].sort().join(','));
  }
  if (current && connectionChanges.length === 0) steps.push({ step: `connection ${setup.connection}`, status: 'unchanged' });
  else {
    if (!deps.dryRun) {
      await deps.client.write(connectionPath, { ...wanted, allowed_roles: wanted.allowed_roles.join(','), password: deps.adminPassword });
    }
    steps.push({ step: `connection ${setup.connection}`, status: change(current !== null), ...(connectionChanges.length > 0 ? { detail: connectionChanges.join(', ') } : {}) });
  }

  // 4. The roles. TTLs the user did not give are an existing role's own: a re-apply to change
  // the statements must not reset a site's 60 s / 5 min to the defaults.
  for (const [name, planned] of Object.entries(plan.roles)) {
    const path = `${setup.mount}/roles/${name}`;
    const existing = await readOrNull(deps.client, path, databaseRoleSchema);
    const role = {
      ...planned,
      default_ttl: setup.defaultTtl ?? existing?.default_ttl ?? planned.default_ttl,
      max_ttl: setup.maxTtl ?? existing?.max_ttl ?? planned.max_ttl,
    };
    if (role.max_ttl > 0 && role.default_ttl > role.max_ttl) {
      throw new OperationFailedError(`role ${name}: default_ttl ${formatVaultDuration(role.default_ttl)} would exceed its max_ttl ${formatVaultDuration(role.max_ttl)}`, 'give both: --default-ttl and --max-ttl');
    }
    const changes = existing ? roleChanges(existing, role) : [];
    if (existing && changes.length === 0) steps.push({ step: `role ${name}`, status: 'unchanged' });
    else {
      if (!deps.dryRun) await deps.client.write(path, { ...role });
      steps.push({ step: `role ${name}`, status: change(existing !== null), ...(changes.length > 0 ? { detail: changes.join(', ') } : {}) });
    }
  }

  // 5. The least-privilege policies, compared by their text.
  for (const policy of plan.policies) {
    const path = `sys/policies/acl/${policy.name}`;
    const existing = await readOrNull(deps.client, path, policySchema);
    if (existing?.policy === policy.text) steps.push({ step: `policy ${policy.name}`, status: 'unchanged' });
    else {
      if (!deps.dryRun) await deps.client.write(path, { policy: policy.text });
      steps.push({ step: `policy ${policy.name}`, status: change(existing !== null), detail: policy.grants });
    }
  }

  // 6. A test read: credentials can be issued; what was issued is revoked at once.
  if (!deps.dryRun) {
    const first = Object.keys(plan.roles)[0] as string;
    const creds = await deps.client.read(`${setup.mount}/creds/${first}`);
    await deps.client.revokeLease(creds.lease_id);
    steps.push({ step: `test read ${setup.mount}/creds/${first}`, status: 'checked', detail: 'issued and revoked' });
  }
  return steps;
}

/** Each field that differs, as `default_ttl: 1m → 1h` (statements by name only: they are long). */
function roleChanges(existing: VaultRoleDefinition, wanted: VaultRoleDefinition): string[] {
  const changes: string[] = [];
  if (existing.db_name !== wanted.db_name) changes.push(`db_name: ${existing.db_name} → ${wanted.db_name}`);
  for (const field of ['creation_statements', 'revocation_statements'] as const) {
    if (JSON.stringify(existing[field]) !== JSON.stringify(wanted[field])) changes.push(`${field} changed`);
  }
  for (const field of ['default_ttl', 'max_ttl'] as const) {
    if (Number(existing[field]) !== wanted[field]) changes.push(`${field}: ${formatVaultDuration(Number(existing[field]))} → ${formatVaultDuration(wanted[field])}`);
  }
  return changes;
}

/**
 * The seed's "Database Permissions" section, checked instead of assumed: the admin needs
 * CREATEROLE, and on PostgreSQL 16 and later ADMIN OPTION on a group role to make members of it.
 */
export async function checkAdminPrivileges(plan: EnginePlan, admin: pg.ClientBase): Promise<void> {
  const user = plan.setup.adminUser;
  const { rows } = await admin.query<{ rolsuper: boolean; rolcreaterole: boolean; version: number }>(
    `SELECT rolsuper, rolcreaterole, current_setting('server_version_num')::int AS version FROM pg_roles WHERE rolname = current_user`,
  );
  const me = rows[0];
  if (!me) throw new OperationFailedError('cannot read the admin user\'s attributes', undefined);
  if (me.rolsuper) return;
  if (!me.rolcreaterole) {
    throw new PermissionDeniedError(`the admin user ${user} lacks CREATEROLE: Vault could not create the per-lease roles`, `as a superuser: ALTER ROLE ${quoteIdent(user)} CREATEROLE;`);
  }
  if (me.version < 160000 || plan.setup.style !== 'group') return;
  for (const role of plan.setup.roles) {
    const { rows: g } = await admin.query<{ exists: boolean; admin: boolean | null }>(
      `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS exists,
              CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) THEN pg_has_role(current_user, $1, 'MEMBER WITH ADMIN OPTION') END AS admin`,
      [role.group],
    );
    if (g[0]?.exists && !g[0].admin) {
      throw new PermissionDeniedError(
        `the admin user ${user} lacks ADMIN OPTION on the group role ${role.group} (PostgreSQL 16+ requires it to create members)`,
        `as a superuser or the role's owner: GRANT ${quoteIdent(role.group)} TO ${quoteIdent(user)} WITH ADMIN OPTION;`,
      );
    }
  }
}

/** Whether a group role exists with every privilege the one-time SQL grants. */
async function groupState(admin: pg.ClientBase, group: string, access: 'read' | 'write'): Promise<{ exists: boolean; complete: boolean; missing: string[] }> {
  const exists = (await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [group])).rows.length > 0;
  if (!exists) return { exists: false, complete: false, missing: ['role'] };
  const privileges = access === 'read' ? ['SELECT'] : ['SELECT', 'INSERT', 'UPDATE'];
  const { rows } = await admin.query(
    `SELECT has_database_privilege($1, current_database(), 'CONNECT') AS connect,
            has_schema_privilege($1, 'public', 'USAGE') AS usage,
            (SELECT count(*) FROM pg_tables t WHERE t.schemaname = 'public'
               AND NOT (SELECT bool_and(has_table_privilege($1, format('%I.%I', t.schemaname, t.tablename), p)) FROM unnest($2::text[]) p))::int AS tables_missing,
            (SELECT count(*) FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace,
                    LATERAL aclexplode(d.defaclacl) a
              WHERE n.nspname = 'public' AND d.defaclobjtype = 'r' AND d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = current_user)
                AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1) AND a.privilege_type = ANY($2::text[]))::int AS defaults`,
    [group, privileges],
  );
  const r = rows[0] as { connect: boolean; usage: boolean; tables_missing: number; defaults: number };
  const missing: string[] = [];
  if (!r.connect) missing.push('CONNECT');
  if (!r.usage) missing.push('USAGE on public');
  if (r.tables_missing > 0) missing.push(`${privileges.join('/')} on ${r.tables_missing} table(s)`);
  if (r.defaults < privileges.length) missing.push('default privileges');
  return { exists: true, complete: missing.length === 0, missing };
}

/** Opens the admin session the plan names (password given, never printed) and applies the plan. */
export async function applyWithAdmin(plan: EnginePlan, client: VaultClient, adminPassword: string, dryRun: boolean): Promise<AppliedStep[]> {
  const admin = await connectAdmin(plan.setup.target, plan.setup.adminUser, adminPassword, 'eos-setup');
  try {
    return await applyEnginePlan(plan, { client, admin, adminPassword, dryRun });
  } finally {
    await admin.end().catch(() => undefined);
  }
}

/** The URL eos wants, with the query parameters of the current one that eos does not set itself. */
export function keepSiteParameters(wanted: string, current: string | undefined): string {
  if (!current) return wanted;
  const split = (url: string): [string, URLSearchParams] => {
    const q = url.indexOf('?');
    return q === -1 ? [url, new URLSearchParams()] : [url.slice(0, q), new URLSearchParams(url.slice(q + 1))];
  };
  const [base, params] = split(wanted);
  const [, theirs] = split(current);
  for (const [key, value] of theirs) if (!params.has(key)) params.append(key, value);
  // {{username}} and {{password}} live before the `?`; the rest is plain text Vault passes to libpq.
  const query = connectionQuery(params);
  return query ? `${base}?${query}` : base;
}
