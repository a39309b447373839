import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { openKeptDatabase } from '../../src/credentials/open-database.js';
import { startDatabaseFixture } from '../helpers/database-fixture.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Tokens that live 3 s, shorter than the 10 s lease: eos must get a new token before each dies
 * (an AppRole login, or the token file read again after something rewrote it) and re-issue the
 * lease under it — with no failed query across three token lifetimes.
 */
describe('logging in again before the token dies', () => {
  let fx: Awaited<ReturnType<typeof startDatabaseFixture>>;
  beforeAll(async () => {
    fx = await startDatabaseFixture({ ttl: 10, maxTtl: 60 });
  });
  afterAll(() => fx?.stop());

  const vaultWrite = async (p: string, body: unknown) => {
    const text = await (await fetch(`${fx.vault.addr}/v1/${p}`, { method: 'POST', headers: { 'X-Vault-Token': fx.vault.rootToken }, body: JSON.stringify(body) })).text();
    return (text === '' ? {} : JSON.parse(text)) as { data: Record<string, string>; auth: { client_token: string } };
  };
  const url = () => new URL(fx.vault.dbUrl);
  const config = (auth: unknown) =>
    configSchema.parse({
      vault: { address: fx.vault.addr, auth },
      database: { host: url().hostname, port: Number(url().port), name: fx.vault.dbName, sslmode: 'disable' },
      credentials: { sources: ['dynamic'] },
    });

  /** 50 reads a second for `ms`; the failures, if any. */
  async function load(query: () => Promise<unknown>, ms: number): Promise<{ sent: number; failures: string[] }> {
    const failures: string[] = [];
    const all: Promise<unknown>[] = [];
    for (let t = 0; t < ms; t += 20) {
      all.push(query().catch((err: Error) => failures.push(err.message)));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await Promise.all(all);
    return { sent: all.length, failures };
  }

  it('AppRole: logs in again every token lifetime, 0 failed queries', async () => {
    await vaultWrite('auth/approle/role/short', { token_ttl: '3s', token_max_ttl: '3s', token_policies: 'root' });
    const roleId = (await (await fetch(`${fx.vault.addr}/v1/auth/approle/role/short/role-id`, { headers: { 'X-Vault-Token': fx.vault.rootToken } })).json()) as { data: { role_id: string } };
    const secretId = (await vaultWrite('auth/approle/role/short/secret-id', {})).data.secret_id as string;
    const secretIdFile = path.join(tempDir(), 'secret-id');
    writeFileSync(secretIdFile, secretId, { mode: 0o600 });
    const { database: db, keeper } = await openKeptDatabase({ config: config({ method: 'approle', roleId: roleId.data.role_id, secretIdFile }), env: { VAULT_ADDR: fx.vault.addr }, command: 'test approle' });
    try {
      const { sent, failures } = await load(() => db.pool.query('SELECT 1'), 9_500);
      expect(sent).toBeGreaterThan(400);
      expect(failures).toEqual([]);
      expect(keeper?.events.filter((e) => e.type === 'token-relogin').length).toBeGreaterThanOrEqual(3);
      expect(keeper?.events.some((e) => e.type === 'token-expired')).toBe(false);
    } finally {
      await db.close();
    }
  }, 40_000);

  it('a token file rewritten by someone else: read again before the token dies, 0 failed queries', async () => {
    const file = path.join(tempDir(), 'token');
    // 6 s tokens, a new one every 2 s: the keeper reads the file again at ~4.5 s and finds a newer
    // token with room to spare (3 s tokens left under a second, and failed once under CI load).
    const fresh = async () => writeFileSync(file, (await vaultWrite('auth/token/create', { ttl: '6s', renewable: false })).auth.client_token, { mode: 0o600 });
    await fresh();
    // What Vault Agent's sink or a CI job would do: a new token in the file every 2 s.
    const writer = setInterval(() => void fresh(), 2_000);
    const { database: db, keeper } = await openKeptDatabase({ config: config({ method: 'token-file', path: file }), env: { VAULT_ADDR: fx.vault.addr }, command: 'test token file' });
    try {
      const { failures } = await load(() => db.pool.query('SELECT 1'), 16_000);
      expect(failures).toEqual([]);
      expect(keeper?.events.filter((e) => e.type === 'token-relogin').length).toBeGreaterThanOrEqual(3);
      expect(keeper?.events.some((e) => e.type === 'token-expired')).toBe(false);
    } finally {
      clearInterval(writer);
      await db.close();
    }
  }, 40_000);
});
