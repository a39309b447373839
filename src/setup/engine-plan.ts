import { ADMIN_PASSWORD_ENV } from '../config/constants.js';
import { checkMountPath, checkRoleName } from '../config/vault-names.js';
import { quoted, UsageError } from '../errors.js';
import { isValidDatabaseName, isValidHost, type DbTarget } from '../db/target.js';
import { describeHosts, formatHostList, hostAddress } from '../db/hosts.js';
import { shellQuote } from '../util/shell.js';
import { eosPolicies, type EosPolicy } from './policies.js';
import { quoteIdent } from '../db/identifiers.js';
import { groupMemberStatements, ownershipMarker, groupRoleSql, type GroupAccess } from './engine-sql.js';

/**
 * The database-engine set-up of the seed's step 3, done right (docs/design.md §7), as a list of steps
 * that can be printed as commands to paste or applied through the Vault API. The admin
 * password is in no step: printed commands read it from $DELPHI_DB_ADMIN_PASSWORD.
 */

export type StatementStyle = 'group' | 'seed';

export interface EngineSetup {
  target: DbTarget;
  mount: string;
  connection: string;
  adminUser: string;
  style: StatementStyle;
  /** Seconds; left out, an existing role keeps its own and a new one gets DEFAULT_TTLS. */
  defaultTtl?: number | undefined;
  maxTtl?: number | undefined;
  roles: { name: string; group: string; access: GroupAccess }[];
  /** Where eos's KV paths live, for the policies (default: secret, v2). */
  kv?: { mount: string; version: 1 | 2 };
  /**
   * TLS files for Vault's PostgreSQL plugin, as paths on the Vault host, put in the connection's
   * URL: the CA it verifies the server with (`sslrootcert`) and a client certificate with its key
   * (`sslcert`, `sslkey`). Each left out keeps what the site set by hand.
   */
  pluginTls?: { sslrootcert?: string | undefined; sslcert?: string | undefined; sslkey?: string | undefined };
  /** The Vault's cluster id (sys/health), for the ownership marker on each user; unknown when Vault did not answer. */
  vaultClusterId?: string | undefined;
  /** The Vault namespace the engine is in (the marker names it: two namespaces may use the same names). */
  vaultNamespace?: string | undefined;
}

/** The seed's TTLs (docs/design.md §7), for a role created without --default-ttl / --max-ttl. */
export const DEFAULT_TTLS = { defaultTtl: 3600, maxTtl: 86_400 };

export interface VaultRoleDefinition {
  db_name: string;
  creation_statements: string[];
  revocation_statements: string[];
  default_ttl: number;
  max_ttl: number;
}

export interface EnginePlan {
  setup: EngineSetup;
  /** One-time SQL, run as the admin (empty in seed style: the grants go to each lease's role). */
  sql: string[];
  connection: { plugin_name: string; connection_url: string; username: string; allowed_roles: string[]; verify_connection: boolean };
  roles: Record<string, VaultRoleDefinition>;
  /** The least-privilege policies for tokens that use these roles. */
  policies: EosPolicy[];
}


const VAULT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const PG_ROLE = /^[a-z_][a-z0-9_]{0,62}$/;

/** Refuses names that could break out of a path, a statement or a command line. */
export function validateSetup(setup: EngineSetup): void {
  const check = (value: string, valid: RegExp | ((v: string) => boolean), what: string, hint: string) => {
    if (!(typeof valid === 'function' ? valid(value) : valid.test(value))) throw new UsageError(`${what} ${quoted(value)} is not allowed`, hint);
  };
  const vaultHint = 'Vault names are letters, digits, ".", "_" and "-", starting with a letter or digit';
  checkMountPath(setup.mount, '--mount');
  check(setup.connection, VAULT_NAME, 'connection name', vaultHint);
  for (const role of setup.roles) {
    checkRoleName(role.name, 'the engine set-up');
    check(role.group, PG_ROLE, 'group role', 'PostgreSQL group roles here are lower-case letters, digits and "_", starting with a letter or "_"');
  }
  check(setup.adminUser, PG_ROLE, 'admin user', 'a PostgreSQL role name: lower-case letters, digits and "_"');
  for (const h of [setup.target, ...setup.target.hosts]) check(h.host, isValidHost, 'host', 'a host name or an IP address');
  check(setup.target.database, isValidDatabaseName, 'database', 'letters, digits, "_", "$" and "-", starting with a letter or "_"');
  for (const [key, value] of Object.entries(setup.pluginTls ?? {})) {
    if (value === undefined) continue;
    // A path on another machine: eos cannot look at it, only refuse what is no absolute path.
    // eslint-disable-next-line no-control-regex -- refusing control characters is the point
    check(value, (v) => v.startsWith('/') && v.length <= 4096 && !/[\u0000-\u001f\u007f]/.test(v), `--vault-${key}`, `an absolute path of the file on the Vault host, e.g. /etc/vault/postgres-${key === 'sslrootcert' ? 'ca.pem' : key === 'sslcert' ? 'client.pem' : 'client.key'}`);
  }
  const { defaultTtl, maxTtl } = { ...DEFAULT_TTLS, ...definedTtls(setup) };
  if (defaultTtl <= 0 || maxTtl < defaultTtl) {
    throw new UsageError(`TTLs ${defaultTtl}s / ${maxTtl}s are not valid`, 'the default TTL must be positive and no longer than the max TTL (e.g. --default-ttl 1h --max-ttl 24h)');
  }
}

/** The TTLs the user gave, and only those. */
export function definedTtls(setup: Pick<EngineSetup, 'defaultTtl' | 'maxTtl'>): Partial<typeof DEFAULT_TTLS> {
  return { ...(setup.defaultTtl !== undefined ? { defaultTtl: setup.defaultTtl } : {}), ...(setup.maxTtl !== undefined ? { maxTtl: setup.maxTtl } : {}) };
}

/** The seed's creation statements, with the grants it gave each lease's role. */
function seedCreation(database: string, access: GroupAccess): string[] {
  const tables = access === 'read' ? 'SELECT' : 'SELECT, INSERT, UPDATE';
  const statements = [
    `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
    `GRANT CONNECT ON DATABASE ${quoteIdent(database)} TO "{{name}}";`,
    `GRANT USAGE ON SCHEMA public TO "{{name}}";`,
    `GRANT ${tables} ON ALL TABLES IN SCHEMA public TO "{{name}}";`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ${tables} ON TABLES TO "{{name}}";`,
  ];
  if (access === 'write') statements.push(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{{name}}";`);
  // Not the seed's: eos's own views are in the schema eos (when installed), read-only to all.
  statements.push(`DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'eos') THEN GRANT USAGE ON SCHEMA eos TO "{{name}}"; GRANT SELECT ON ALL TABLES IN SCHEMA eos TO "{{name}}"; END IF; END $$;`);
  return [statements.join(' ')];
}

/**
 * What the seed lacked: revocation that undoes its default privileges. Without the ALTER
 * DEFAULT PRIVILEGES … REVOKE, PostgreSQL refuses the DROP ROLE (2BP01) and the role stays.
 */
function seedRevocation(database: string, access: GroupAccess): string[] {
  const tables = access === 'read' ? 'SELECT' : 'SELECT, INSERT, UPDATE';
  return [
    `ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ${tables} ON TABLES FROM "{{name}}";`,
    `REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public FROM "{{name}}";`,
    `REVOKE ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA public FROM "{{name}}";`,
    `REVOKE USAGE ON SCHEMA public FROM "{{name}}";`,
    `DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'eos') THEN REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA eos FROM "{{name}}"; REVOKE USAGE ON SCHEMA eos FROM "{{name}}"; END IF; END $$;`,
    `REVOKE CONNECT ON DATABASE ${quoteIdent(database)} FROM "{{name}}";`,
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{{name}}';`,
    `DROP ROLE IF EXISTS "{{name}}";`,
  ];
}

/**
 * The query of a connection_url, the one encoding both the plan and a re-apply write: each value
 * escaped (a `&`, `#` or `?` in a path stays in its parameter), `/` left readable in paths.
 */
export function connectionQuery(params: Iterable<[string, string]>): string {
  return [...params].map(([k, v]) => `${k}=${encodeURIComponent(v).replace(/%2F/g, '/')}`).join('&');
}

export function buildEnginePlan(setup: EngineSetup): EnginePlan {
  validateSetup(setup);
  const t = setup.target;
  const roles: Record<string, VaultRoleDefinition> = {};
  for (const role of setup.roles) {
    const statements =
      setup.style === 'group'
        ? groupMemberStatements(role.group, ownershipMarker({ clusterId: setup.vaultClusterId, namespace: setup.vaultNamespace }, setup.mount, setup.connection, role.name))
        : { creation: seedCreation(t.database, role.access), revocation: seedRevocation(t.database, role.access) };
    roles[role.name] = {
      db_name: setup.connection,
      creation_statements: statements.creation,
      revocation_statements: statements.revocation,
      default_ttl: setup.defaultTtl ?? DEFAULT_TTLS.defaultTtl,
      max_ttl: setup.maxTtl ?? DEFAULT_TTLS.maxTtl,
    };
  }
  // Several hosts: the URL lists them all (pgx, and so Vault's plugin, reads libpq's form) and
  // asks for the one that accepts writes, so the engine follows a promotion by itself.
  const hosts = t.hosts.length > 1 ? t.hosts : [{ host: t.host, port: t.port }];
  return {
    setup,
    sql: setup.style === 'group' ? setup.roles.flatMap((r) => groupRoleSql(r.group, t.database, r.access)) : [],
    connection: {
      plugin_name: 'postgresql-database-plugin',
      connection_url: `postgresql://{{username}}:{{password}}@${hosts.map(hostAddress).join(',')}/${encodeURIComponent(t.database)}?${connectionQuery([
        ['sslmode', t.sslmode],
        ...(hosts.length > 1 ? ([['target_session_attrs', 'read-write']] as [string, string][]) : []),
        ...(['sslrootcert', 'sslcert', 'sslkey'] as const).flatMap((k): [string, string][] => (setup.pluginTls?.[k] === undefined ? [] : [[k, setup.pluginTls[k] as string]])),
      ])}`,
      username: setup.adminUser,
      allowed_roles: setup.roles.map((r) => r.name),
      verify_connection: true,
    },
    roles,
    policies: eosPolicies(
      { engineMount: setup.mount, kvMount: setup.kv?.mount ?? 'secret', kvVersion: setup.kv?.version ?? 2, connection: setup.connection },
      { reader: setup.roles.find((r) => r.access === 'read')?.name, worker: setup.roles.find((r) => r.access === 'write')?.name },
    ),
  };
}

/** The plan as commands to paste: the Vault CLI and psql; the password only as $DELPHI_DB_ADMIN_PASSWORD. */
export function renderCommands(plan: EnginePlan): string {
  const { setup } = plan;
  const t = setup.target;
  const lines: string[] = [];
  const step = (title: string) => lines.push('', `# ${title}`);
  const hosts = t.hosts.length > 1 ? t.hosts : [{ host: t.host, port: t.port }];
  lines.push(`# Database secrets engine for ${describeHosts(hosts)}/${t.database} (eos, ${setup.style === 'group' ? 'group-role design' : 'seed statements with fixed revocation'})`);
  lines.push(`# Set the admin password in the environment first (it is never written here): read -rs ${ADMIN_PASSWORD_ENV}; export ${ADMIN_PASSWORD_ENV}`);
  step('1. Enable the engine');
  lines.push(`vault secrets enable -path=${shellQuote(setup.mount)} database`);
  if (plan.sql.length > 0) {
    step('2. One-time SQL as the admin: group roles that hold every privilege');
    const listed = formatHostList(hosts);
    const conninfo = `host=${listed.host} port=${listed.port} dbname=${t.database} user=${setup.adminUser} sslmode=${t.sslmode}${hosts.length > 1 ? ' target_session_attrs=read-write' : ''}`;
    lines.push(`PGPASSWORD="$${ADMIN_PASSWORD_ENV}" psql -v ON_ERROR_STOP=1 ${shellQuote(conninfo)} <<'SQL'`);
    lines.push(...plan.sql);
    lines.push('SQL');
  }
  step(`${plan.sql.length > 0 ? 3 : 2}. The connection Vault uses`);
  const c = plan.connection;
  // The password goes to the Vault CLI on its standard input (`password=-`), from printf, a
  // shell builtin: on no command line, where `ps` would show it to every user of the machine.
  lines.push(
    `printf '%s' "$${ADMIN_PASSWORD_ENV}" | vault write ${shellQuote(`${setup.mount}/config/${setup.connection}`)} \\`,
    `    plugin_name=${c.plugin_name} \\`,
    `    connection_url=${shellQuote(c.connection_url)} \\`,
    `    allowed_roles=${shellQuote(c.allowed_roles.join(','))} \\`,
    `    username=${shellQuote(c.username)} \\`,
    `    password=-`,
  );
  step(`${plan.sql.length > 0 ? 4 : 3}. The roles`);
  if (setup.style === 'group' && !setup.vaultClusterId) {
    lines.push("# Vault did not answer, so each user's marker (COMMENT ON ROLE) names no Vault: `eos self secrets audit --fix`", '# will report these roles\' orphans but not drop them. Print again with Vault reachable, or use --apply.');
  }
  for (const [name, role] of Object.entries(plan.roles)) {
    lines.push(
      `vault write ${shellQuote(`${setup.mount}/roles/${name}`)} \\`,
      `    db_name=${shellQuote(role.db_name)} \\`,
      ...role.creation_statements.map((s) => `    creation_statements=${shellQuote(s)} \\`),
      ...role.revocation_statements.map((s) => `    revocation_statements=${shellQuote(s)} \\`),
      `    default_ttl=${role.default_ttl}s \\`,
      `    max_ttl=${role.max_ttl}s`,
    );
  }
  step(`${plan.sql.length > 0 ? 5 : 4}. Least-privilege policies for the tokens eos runs with (attach one per token or AppRole role)`);
  for (const policy of plan.policies) lines.push(`vault policy write ${policy.name} - <<'HCL'`, policy.text.trimEnd(), 'HCL');
  step(`${plan.sql.length > 0 ? 6 : 5}. Test read (and revoke what it issued)`);
  const first = Object.keys(plan.roles)[0] as string;
  // eos's get revokes what it issued when it ends; a bare `vault read` would leave the lease (and
  // its PostgreSQL role) for its whole TTL.
  lines.push(`eos self secrets get ${shellQuote(`${setup.mount}/creds/${first}`)}`);
  lines.push('# then: eos self secrets test');
  return `${lines.join('\n')}\n`;
}
