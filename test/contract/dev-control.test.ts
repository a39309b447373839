import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contractTarget, devControl, engineConnection, http, REAL_VAULT, type ContractTarget } from './target.js';

// The control API exists only on the dev server; against a real Vault there is nothing to test.
describe.skipIf(REAL_VAULT)('the dev server\'s control API (faults for tests)', () => {
  let target: ContractTarget;
  let vault: ReturnType<typeof http>;
  beforeAll(async () => {
    target = await contractTarget({ database: true });
    vault = http(target);
  });
  afterAll(() => target?.stop());

  it('answers only a root token: nobody else on the machine may seal, pause or list leases', async () => {
    const child = await vault('POST', 'auth/token/create', { policies: ['default'] });
    const other = child.json.auth.client_token as string;
    for (const headers of [{}, { 'X-Vault-Token': 'hvs.not-a-token-000000000000' }, { 'X-Vault-Token': other }] as Record<string, string>[]) {
      for (const [method, route] of [['GET', 'leases'], ['POST', 'seal'], ['POST', 'pause']]) {
        const r = await fetch(`${target.addr}/__dev/${route}`, { method, headers, body: method === 'POST' ? '{"seconds":1}' : undefined });
        expect(r.status, `${method} ${route}`).toBe(403);
        expect(((await r.json()) as { errors: string[] }).errors[0]).toMatch(/control API needs a root token/);
      }
    }
    // Nothing happened: not sealed, not paused.
    expect((await vault('GET', 'auth/token/lookup-self')).status).toBe(200);
    expect(await devControl(target, 'GET', 'leases')).toMatchObject({ leases: expect.any(Array) });
  });

  it('fails the next N requests on a path with the status, errors and Retry-After asked for', async () => {
    await devControl(target, 'POST', 'faults', { path: 'auth/token/lookup-self', status: 429, count: 2, retryAfter: 3, errors: ['request path "auth/token/lookup-self": rate limit quota exceeded'] });
    for (let i = 0; i < 2; i++) {
      const r = await vault('GET', 'auth/token/lookup-self');
      expect(r.status).toBe(429);
      expect(r.headers.get('retry-after')).toBe('3');
      expect(r.json.errors[0]).toMatch(/rate limit quota exceeded/);
    }
    expect((await vault('GET', 'auth/token/lookup-self')).status).toBe(200);
  });

  it('can fail only one method on a path', async () => {
    await devControl(target, 'POST', 'faults', { path: 'sys/leases/renew', method: 'PUT', status: 503, count: 1 });
    expect((await vault('GET', 'auth/token/lookup-self')).status).toBe(200);
    const r = await vault('PUT', 'sys/leases/renew', { lease_id: 'x' });
    expect(r.status).toBe(503);
    expect((await vault('PUT', 'sys/leases/renew', { lease_id: 'x' })).status).toBe(400);
  });

  it('adds latency', async () => {
    await devControl(target, 'POST', 'latency', { ms: 300 });
    const start = Date.now();
    await vault('GET', 'auth/token/lookup-self');
    const slow = Date.now() - start;
    await devControl(target, 'POST', 'latency', { ms: 0 });
    expect(slow).toBeGreaterThanOrEqual(290);
  });

  it('drops connections without an answer', async () => {
    await devControl(target, 'POST', 'drop', { path: 'auth/token/lookup-self', count: 1 });
    await expect(vault('GET', 'auth/token/lookup-self')).rejects.toThrow();
    expect((await vault('GET', 'auth/token/lookup-self')).status).toBe(200);
  });

  it('clears every fault at once', async () => {
    await devControl(target, 'POST', 'faults', { path: 'auth/', status: 500, count: 100 });
    await devControl(target, 'DELETE', 'faults');
    expect((await vault('GET', 'auth/token/lookup-self')).status).toBe(200);
  });

  it('lists the leases it holds, and counts requests', async () => {
    await vault('POST', 'sys/mounts/database', { type: 'database' });
    await vault('POST', 'database/config/delphi', { ...engineConnection(target.pgUrl), allowed_roles: '*' });
    await vault('POST', 'database/roles/ro', {
      db_name: 'delphi',
      creation_statements: `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
      revocation_statements: 'DROP ROLE IF EXISTS "{{name}}";',
    });
    const creds = (await vault('GET', 'database/creds/ro')).json;
    const { leases } = (await devControl(target, 'GET', 'leases')) as { leases: { id: string; username: string; revokeError: string | null }[] };
    expect(leases).toEqual([expect.objectContaining({ id: creds.lease_id, username: creds.data.username, revokeError: null })]);
    const stats = (await devControl(target, 'GET', 'stats')) as { requests: number; byPath: Record<string, number> };
    expect(stats.byPath['database/creds/ro']).toBe(1);
    expect(stats.requests).toBeGreaterThan(5);
  });
});
