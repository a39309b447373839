import pg from 'pg';
import { configSchema, type Config } from '../../src/config/schema.js';
import { startVaultFixture, type VaultFixture } from './vault-fixture.js';

/** The dev server with short-TTL dynamic credentials, and an eos config pointing at it. */
export async function startDatabaseFixture(options: { ttl: number; maxTtl: number; sources?: Config['credentials']['sources'] }) {
  const vault: VaultFixture = await startVaultFixture({ ttl: options.ttl, maxTtl: options.maxTtl });
  const url = new URL(vault.dbUrl);
  const config = configSchema.parse({
    vault: { address: vault.addr },
    database: { host: url.hostname, port: Number(url.port), name: vault.dbName, sslmode: 'disable' },
    credentials: { sources: options.sources ?? ['dynamic'] },
  });
  const env = { VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.rootToken };
  const admin = new pg.Client({ connectionString: vault.dbUrl });
  await admin.connect();
  const group = `ro_${vault.dbName}`;
  return {
    vault,
    config,
    env,
    admin,
    group,
    /** Lease holders left: members of this fixture's group role (dropped roles leave none). */
    async membersLeft(): Promise<number> {
      const { rows } = await admin.query(
        'SELECT count(*)::int AS n FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE g.rolname = $1',
        [group],
      );
      return rows[0].n as number;
    },
    async leasesLeft(): Promise<number> {
      const body = (await (await fetch(`${vault.addr}/__dev/leases`, { headers: { 'X-Vault-Token': vault.rootToken } })).json()) as { leases: unknown[] };
      return body.leases.length;
    },
    control: (route: string, body?: unknown) => fetch(`${vault.addr}/__dev/${route}`, { method: body === undefined ? 'DELETE' : 'POST', headers: { 'X-Vault-Token': vault.rootToken }, body: JSON.stringify(body ?? {}) }),
    async stop() {
      await admin.end();
      await vault.stop();
    },
  };
}
