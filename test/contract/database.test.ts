import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contractTarget, engineConnection, http, roleExists, sleep, unique, type ContractTarget } from './target.js';

const SEED_CREATION = (db: string) =>
  `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; ` +
  `GRANT CONNECT ON DATABASE "${db}" TO "{{name}}"; GRANT USAGE ON SCHEMA public TO "{{name}}"; ` +
  `GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}"; ` +
  `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO "{{name}}";`;

describe('Vault API contract: the database secrets engine and leases (§4, §5)', () => {
  let target: ContractTarget;
  let vault: ReturnType<typeof http>;
  let admin: pg.Client;
  let mount: string;
  let group: string;
  let dbName: string;
  let pgHost: string;
  let pgPort: number;

  /** Writes a role on the `delphi` connection; statements default to the group-role design. */
  async function role(name: string, fields: Record<string, unknown> = {}) {
    const r = await vault('POST', `${mount}/roles/${name}`, {
      db_name: 'delphi',
      creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE "${group}";`],
      revocation_statements: [
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{{name}}';`,
        `DROP ROLE IF EXISTS "{{name}}";`,
      ],
      default_ttl: '1h',
      max_ttl: '24h',
      ...fields,
    });
    expect(r.status).toBe(204);
  }

  async function issue(roleName: string) {
    const r = await vault('GET', `${mount}/creds/${roleName}`);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    return r.json as { lease_id: string; lease_duration: number; renewable: boolean; data: { username: string; password: string } };
  }

  async function login(username: string, password: string) {
    const client = new pg.Client({ host: pgHost, port: pgPort, database: dbName, user: username, password });
    await client.connect();
    return client;
  }

  beforeAll(async () => {
    target = await contractTarget({ database: true });
    vault = http(target);
    admin = new pg.Client({ connectionString: target.pgUrl });
    await admin.connect();
    const url = new URL(target.pgUrl);
    pgHost = url.hostname;
    pgPort = Number(url.port || 5432);
    dbName = decodeURIComponent(url.pathname.slice(1));
    group = unique('delphi_ro').replace(/-/g, '_');
    await admin.query(`CREATE ROLE "${group}" NOLOGIN`);
    await admin.query(`CREATE TABLE IF NOT EXISTS contract_probe (id int)`);
    await admin.query(`GRANT CONNECT ON DATABASE "${dbName}" TO "${group}"; GRANT USAGE ON SCHEMA public TO "${group}"; GRANT SELECT ON ALL TABLES IN SCHEMA public TO "${group}"`);
    mount = unique('database');
    expect((await vault('POST', `sys/mounts/${mount}`, { type: 'database' })).status).toBe(204);
    const config = await vault('POST', `${mount}/config/delphi`, { ...engineConnection(target.pgUrl), allowed_roles: 'ro-*,seed,short,renewing,bytoken,prefix,scram' });
    expect(config.status).toBe(204);
  });

  afterAll(async () => {
    await vault?.('DELETE', `sys/mounts/${mount}`);
    await admin?.end();
    await target?.stop();
  });

  describe('config/<name>', () => {
    it('never returns the password, and lists connections', async () => {
      const r = await vault('GET', `${mount}/config/delphi`);
      expect(r.status).toBe(200);
      expect(r.json.data.plugin_name).toBe('postgresql-database-plugin');
      expect(r.json.data.connection_details.connection_url).toContain('{{username}}');
      expect(r.json.data.connection_details).not.toHaveProperty('password');
      expect(r.text).not.toContain(engineConnection(target.pgUrl).password);
      expect(r.json.data.allowed_roles).toEqual(['ro-*', 'seed', 'short', 'renewing', 'bytoken', 'prefix', 'scram']);
      expect((await vault('LIST', `${mount}/config`)).json.data.keys).toContain('delphi');
    });

    it('refuses a connection it cannot verify with 400', async () => {
      const r = await vault('POST', `${mount}/config/broken`, { ...engineConnection(target.pgUrl), password: 'wrong-password' });
      expect(r.status).toBe(400);
      expect(r.json.errors[0]).toMatch(/^error creating database object: error verifying connection: /);
      expect(r.text).not.toContain('wrong-password');
    });

    it('accepts a literal password in the URL with a warning', async () => {
      const c = engineConnection(target.pgUrl);
      const url = new URL(target.pgUrl);
      const r = await vault('POST', `${mount}/config/literal`, {
        plugin_name: c.plugin_name,
        connection_url: `postgresql://${url.username}:${url.password}@${url.host}${url.pathname}?sslmode=disable`,
      });
      expect(r.status).toBe(200);
      expect(r.json.warnings[0]).toMatch(/Password found in connection_url/);
      await vault('DELETE', `${mount}/config/literal`);
    });
  });

  describe('roles/<name>', () => {
    it('requires db_name', async () => {
      const r = await vault('POST', `${mount}/roles/nodb`, { creation_statements: 'SELECT 1' });
      expect(r.status).toBe(400);
      expect(r.json.errors[0]).toBe('database name is required');
    });

    it('returns statements as lists and TTLs in seconds', async () => {
      await role('ro-a', { creation_statements: 'CREATE ROLE "{{name}}"; GRANT x TO "{{name}}";', default_ttl: '1h', max_ttl: 86400 });
      const r = await vault('GET', `${mount}/roles/ro-a`);
      expect(r.json.data).toMatchObject({
        db_name: 'delphi',
        creation_statements: ['CREATE ROLE "{{name}}"; GRANT x TO "{{name}}";'],
        default_ttl: 3600,
        max_ttl: 86400,
      });
      expect(Array.isArray(r.json.data.revocation_statements)).toBe(true);
      expect((await vault('LIST', `${mount}/roles`)).json.data.keys).toContain('ro-a');
    });
  });

  describe('creds/<role>', () => {
    it('issues credentials in Vault\'s formats that log in and can SELECT', async () => {
      await role('ro-login', { default_ttl: '1h' });
      const before = Date.now();
      const creds = await issue('ro-login');
      expect(creds.lease_id).toMatch(new RegExp(`^${mount}/creds/ro-login/[A-Za-z0-9]{24}$`));
      expect(creds.renewable).toBe(true);
      expect(creds.lease_duration).toBe(3600);
      // v-<display name of the token>-…: `root` or, for OpenBao's -dev root token, `token`.
      expect(creds.data.username).toMatch(/^v-(root|token)-ro-login-[A-Za-z0-9]{20}-\d{10}$/);
      expect(creds.data.username.length).toBeLessThanOrEqual(63);
      expect(creds.data.password).toMatch(/^[A-Za-z0-9-]{20}$/);
      for (const re of [/[a-z]/, /[A-Z]/, /[0-9]/, /-/]) expect(creds.data.password).toMatch(re);

      // {{expiration}} is now + TTL + 5 s.
      const { rows } = await admin.query('SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1', [creds.data.username]);
      const validUntil = (rows[0].rolvaliduntil as Date).getTime();
      expect(validUntil).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 3605_000 - 2000);
      expect(validUntil).toBeLessThanOrEqual(Date.now() + 3605_000 + 2000);

      const client = await login(creds.data.username, creds.data.password);
      const probe = await client.query('SELECT count(*)::int AS n FROM contract_probe');
      expect(probe.rows[0].n).toBe(0);
      await expect(client.query('INSERT INTO contract_probe VALUES (1)')).rejects.toMatchObject({ code: '42501' });
      await client.end();
      await vault('PUT', 'sys/leases/revoke', { lease_id: creds.lease_id });
    });

    it('refuses an unknown role with 400, a role not allowed with 500, and POST with 405', async () => {
      const unknown = await vault('GET', `${mount}/creds/nope`);
      expect(unknown.status).toBe(400);
      expect(unknown.json.errors[0]).toBe('unknown role: nope');

      await role('notallowed');
      const refused = await vault('GET', `${mount}/creds/notallowed`);
      expect(refused.status).toBe(500);
      expect(refused.json.errors[0]).toBe('1 error occurred:\n\t* "notallowed" is not an allowed role\n\n');

      expect((await vault('POST', `${mount}/creds/ro-login`)).status).toBe(405);
    });

    it('runs the creation statements in one transaction: a failing one leaves no role', async () => {
      await role('ro-fail', { creation_statements: [`CREATE ROLE "{{name}}" LOGIN; SELECT * FROM no_such_table;`] });
      const r = await vault('GET', `${mount}/creds/ro-fail`);
      expect(r.status).toBe(500);
      expect(r.json.errors[0]).toMatch(/relation "no_such_table" does not exist \(SQLSTATE 42P01\)/);
      const { rows } = await admin.query(`SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE 'v-%-ro-fail-%'`);
      expect(rows[0].n).toBe(0);
    });

    it('hashes the password before sending it with password_authentication=scram-sha-256', async () => {
      await vault('POST', `${mount}/config/scramconn`, { ...engineConnection(target.pgUrl), allowed_roles: 'scram', password_authentication: 'scram-sha-256' });
      await role('scram', { db_name: 'scramconn' });
      const creds = await issue('scram');
      const { rows } = await admin.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [creds.data.username]);
      expect(rows[0].rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
      const client = await login(creds.data.username, creds.data.password);
      await client.end();
      await vault('PUT', 'sys/leases/revoke', { lease_id: creds.lease_id });
    });
  });

  describe('leases', () => {
    it('renews with the role TTL, moves VALID UNTIL, and caps at max_ttl with the warning', async () => {
      await role('renewing', { default_ttl: 3, max_ttl: 8 });
      const creds = await issue('renewing');
      expect(creds.lease_duration).toBe(3);
      const validUntil = async () =>
        ((await admin.query('SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1', [creds.data.username])).rows[0].rolvaliduntil as Date).getTime();
      const first = await validUntil();
      await sleep(1100);
      const renewed = await vault('PUT', 'sys/leases/renew', { lease_id: creds.lease_id, increment: 3 });
      expect(renewed.status).toBe(200);
      expect(renewed.json).toMatchObject({ lease_id: creds.lease_id, renewable: true, lease_duration: 3, data: null, warnings: null });
      expect(await validUntil()).toBeGreaterThan(first);

      const capped = await vault('PUT', 'sys/leases/renew', { lease_id: creds.lease_id, increment: '1h' });
      expect(capped.status).toBe(200);
      expect(capped.json.lease_duration).toBeGreaterThanOrEqual(5);
      expect(capped.json.lease_duration).toBeLessThanOrEqual(7);
      expect(capped.json.warnings[0]).toMatch(/^TTL of "1h" exceeded the effective max_ttl of "\d+(\.\d+)?s"; TTL value is capped accordingly$/);
      await vault('PUT', 'sys/leases/revoke', { lease_id: creds.lease_id });
    });

    it('answers renewal and lookup mistakes with 400 and Vault\'s messages', async () => {
      const missing = await vault('PUT', 'sys/leases/renew', {});
      expect(missing.status).toBe(400);
      expect(missing.json.errors[0]).toBe('lease_id must be specified');
      const unknown = await vault('PUT', 'sys/leases/renew', { lease_id: `${mount}/creds/ro-login/AAAAAAAAAAAAAAAAAAAAAAAA` });
      expect(unknown.status).toBe(400);
      expect(unknown.json.errors[0]).toBe('lease not found');
      const lookup = await vault('PUT', 'sys/leases/lookup', { lease_id: 'nope/nope' });
      expect(lookup.status).toBe(400);
      expect(lookup.json.errors[0]).toBe('invalid lease');
    });

    it('looks a lease up', async () => {
      await role('ro-lookup');
      const creds = await issue('ro-lookup');
      const r = await vault('PUT', 'sys/leases/lookup', { lease_id: creds.lease_id });
      expect(r.status).toBe(200);
      expect(r.json.data).toMatchObject({ id: creds.lease_id, renewable: true, last_renewal: null });
      expect(r.json.data.ttl).toBeGreaterThan(3590);
      expect(Date.parse(r.json.data.expire_time) - Date.parse(r.json.data.issue_time)).toBeGreaterThanOrEqual(3599_000);
      await vault('PUT', 'sys/leases/revoke', { lease_id: creds.lease_id });
    });

    it('revokes synchronously: 204, and the role is gone; an unknown lease is also 204', async () => {
      await role('ro-revoke');
      const creds = await issue('ro-revoke');
      const session = await login(creds.data.username, creds.data.password);
      session.on('error', () => undefined);
      expect(await roleExists(target.pgUrl, creds.data.username)).toBe(true);
      expect((await vault('PUT', 'sys/leases/revoke', { lease_id: creds.lease_id })).status).toBe(204);
      expect(await roleExists(target.pgUrl, creds.data.username)).toBe(false);
      expect((await vault('PUT', 'sys/leases/lookup', { lease_id: creds.lease_id })).status).toBe(400);
      await session.end().catch(() => undefined);
      expect((await vault('PUT', 'sys/leases/revoke', { lease_id: creds.lease_id })).status).toBe(204);
    });

    it('revokes in the background with sync=false: 202, then the role goes', async () => {
      await role('ro-async');
      const creds = await issue('ro-async');
      const r = await vault('PUT', 'sys/leases/revoke', { lease_id: creds.lease_id, sync: false });
      expect(r.status).toBe(202);
      await expect.poll(() => roleExists(target.pgUrl, creds.data.username), { timeout: 5000 }).toBe(false);
    });

    it('revokes by prefix', async () => {
      await role('prefix');
      const a = await issue('prefix');
      const b = await issue('prefix');
      expect((await vault('PUT', `sys/leases/revoke-prefix/${mount}/creds/prefix`)).status).toBe(204);
      expect(await roleExists(target.pgUrl, a.data.username)).toBe(false);
      expect(await roleExists(target.pgUrl, b.data.username)).toBe(false);
    });

    it('revokes a lease within 1 s of its expiry, and its role is gone', async () => {
      await role('short', { default_ttl: 2, max_ttl: 2 });
      const creds = await issue('short');
      const issuedAt = Date.now();
      await sleep(1000);
      expect(await roleExists(target.pgUrl, creds.data.username)).toBe(true);
      // Expiry is at issue + 2 s; by issue + 3 s the revocation must be done.
      await sleep(issuedAt + 3000 - Date.now());
      expect(await roleExists(target.pgUrl, creds.data.username)).toBe(false);
      expect((await vault('PUT', 'sys/leases/renew', { lease_id: creds.lease_id })).json.errors[0]).toBe('lease not found');
    });

    it('revokes the leases of a token when the token expires, dropping their roles', async () => {
      await role('bytoken');
      const token = (await vault('POST', 'auth/token/create', { ttl: '2s' })).json.auth.client_token as string;
      const r = await http(target, token)('GET', `${mount}/creds/bytoken`);
      expect(r.status).toBe(200);
      expect(r.json.data.username).toMatch(/^v-token-bytoken-/);
      expect(await roleExists(target.pgUrl, r.json.data.username)).toBe(true);
      await sleep(3500);
      expect(await roleExists(target.pgUrl, r.json.data.username)).toBe(false);
      expect((await vault('PUT', 'sys/leases/lookup', { lease_id: r.json.lease_id })).status).toBe(400);
    });

    it('fails, as Vault does, to revoke the seed\'s role with default revocation: 2BP01, role and lease stay', async () => {
      await role('seed', { creation_statements: [SEED_CREATION(dbName)], revocation_statements: [] });
      const creds = await issue('seed');
      const r = await vault('PUT', 'sys/leases/revoke', { lease_id: creds.lease_id });
      expect(r.status).toBe(400);
      expect(r.json.errors[0]).toMatch(/^failed to revoke entry: .*cannot be dropped because some objects depend on it \(SQLSTATE 2BP01\)/);
      expect(await roleExists(target.pgUrl, creds.data.username)).toBe(true);
      expect((await vault('PUT', 'sys/leases/lookup', { lease_id: creds.lease_id })).status).toBe(200);

      // Undoing the default privileges is what lets the default revocation finish.
      await admin.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON TABLES FROM "${creds.data.username}"`);
      expect((await vault('PUT', 'sys/leases/revoke', { lease_id: creds.lease_id })).status).toBe(204);
      expect(await roleExists(target.pgUrl, creds.data.username)).toBe(false);
    });
  });

  describe('rotate-root and reset', () => {
    it('rotates the admin password: the old one stops working, the engine keeps issuing', async () => {
      const vaultAdmin = unique('vault_admin').replace(/-/g, '_');
      const oldPassword = 'Old-password-123';
      await admin.query(`CREATE ROLE "${vaultAdmin}" LOGIN CREATEROLE PASSWORD '${oldPassword}'`);
      await admin.query(`GRANT "${group}" TO "${vaultAdmin}" WITH ADMIN OPTION`);
      const conn = { ...engineConnection(target.pgUrl), username: vaultAdmin, password: oldPassword, allowed_roles: 'ro-rotated' };
      expect((await vault('POST', `${mount}/config/rotating`, conn)).status).toBe(204);
      await role('ro-rotated', { db_name: 'rotating' });

      expect((await vault('POST', `${mount}/rotate-root/rotating`)).status).toBe(204);
      const stale = new pg.Client({ host: pgHost, port: pgPort, database: dbName, user: vaultAdmin, password: oldPassword });
      await expect(stale.connect()).rejects.toMatchObject({ code: '28P01' });
      const creds = await issue('ro-rotated');
      expect(await roleExists(target.pgUrl, creds.data.username)).toBe(true);
      expect((await vault('POST', `${mount}/reset/rotating`)).status).toBe(204);
      expect((await vault('PUT', 'sys/leases/revoke', { lease_id: creds.lease_id })).status).toBe(204);
      expect(await roleExists(target.pgUrl, creds.data.username)).toBe(false);
    });
  });
  describe('what other clients see', () => {
    it('reads a connection back with only the details that were written, never the password', async () => {
      const data = (await vault('GET', `${mount}/config/delphi`)).json.data;
      expect(Object.keys(data.connection_details).sort()).toEqual(['connection_url', 'username']);
      expect(data).toMatchObject({ allowed_roles: expect.any(Array), password_policy: '', plugin_version: '', root_credentials_rotate_statements: [] });
      expect(data).not.toHaveProperty('verify_connection');
    });

    it('trims each statement, as a file given with @file.sql ends in a newline', async () => {
      await role('ro-trim', { creation_statements: `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' IN ROLE "${group}";\n` });
      const read = (await vault('GET', `${mount}/roles/ro-trim`)).json.data;
      expect(read.creation_statements).toEqual([`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' IN ROLE "${group}";`]);
    });

    it('answers rotate-root and reset of an unknown connection with a wrapped 500', async () => {
      for (const action of ['rotate-root', 'reset']) {
        const r = await vault('POST', `${mount}/${action}/no-such-connection`, {});
        expect(r.status).toBe(500);
        expect(r.json.errors).toEqual(['1 error occurred:\n\t* failed to find entry for connection with name: "no-such-connection"\n\n']);
      }
    });

    it('issues nothing for ?help=1 on creds/ (bao path-help)', async () => {
      await role('ro-help');
      const r = await vault('GET', `${mount}/creds/ro-help?help=1`);
      expect(r.status).toBe(200);
      expect(typeof r.json.help).toBe('string');
      expect(r.json).not.toHaveProperty('lease_id');
      expect((await vault('LIST', `sys/leases/lookup/${mount}/creds/ro-help/`)).status).toBe(404);
    });

    it('drops leases with revoke-force even when their revocation fails (the role then stays behind)', async () => {
      await role('ro-force', { revocation_statements: ['SELECT * FROM no_such_table;'] });
      const creds = await issue('ro-force');
      expect((await vault('PUT', 'sys/leases/revoke', { lease_id: creds.lease_id })).status).toBe(400);
      expect((await vault('POST', `sys/leases/revoke-force/${mount}/creds/ro-force`, {})).status).toBe(204);
      expect((await vault('PUT', 'sys/leases/lookup', { lease_id: creds.lease_id })).json).toEqual({ errors: ['invalid lease'] });
      expect(await roleExists(target.pgUrl, creds.data.username)).toBe(true);
      await admin.query(`DROP ROLE "${creds.data.username}"`);
    });

    it('refuses credentials to a token with only default, and issues them under a policy that grants creds/<role>', async () => {
      await role('ro-policy');
      const onlyDefault = http(target, (await vault('POST', 'auth/token/create', { policies: ['default'], ttl: '10m' })).json.auth.client_token);
      const refused = await onlyDefault('GET', `${mount}/creds/ro-policy`);
      expect(refused.status).toBe(403);
      expect(refused.json).toEqual({ errors: ['1 error occurred:\n\t* permission denied\n\n'] });

      const policy = unique('reader');
      await vault('PUT', `sys/policies/acl/${policy}`, { policy: `path "${mount}/creds/ro-policy" { capabilities = ["read"] }\npath "sys/leases/revoke" { capabilities = ["update"] }` });
      try {
        const reader = http(target, (await vault('POST', 'auth/token/create', { policies: [policy], ttl: '10m' })).json.auth.client_token);
        const creds = await reader('GET', `${mount}/creds/ro-policy`);
        expect(creds.status).toBe(200);
        expect((await reader('GET', `${mount}/creds/ro-trim`)).status).toBe(403);
        // renew and lookup come with default; revoke with the policy
        expect((await reader('PUT', 'sys/leases/renew', { lease_id: creds.json.lease_id })).status).toBe(200);
        expect((await reader('PUT', 'sys/leases/lookup', { lease_id: creds.json.lease_id })).status).toBe(200);
        expect((await reader('PUT', 'sys/leases/revoke', { lease_id: creds.json.lease_id })).status).toBe(204);
        expect(await roleExists(target.pgUrl, creds.json.data.username)).toBe(false);
      } finally {
        await vault('DELETE', `sys/policies/acl/${policy}`);
      }
    });

    it("renews and revokes by the lease in the path, so a policy can scope them to one role's leases", async () => {
      await role('ro-scoped');
      await role('ro-other');
      const policy = unique('scoped');
      await vault('PUT', `sys/policies/acl/${policy}`, {
        policy: [
          `path "${mount}/creds/ro-scoped" { capabilities = ["read"] }`,
          `path "sys/leases/renew/${mount}/creds/ro-scoped/*" { capabilities = ["update"] }`,
          `path "sys/leases/revoke/${mount}/creds/ro-scoped/*" { capabilities = ["update"] }`,
        ].join('\n'),
      });
      const other = await issue('ro-other');
      try {
        const scoped = http(target, (await vault('POST', 'auth/token/create', { policies: [policy], no_default_policy: true, ttl: '10m' })).json.auth.client_token);
        const creds = await scoped('GET', `${mount}/creds/ro-scoped`);
        expect(creds.status).toBe(200);
        const renewed = await scoped('PUT', `sys/leases/renew/${creds.json.lease_id}`, { increment: 60 });
        expect(renewed.status, JSON.stringify(renewed.json)).toBe(200);
        expect(renewed.json).toMatchObject({ lease_id: creds.json.lease_id, renewable: true });
        // Another role's lease: not by path, not by body (no default policy here).
        expect((await scoped('PUT', `sys/leases/renew/${other.lease_id}`, { increment: 60 })).status).toBe(403);
        expect((await scoped('PUT', `sys/leases/revoke/${other.lease_id}`, {})).status).toBe(403);
        expect((await scoped('PUT', 'sys/leases/revoke', { lease_id: other.lease_id })).status).toBe(403);
        expect((await scoped('PUT', `sys/leases/revoke/${creds.json.lease_id}`, {})).status).toBe(204);
        expect(await roleExists(target.pgUrl, creds.json.data.username)).toBe(false);
        expect(await roleExists(target.pgUrl, other.data.username)).toBe(true);
      } finally {
        await vault('PUT', 'sys/leases/revoke', { lease_id: other.lease_id });
        await vault('DELETE', `sys/policies/acl/${policy}`);
      }
    });
  });
});
