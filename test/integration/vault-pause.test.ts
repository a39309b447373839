import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKeptDatabase } from '../../src/credentials/open-database.js';
import { READONLY_GROUP, sandboxConfig, startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';

/**
 * Vault frozen (as a stopped process: nothing answered, no lease expired) past the lease's
 * expiry, with `--source dynamic` (no fallback): the pool's open sessions keep serving — the
 * role is still there, PostgreSQL checks VALID UNTIL only at login — and as soon as Vault answers
 * again, new credentials replace the dead ones.
 */
describe('Vault paused past the lease\'s expiry', () => {
  let sandbox: Sandbox;
  let admin: pg.Client;
  beforeAll(async () => {
    sandbox = await startSandbox({ ttl: 5, maxTtl: 30, sampleAlerts: 50 });
    admin = new pg.Client({ connectionString: sandbox.adminUrl });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await sandbox?.stop();
  });

  it('0 failed reads on open sessions; new credentials within seconds of Vault answering', async () => {
    const { config, env } = await sandboxConfig(sandbox);
    const { database: db, keeper } = await openKeptDatabase({ config: { ...config, credentials: { ...config.credentials, sources: ['dynamic'] } }, env, command: 'test pause', pool: { max: 4 } });
    const members = async () => (await admin.query(`SELECT count(*)::int AS n FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE g.rolname = $1`, [READONLY_GROUP])).rows[0].n as number;
    try {
      const failures: string[] = [];
      const all: Promise<unknown>[] = [];
      let reading = true;
      const load = (async () => {
        while (reading) {
          all.push(db.pool.query('SELECT count(*)::int AS n FROM alerts').catch((err: Error) => failures.push(err.message)));
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const pausedFor = 9;
      await fetch(`${sandbox.vaultAddr}/__dev/pause`, { method: 'POST', headers: { 'X-Vault-Token': sandbox.rootToken }, body: JSON.stringify({ seconds: pausedFor }) });
      const thawAt = Date.now() + pausedFor * 1000;
      // Well past the 5 s lease's expiry, Vault still frozen: the role is there, reads answer.
      await new Promise((resolve) => setTimeout(resolve, 7000));
      expect(keeper?.credentials?.lease && Date.now() > (keeper?.expiry ?? 0)).toBe(true);
      expect(await members()).toBeGreaterThan(0);
      await expect.poll(() => db.pool.generation, { timeout: 12_000, interval: 50 }).toBeGreaterThan(1);
      const recoveredAfterMs = Date.now() - thawAt;
      reading = false;
      await load;
      await Promise.all(all);
      expect(failures).toEqual([]);
      expect(all.length).toBeGreaterThan(400);
      // The new credentials came after Vault thawed (nothing could issue them before), and soon.
      expect(recoveredAfterMs).toBeGreaterThan(-250);
      expect(recoveredAfterMs).toBeLessThan(3000);
    } finally {
      await db.close();
    }
  }, 60_000);
});
