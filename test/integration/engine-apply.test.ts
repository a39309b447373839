import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVaultDevServer, type VaultDevServer } from '../../src/sandbox/vault-dev-server/server.js';
import { createVaultClient, type VaultClient } from '../../src/vault/client.js';
import { applyWithAdmin, keepSiteParameters } from '../../src/setup/engine-apply.js';
import { makeTestPki } from '../helpers/pki.js';
import { buildEnginePlan, type EngineSetup } from '../../src/setup/engine-plan.js';
import { PermissionDeniedError } from '../../src/errors.js';
import { clusterInfo, freshDatabase } from '../helpers/pg.js';

describe('applying the engine set-up: privilege checks and --dry-run', () => {
  let vault: VaultDevServer;
  let client: VaultClient;
  let admin: pg.Client;
  let db: { name: string; url: string };
  const suffix = randomBytes(3).toString('hex');
  const { adminPassword, port } = clusterInfo();
  const plan = (over: Partial<EngineSetup> = {}) =>
    buildEnginePlan({
      target: { host: '127.0.0.1', port, hosts: [{ host: '127.0.0.1', port }], targetSessionAttrs: 'any', database: db.name, sslmode: 'disable', origins: { host: 'flag', port: 'flag', database: 'flag', sslmode: 'flag' } },
      mount: 'database',
      connection: 'delphi-postgresql',
      adminUser: 'postgres',
      style: 'group',
      defaultTtl: 300,
      maxTtl: 3600,
      roles: [{ name: 'delphi-readonly', group: `ro_${suffix}`, access: 'read' }],
      ...over,
    });
  const mounts = async () => Object.keys((await client.read<Record<string, unknown>>('sys/mounts')).data ?? {});

  beforeAll(async () => {
    vault = await startVaultDevServer();
    client = createVaultClient({ settings: { address: vault.addr, maxRetries: 0 }, token: vault.rootToken });
    db = await freshDatabase({ schema: true });
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    client?.close();
    await vault?.stop();
  });

  it('names the missing CREATEROLE and changes nothing', async () => {
    await admin.query(`CREATE ROLE weak_${suffix} LOGIN PASSWORD 'Weak-pw-1'`);
    const err = await applyWithAdmin(plan({ adminUser: `weak_${suffix}` }), client, 'Weak-pw-1', false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect((err as PermissionDeniedError).message).toBe(`the admin user weak_${suffix} lacks CREATEROLE: Vault could not create the per-lease roles`);
    expect((err as PermissionDeniedError).hint).toBe(`as a superuser: ALTER ROLE "weak_${suffix}" CREATEROLE;`);
    expect(await mounts()).not.toContain('database/');
  });

  it('names the missing ADMIN OPTION on an existing group role (PostgreSQL 16+)', async () => {
    await admin.query(`CREATE ROLE ro_${suffix} NOLOGIN`);
    await admin.query(`CREATE ROLE creator_${suffix} LOGIN CREATEROLE PASSWORD 'Creator-pw-1'`);
    const err = await applyWithAdmin(plan({ adminUser: `creator_${suffix}` }), client, 'Creator-pw-1', false).catch((e: unknown) => e);
    expect((err as Error).message).toBe(`the admin user creator_${suffix} lacks ADMIN OPTION on the group role ro_${suffix} (PostgreSQL 16+ requires it to create members)`);
    expect((err as PermissionDeniedError).hint).toBe(`as a superuser or the role's owner: GRANT "ro_${suffix}" TO "creator_${suffix}" WITH ADMIN OPTION;`);
    expect(await mounts()).not.toContain('database/');
  });

  it('--dry-run says what would change and changes nothing; after an apply it finds nothing to do', async () => {
    const before = await mounts();
    const dry = await applyWithAdmin(plan(), client, adminPassword, true);
    expect(dry.map((s) => `${s.step}: ${s.status}`)).toEqual([
      'mount database/: would create',
      `group role ro_${suffix}: would update`,
      'connection delphi-postgresql: would create',
      'role delphi-readonly: would create',
      'policy eos-delphi-reader: would create',
      'policy eos-delphi-auditor: would create',
    ]);
    expect(await mounts()).toEqual(before);

    await applyWithAdmin(plan(), client, adminPassword, false);
    const again = await applyWithAdmin(plan(), client, adminPassword, true);
    expect(again.every((s) => s.status === 'unchanged')).toBe(true);
    expect(again).toHaveLength(6);
    // The policy written is the plan's, and grants the role's credentials.
    const written = (await client.read<{ policy: string }>('sys/policies/acl/eos-delphi-reader')).data;
    expect(written?.policy).toBe(plan().policies[0]?.text);
    expect(written?.policy).toContain('path "database/creds/delphi-readonly"');
  });

  it("keeps what a site added to the connection's URL for Vault's plugin (a CA on the Vault host): a re-apply changes nothing", async () => {
    await applyWithAdmin(plan(), client, adminPassword, false);
    const pki = makeTestPki();
    const read = async () => (await client.read<{ connection_details: { connection_url: string } }>('database/config/delphi-postgresql')).data?.connection_details.connection_url ?? '';
    const original = await read();
    const write = (url: string) => client.write('database/config/delphi-postgresql', { plugin_name: 'postgresql-database-plugin', connection_url: url, username: 'postgres', password: adminPassword, allowed_roles: 'delphi-readonly' });
    try {
      await write(`${original}&sslrootcert=${pki.caFile}`);
      const again = await applyWithAdmin(plan(), client, adminPassword, false);
      expect(again.find((s) => s.step === 'connection delphi-postgresql')).toEqual({ step: 'connection delphi-postgresql', status: 'unchanged' });
      expect(await read()).toBe(`${original}&sslrootcert=${pki.caFile}`);
    } finally {
      await write(original);
      pki.remove();
    }
    // A change eos does make (another sslmode) keeps the site's parameter beside it.
    expect(keepSiteParameters('postgresql://{{username}}:{{password}}@db:5432/delphi?sslmode=verify-full', 'postgresql://{{username}}:{{password}}@db:5432/delphi?sslmode=require&sslrootcert=/etc/vault/pg-ca.pem'))
      .toBe('postgresql://{{username}}:{{password}}@db:5432/delphi?sslmode=verify-full&sslrootcert=/etc/vault/pg-ca.pem');
    expect(keepSiteParameters('postgresql://h/d?sslmode=disable', undefined)).toBe('postgresql://h/d?sslmode=disable');
  });

  it('keeps the TTLs a role has when none are given, and says each field it changes', async () => {
    // The site runs short leases, set by hand.
    await client.write('database/roles/delphi-readonly', { ...plan().roles['delphi-readonly'], default_ttl: 60, max_ttl: 300 });
    const reapplied = await applyWithAdmin(plan({ defaultTtl: undefined, maxTtl: undefined }), client, adminPassword, true);
    expect(reapplied.find((s) => s.step === 'role delphi-readonly')).toEqual({ step: 'role delphi-readonly', status: 'unchanged' });

    const dry = await applyWithAdmin(plan({ defaultTtl: 120, maxTtl: 3600 }), client, adminPassword, true);
    expect(dry.find((s) => s.step === 'role delphi-readonly')).toEqual({ step: 'role delphi-readonly', status: 'would update', detail: 'default_ttl: 1m → 2m, max_ttl: 5m → 1h' });
    expect((await client.read('database/roles/delphi-readonly')).data).toMatchObject({ default_ttl: 60, max_ttl: 300 });
    // 1h would pass the role's own 5 min max_ttl: refused, nothing written.
    await expect(applyWithAdmin(plan({ defaultTtl: 3600, maxTtl: undefined }), client, adminPassword, false)).rejects.toThrow(/default_ttl 1h would exceed its max_ttl 5m/);

    const applied = await applyWithAdmin(plan({ defaultTtl: 120, maxTtl: undefined }), client, adminPassword, false);
    expect(applied.find((s) => s.step === 'role delphi-readonly')).toEqual({ step: 'role delphi-readonly', status: 'updated', detail: 'default_ttl: 1m → 2m' });
    expect((await client.read('database/roles/delphi-readonly')).data).toMatchObject({ default_ttl: 120, max_ttl: 300 });
  });
});
