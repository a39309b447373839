import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoad } from '../../bench/load.js';
import { openKeptDatabase } from '../../src/credentials/open-database.js';
import type { KeeperEvent } from '../../src/vault/lease-keeper.js';
import { createLogger } from '../../src/log.js';
import { startDatabaseFixture } from '../helpers/database-fixture.js';
import { tempDir } from '../helpers/tmp.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the rotating pool when Vault goes away', () => {
  let fx: Awaited<ReturnType<typeof startDatabaseFixture>>;
  beforeAll(async () => {
    fx = await startDatabaseFixture({ ttl: 8, maxTtl: 60 });
  });
  afterAll(() => fx?.stop());

  it('rides out an outage shorter than the remaining TTL: no failed query, renewals resume', async () => {
    const { database: db, keeper } = await openKeptDatabase({ config: fx.config, env: fx.env, command: 'test' });
    const events: KeeperEvent[] = [];
    keeper?.on('event', (e: KeeperEvent) => events.push(e));
    const load = runLoad({ qps: 100, durationMs: 12_000, query: () => db.pool.query('SELECT 1 FROM alerts LIMIT 1') });
    // The first renewal is due at ~5.6–6 s of an 8 s lease: Vault drops every connection from
    // 5 s to 7 s, which is before the lease ends at 8 s.
    await sleep(5000);
    await fx.control('drop', { path: '', count: 1_000_000 });
    await sleep(2000);
    const outageEnd = Date.now();
    await fx.control('faults');
    const result = await load;
    expect(result.errors.slice(0, 3)).toEqual([]);
    expect(events.some((e) => e.type === 'renewed' && e.at >= outageEnd - 100)).toBe(true);
    expect(events.filter((e) => e.type === 'expired')).toEqual([]);
    await db.close();
    expect(await fx.membersLeft()).toBe(0);
    expect(await fx.leasesLeft()).toBe(0);
  }, 60_000);

  it('moves to environment credentials when the lease expires during the outage, and logs it', async () => {
    const staticUser = `static_${fx.vault.dbName}`;
    await fx.admin.query(`CREATE ROLE ${staticUser} LOGIN PASSWORD 'static-Pw-1' IN ROLE ${fx.group}`);
    const config = { ...fx.config, credentials: { ...fx.config.credentials, sources: ['dynamic', 'env'] as ('dynamic' | 'env')[] } };
    const env = { ...fx.env, DELPHI_DB_USER: staticUser, DELPHI_DB_PASSWORD: 'static-Pw-1' };
    const logFile = path.join(tempDir(), 'eos.log');
    const { database: db, keeper } = await openKeptDatabase({ config, env, command: 'test', log: createLogger({ file: logFile, env: {} }) });
    expect(db.pool.credentials.source).toBe('dynamic');
    const events: string[] = [];
    keeper?.on('event', (e: KeeperEvent) => events.push(e.type));
    const fallbacks: string[] = [];
    db.pool.on('fallback', (e: { source: string }) => fallbacks.push(e.source));

    await fx.control('drop', { path: '', count: 1_000_000 });
    const load = await runLoad({ qps: 50, durationMs: 10_000, query: () => db.pool.query('SELECT count(*) FROM alerts') });
    expect(events).toContain('expired');
    expect(fallbacks).toEqual(['env']);
    expect(db.pool.credentials.source).toBe('env');
    // The switch is planned before Vault drops the role, so the queries carry on.
    expect(load.errors.slice(0, 3)).toEqual([]);

    // Vault answers again: dynamic credentials come back by themselves.
    await fx.control('faults');
    await expect.poll(() => db.pool.credentials.source, { timeout: 40_000, interval: 200 }).toBe('dynamic');
    await db.close();
    const logged = readFileSync(logFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(logged).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'dynamic lease expired: falling back', source: 'env' }));
    expect(logged).toContainEqual(expect.objectContaining({ msg: 'lease expired', event: 'expired' }));
    expect(readFileSync(logFile, 'utf8')).not.toContain('static-Pw-1');
    expect(await fx.membersLeft()).toBe(1); // only the static login role remains
    expect(await fx.leasesLeft()).toBe(0);
  }, 90_000);
});
