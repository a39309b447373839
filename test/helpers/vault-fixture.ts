import pg from 'pg';
import { startVaultDevServer, type VaultDevServer } from '../../src/sandbox/vault-dev-server/server.js';
import { groupMemberStatements, groupRoleSql } from '../../src/setup/engine-sql.js';
import { freshDatabase } from './pg.js';

/**
 * A dev server set up like a site running Delphi: KV v2 at secret/, KV v1 at kv1/, the database
 * engine on a fresh database with the role delphi-readonly (group-role design), and AppRole.
 */
export interface VaultFixture {
  server: VaultDevServer;
  addr: string;
  rootToken: string;
  dbUrl: string;
  dbName: string;
  write(path: string, body: unknown): Promise<Record<string, unknown> | null>;
  approle: { roleId: string; secretId: string };
  stop(): Promise<void>;
}

export async function startVaultFixture(options: { ttl?: number; maxTtl?: number } = {}): Promise<VaultFixture> {
  const server = await startVaultDevServer();
  const { url: dbUrl, name: dbName } = await freshDatabase({ schema: true, eos: true });
  const admin = new pg.Client({ connectionString: dbUrl });
  await admin.connect();
  const group = `ro_${dbName}`;
  for (const statement of groupRoleSql(group, dbName, 'read')) await admin.query(statement);
  await admin.end();

  const write = async (path: string, body: unknown) => {
    const res = await fetch(`${server.addr}/v1/${path}`, { method: 'POST', headers: { 'X-Vault-Token': server.rootToken }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.status === 204 ? null : ((await res.json()) as Record<string, unknown>);
  };
  await write('sys/mounts/secret', { type: 'kv-v2' });
  await write('sys/mounts/kv1', { type: 'kv' });
  await write('sys/mounts/database', { type: 'database' });
  const url = new URL(dbUrl);
  await write('database/config/delphi-postgresql', {
    plugin_name: 'postgresql-database-plugin',
    connection_url: `postgresql://{{username}}:{{password}}@${url.host}/${dbName}?sslmode=disable`,
    username: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    allowed_roles: '*',
  });
  const statements = groupMemberStatements(group);
  await write('database/roles/delphi-readonly', {
    db_name: 'delphi-postgresql',
    creation_statements: statements.creation,
    revocation_statements: statements.revocation,
    default_ttl: options.ttl ?? 3600,
    max_ttl: options.maxTtl ?? 86400,
  });
  await write('sys/auth/approle', { type: 'approle' });
  await write('auth/approle/role/eos', { token_ttl: '1h', token_policies: ['delphi'] });
  const roleId = (await (await fetch(`${server.addr}/v1/auth/approle/role/eos/role-id`, { headers: { 'X-Vault-Token': server.rootToken } })).json()) as { data: { role_id: string } };
  const secretId = (await write('auth/approle/role/eos/secret-id', {})) as { data: { secret_id: string } };
  return {
    server,
    addr: server.addr,
    rootToken: server.rootToken,
    dbUrl,
    dbName,
    write,
    approle: { roleId: roleId.data.role_id, secretId: secretId.data.secret_id },
    stop: () => server.stop(),
  };
}
