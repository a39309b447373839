import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contractTarget, engineConnection, http, roleExists, sleep, unique, type ContractTarget } from './target.js';

/**
 * Disabling a mount revokes what was issued through it, as OpenBao does: a secrets mount its
 * leases, an auth mount the tokens that logged in through it (and, through token revocation,
 * their leases).
 */
describe('Vault API contract: disabling a mount revokes what it issued', () => {
  let target: ContractTarget;
  let vault: ReturnType<typeof http>;
  const cleanup: string[] = [];

  /** A database mount on the target's database, with a role `app` that can be revoked. */
  async function databaseMount(): Promise<string> {
    const mount = unique('database');
    expect((await vault('POST', `sys/mounts/${mount}`, { type: 'database' })).status).toBe(204);
    cleanup.push(`sys/mounts/${mount}`);
    expect((await vault('POST', `${mount}/config/pg`, { ...engineConnection(target.pgUrl), allowed_roles: 'app' })).status).toBe(204);
    const role = await vault('POST', `${mount}/roles/app`, {
      db_name: 'pg',
      creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`],
      revocation_statements: [`DROP ROLE IF EXISTS "{{name}}";`],
      default_ttl: '1h',
      max_ttl: '24h',
    });
    expect(role.status).toBe(204);
    return mount;
  }

  /** Whether the lease is gone and its database role dropped, waiting up to 10 s for both. */
  async function revoked(leaseId: string, username: string): Promise<boolean> {
    for (let i = 0; i < 100; i++) {
      const lookup = await vault('PUT', 'sys/leases/lookup', { lease_id: leaseId });
      if (lookup.status === 400 && !(await roleExists(target.pgUrl, username))) return true;
      await sleep(100);
    }
    return false;
  }

  beforeAll(async () => {
    target = await contractTarget({ database: true });
    vault = http(target);
  });

  afterAll(async () => {
    for (const path of cleanup.reverse()) await vault?.('DELETE', path);
    await target?.stop();
  });

  it('revokes the leases of a secrets mount when it is disabled', async () => {
    const mount = await databaseMount();
    const creds = await vault('GET', `${mount}/creds/app`);
    expect(creds.status).toBe(200);
    const { username } = creds.json.data as { username: string };
    expect(await roleExists(target.pgUrl, username)).toBe(true);

    expect((await vault('DELETE', `sys/mounts/${mount}`)).status).toBe(204);
    expect(await revoked(creds.json.lease_id, username)).toBe(true);
  });

  it('revokes the tokens that logged in through an auth mount when it is disabled, and their leases', async () => {
    const db = await databaseMount();
    const policy = unique('creds');
    expect((await vault('PUT', `sys/policies/acl/${policy}`, { policy: `path "${db}/creds/app" { capabilities = ["read"] }` })).status).toBe(204);
    cleanup.push(`sys/policies/acl/${policy}`);
    const auth = unique('approle');
    expect((await vault('POST', `sys/auth/${auth}`, { type: 'approle' })).status).toBe(204);
    cleanup.push(`sys/auth/${auth}`);
    expect((await vault('POST', `auth/${auth}/role/app`, { token_ttl: '20m', token_policies: [policy] })).status).toBe(204);
    const roleId = (await vault('GET', `auth/${auth}/role/app/role-id`)).json.data.role_id as string;
    const secretId = (await vault('POST', `auth/${auth}/role/app/secret-id`)).json.data.secret_id as string;
    const login = await http(target, null)('POST', `auth/${auth}/login`, { role_id: roleId, secret_id: secretId });
    expect(login.status).toBe(200);
    const app = http(target, login.json.auth.client_token as string);
    expect((await app('GET', 'auth/token/lookup-self')).status).toBe(200);
    const creds = await app('GET', `${db}/creds/app`);
    expect(creds.status).toBe(200);
    const { username } = creds.json.data as { username: string };
    expect(await roleExists(target.pgUrl, username)).toBe(true);

    expect((await vault('DELETE', `sys/auth/${auth}`)).status).toBe(204);
    const after = await app('GET', 'auth/token/lookup-self');
    expect(after.status).toBe(403);
    expect(after.json.errors).toEqual(['permission denied']);
    expect(await revoked(creds.json.lease_id, username)).toBe(true);
    // Gone with the mount: logging in again finds no route.
    expect((await http(target, null)('POST', `auth/${auth}/login`, { role_id: roleId, secret_id: secretId })).status).not.toBe(200);
  });
});
