import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli as runProcess, runEos as runCli, type CliResult } from '../helpers/cli.js';
import { roleExists } from '../contract/target.js';
import { startVaultFixture, type VaultFixture } from '../helpers/vault-fixture.js';

const KV_PASSWORD = 'kv-Static-Passw0rd-91';
const V1_SECRET = 'v1-secret-Value-77';

describe('eos self secrets get', () => {
  let vault: VaultFixture;
  let home: string;
  let env: NodeJS.ProcessEnv;
  const outputs: CliResult[] = [];
  const get = async (...args: string[]) => {
    const r = await runCli(['self', 'secrets', 'get', ...args], { env });
    outputs.push(r);
    return r;
  };

  beforeAll(async () => {
    vault = await startVaultFixture();
    await vault.write('secret/data/delphi/database/password', { data: { value: KV_PASSWORD } });
    await vault.write('secret/data/delphi/database/username', { data: { value: 'delphi_static' } });
    await vault.write('kv1/legacy/app', { api_key: V1_SECRET, owner: 'ops' });
    home = mkdtempSync(path.join(tmpdir(), 'eos-get-'));
    env = { HOME: home, VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.rootToken, EOS_LOG_FILE: path.join(home, 'eos.log') };
  });
  afterAll(async () => {
    // No secret in anything these commands printed or logged, unless --reveal/--field asked for it.
    const log = readFileSync(env.EOS_LOG_FILE as string, 'utf8');
    for (const r of outputs.filter((o) => !o.revealed)) {
      for (const secret of [KV_PASSWORD, V1_SECRET, vault.rootToken]) {
        expect(r.stdout + r.stderr).not.toContain(secret);
      }
    }
    for (const secret of [KV_PASSWORD, V1_SECRET, vault.rootToken, ...passwords]) expect(log).not.toContain(secret);
    await vault?.stop();
    rmSync(home, { recursive: true, force: true });
  });
  const passwords: string[] = [];

  it('reads a KV v2 secret by its logical path, masked with a mask that hides the length', async () => {
    const r = await get('secret/delphi/database/password');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^value\s+\*{8}$/m);
    const json = JSON.parse((await get('secret/delphi/database/password', '--json')).stdout);
    expect(json).toMatchObject({ kind: 'kv', kvVersion: 2, lease: null, data: { value: '********' } });
  });

  it('reads a KV v1 secret the same way', async () => {
    const json = JSON.parse((await get('kv1/legacy/app', '--json')).stdout);
    expect(json).toMatchObject({ kind: 'kv', kvVersion: 1, data: { api_key: '********', owner: '********' } });
  });

  it('prints a value with --reveal (warning on stderr) and one field raw with --field', async () => {
    const revealed = await get('kv1/legacy/app', '--reveal');
    revealed.revealed = true;
    expect(revealed.stdout).toMatch(new RegExp(`^api_key\\s+${V1_SECRET}$`, 'm'));
    expect(revealed.stderr).toMatch(/^warning: printing secret values in clear \(--reveal\)$/m);
    const masked = await get('secret/delphi/database/password', '--field', 'value');
    expect(masked.stdout).toBe('********\n');
    const raw = await get('secret/delphi/database/password', '--field', 'value', '--reveal');
    raw.revealed = true;
    expect(raw.stdout).toBe(`${KV_PASSWORD}\n`);
  });

  it('a missing path is exit 1 with a clear message', async () => {
    const r = await get('secret/delphi/nothing');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: secret\/delphi\/nothing: no secret at this path$/m);
    expect(r.stdout).toBe('');
    const field = await get('secret/delphi/database/password', '--field', 'nope');
    expect(field.code).toBe(2);
    expect(field.stderr).toMatch(/has no field "nope"/);
  });

  it('issues database credentials, shows the lease, and revokes it when the command ends', async () => {
    const r = await get('database/creds/delphi-readonly', '--json');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.kind).toBe('database-creds');
    expect(json.lease).toMatchObject({ duration: 3600, renewable: true, kept: false });
    expect(json.data.password).toBe('********');
    expect(json.data.username).toMatch(/^v-root-delphi-r-/);
    // The role was created in PostgreSQL for the command and is gone after it.
    expect(await roleExists(vault.dbUrl, json.data.username)).toBe(false);
    const stats = (await (await fetch(`${vault.addr}/__dev/stats`, { headers: { 'X-Vault-Token': vault.rootToken } })).json()) as { byPath: Record<string, number> };
    expect(stats.byPath['database/creds/delphi-readonly']).toBeGreaterThanOrEqual(1);
    // Revoked by naming the lease in the path, where a policy can scope it to the role.
    expect(Object.entries(stats.byPath).filter(([p]) => p.startsWith('sys/leases/revoke/database/creds/delphi-readonly/')).length).toBeGreaterThanOrEqual(1);
  });

  it('keeps the lease with --keep and says how to revoke it', async () => {
    const r = await get('database/creds/delphi-readonly', '--keep', '--reveal');
    r.revealed = true;
    expect(r.code).toBe(0);
    const username = /^username\s+(\S+)$/m.exec(r.stdout)?.[1] as string;
    const leaseId = /^lease_id\s+(\S+)$/m.exec(r.stdout)?.[1] as string;
    expect(r.stdout).toMatch(/^lease_duration\s+3600s$/m);
    expect(r.stderr).toContain(`lease kept: ${leaseId} (TTL 3600 s)`);
    expect(await roleExists(vault.dbUrl, username)).toBe(true);
    const { leases } = (await (await fetch(`${vault.addr}/__dev/leases`, { headers: { 'X-Vault-Token': vault.rootToken } })).json()) as { leases: { id: string }[] };
    expect(leases.map((l) => l.id)).toContain(leaseId);
    const password = /^password\s+(\S+)$/m.exec(r.stdout)?.[1] as string;
    expect(password).toMatch(/^[A-Za-z0-9-]{20}$/);
    passwords.push(password);
  });

  it('shows plain fields of any other path, masking only secrets: role TTLs, connection details, sys/health, the token', async () => {
    const role = JSON.parse((await get('database/roles/delphi-readonly', '--json')).stdout);
    expect(role.kind).toBe('other');
    expect(role.data).toMatchObject({ db_name: 'delphi-postgresql', default_ttl: 3600 });
    expect(role.data.creation_statements[0]).toMatch(/CREATE ROLE/);

    const connection = JSON.parse((await get('database/config/delphi-postgresql', '--json')).stdout);
    expect(connection.data.plugin_name).toBe('postgresql-database-plugin');
    expect(connection.data.connection_details.connection_url).toMatch(/^postgresql:\/\/\{\{username\}\}:\{\{password\}\}@/);

    const health = await get('sys/health', '--json');
    expect(health.code, health.stderr).toBe(0);
    expect(JSON.parse(health.stdout).data).toMatchObject({ initialized: true, sealed: false, standby: false });

    const token = JSON.parse((await get('auth/token/lookup-self', '--json')).stdout);
    expect(token.data.policies).toEqual(['root']);
    expect(token.data.id).toBe('********'); // a token's id is the token itself
    // Not shown either: Vault's audit log hashes an accessor, as it does a token.
    expect(token.data.accessor).toBe('********');
  });

  it('masks every field it does not know to be metadata: an AppRole role-id, a KV-like answer of another engine', async () => {
    await vault.write('auth/approle/role/get-test', { token_policies: ['default'], token_ttl: '10m' });
    const roleId = JSON.parse((await get('auth/approle/role/get-test/role-id', '--json')).stdout);
    expect(roleId.data.role_id).toBe('********');
    const role = JSON.parse((await get('auth/approle/role/get-test', '--json')).stdout);
    // Known metadata stays readable; what eos does not know (token_ttl is not in its list) is masked.
    expect(role.data.token_policies).toEqual(['default']);
    expect(role.data.token_ttl).toBe('********');
    const revealed = await runCli(['self', 'secrets', 'get', 'auth/approle/role/get-test/role-id', '--json', '--reveal'], { env });
    expect(JSON.parse(revealed.stdout).data.role_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('DEBUG=* prints nothing of the Vault client library\'s own debug output (its request bodies would hold secrets)', async () => {
    // A real process: the library's logger reads DEBUG from the process environment.
    const r = await runProcess(['self', 'secrets', 'get', 'secret/delphi/database/password', '--field', 'value', '--reveal'], { env: { ...env, DEBUG: '*' } });
    r.revealed = true;
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(KV_PASSWORD);
    expect(r.stderr).toBe('warning: printing secret values in clear (--reveal)\n');
  });

  it('a folder is named as one, with the keys under it, not "no secret"', async () => {
    const r = await get('secret/delphi/database');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: secret\/delphi\/database: no secret here, but a folder holding password, username$/m);
    expect(r.stderr).toMatch(/^hint: read one of them: eos self secrets get secret\/delphi\/database\/password$/m);
  });

  it('a path under no mount is "nothing mounted there", exit 1, even for the root token (Vault answers 403 to the mount lookup)', async () => {
    const r = await get('nosuchmount/delphi/config');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: nosuchmount\/delphi\/config: no secrets engine is mounted there that this token may use/m);
    expect(r.stderr).toMatch(/^hint: .*vault secrets enable -path=nosuchmount kv-v2$/m);
    // Any other token cannot tell "nothing there" from "not yours": both causes, exit 4.
    const plain = ((await vault.write('auth/token/create', { policies: ['default'], ttl: '5m' })) as { auth: { client_token: string } }).auth.client_token;
    const denied = await runCli(['self', 'secrets', 'get', 'nosuchmount/delphi/config'], { env: { ...env, VAULT_TOKEN: plain } });
    expect(denied.code).toBe(4);
    expect(denied.stderr).toMatch(/^error: nosuchmount\/delphi\/config: Vault refused the mount lookup \(403\): nothing is mounted there, or this token's policies do not cover it$/m);
  });

  it('refuses a bad token with exit 4', async () => {
    const r = await runCli(['self', 'secrets', 'get', 'secret/delphi/database/password'], { env: { ...env, VAULT_TOKEN: 'hvs.bad-token-0000000000000000' } });
    expect(r.code).toBe(4);
    // Not "permission denied" on some path: the token itself is refused, and the error says so.
    expect(r.stderr).toMatch(/^error: Vault token expired, revoked or used up \(num_uses\): Vault refused sys\/internal\/ui\/mounts\/secret\/delphi\/database\/password and even the token's own lookup$/m);
  });
});
