/**
 * The database-engine design of docs/design.md §7: per-lease PostgreSQL roles are members of a NOLOGIN
 * group role that holds every privilege, so nothing ever depends on the per-lease role and
 * revocation (end its sessions, drop it) always succeeds. The seed's statements granted
 * privileges — and default privileges — to the per-lease role itself, which makes DROP ROLE
 * fail with 2BP01 and leaves a role behind for every lease.
 */
import { quoteIdent, quoteLiteral } from '../db/identifiers.js';

export type GroupAccess = 'read' | 'write';

/** One-time SQL that creates a group role and gives it its privileges (idempotent). */
export function groupRoleSql(group: string, database: string, access: GroupAccess, schema = 'public'): string[] {
  const g = quoteIdent(group);
  const s = quoteIdent(schema);
  const tables = access === 'read' ? 'SELECT' : 'SELECT, INSERT, UPDATE';
  const statements = [
    `DO $$ BEGIN CREATE ROLE ${g} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;`,
    `GRANT CONNECT ON DATABASE ${quoteIdent(database)} TO ${g};`,
    `GRANT USAGE ON SCHEMA ${s} TO ${g};`,
    `GRANT ${tables} ON ALL TABLES IN SCHEMA ${s} TO ${g};`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT ${tables} ON TABLES TO ${g};`,
    // eos's own schema (made by `eos delphi schema apply`, before or after this): reading only,
    // for both groups — the dashboard reads its views; nobody but the admin writes there.
    `DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'eos') THEN ` +
      `EXECUTE 'GRANT USAGE ON SCHEMA eos TO ' || ${quoteLiteral(g)}; EXECUTE 'GRANT SELECT ON ALL TABLES IN SCHEMA eos TO ' || ${quoteLiteral(g)}; END IF; END $$;`,
  ];
  if (access === 'write') {
    statements.push(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${s} TO ${g};`);
    statements.push(`ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT USAGE ON SEQUENCES TO ${g};`);
    // Writers write the pipeline's tables, never eos's own. A database whose eos objects are
    // still in this schema (eos schema version 3 or older, until the next schema apply moves
    // them into `eos`) had them taken too by the grant above: take them back.
    statements.push(
      `DO $$ DECLARE r regclass; BEGIN FOR r IN SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace ` +
        `WHERE n.nspname = ${quoteLiteral(schema)} AND c.relname LIKE 'eos\\_%' AND c.relkind IN ('r', 'p') ` +
        `LOOP EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON %s FROM %I', r, ${quoteLiteral(group)}); END LOOP; END $$;`,
    );
  }
  return statements;
}

/**
 * What eos writes on each user its engine makes (`COMMENT ON ROLE`): which Vault (its cluster
 * id, the same on every node of it), namespace, mount, connection and Vault role made it —
 * `eos:<cluster id>/<mount>/<connection>/<role>`, or `eos:<cluster id>/<namespace>:/<mount>/…`
 * in a namespace (no name holds a `:`, so neither reads as the other). `eos self secrets audit
 * --fix` drops only users of the roles it audits that carry it: a group and a name can be another
 * engine's too, two eos sites with the default names on one database cluster differ only in
 * their Vault or namespace, and the users of a role the audit does not list (renamed since) have
 * leases it does not see. Without the cluster id (a plan printed while Vault did not answer) the
 * marker names no Vault, and no audit takes those users for its own.
 */
export function ownershipMarker(vault: { clusterId?: string | undefined; namespace?: string | undefined }, mount: string, connection: string, role: string): string {
  return `${engineMarker(vault, mount, connection)}/${role}`;
}

/** The part of the marker every role of one engine connection shares. */
export function engineMarker(vault: { clusterId?: string | undefined; namespace?: string | undefined }, mount: string, connection: string): string {
  // Vault and OpenBao read `/team-a/` as `team-a`.
  const namespace = (vault.namespace ?? '').replace(/^\/+|\/+$/g, '');
  const where = `${namespace ? `${namespace}:/` : ''}${mount}/${connection}`;
  // Vault sends a UUID; anything else (a hostile or broken server) goes into no statement.
  return vault.clusterId && isVaultClusterId(vault.clusterId) ? `eos:${vault.clusterId}/${where}` : `eos:${where}`;
}

/** A cluster id as Vault and OpenBao make them (a UUID), safe in a statement. */
export function isVaultClusterId(id: string): boolean {
  return VAULT_CLUSTER_ID.test(id);
}

export const VAULT_CLUSTER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The Vault role's statements for members of a group role (and the ownership marker, when given). */
export function groupMemberStatements(group: string, marker?: string): { creation: string[]; revocation: string[] } {
  return {
    creation: [
      `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE ${quoteIdent(group)};`,
      ...(marker ? [`COMMENT ON ROLE "{{name}}" IS ${quoteLiteral(marker)};`] : []),
    ],
    revocation: [
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{{name}}';`,
      `DROP ROLE IF EXISTS "{{name}}";`,
    ],
  };
}
