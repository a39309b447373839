import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoad } from '../../bench/load.js';
import { openKeptDatabase } from '../../src/credentials/open-database.js';
import type { KeeperEvent } from '../../src/vault/lease-keeper.js';
import { startDatabaseFixture } from '../helpers/database-fixture.js';

describe('the rotating pool under load, on real PostgreSQL and the dev server (TTL 3 s, max 8 s)', () => {
  let fx: Awaited<ReturnType<typeof startDatabaseFixture>>;
  beforeAll(async () => {
    fx = await startDatabaseFixture({ ttl: 3, maxTtl: 8 });
  });
  afterAll(() => fx?.stop());

  it('serves 200 queries/s for 30 s without one failure across rotations and an outside revocation', async () => {
    const { database: db, keeper } = await openKeptDatabase({ config: fx.config, env: fx.env, command: 'test' });
    const events: KeeperEvent[] = [];
    keeper?.on('event', (e: KeeperEvent) => events.push(e));
    let revokedFromOutside = '';
    const revoke = setTimeout(async () => {
      // An operator revokes the live lease mid-run: its role is dropped, its sessions ended.
      revokedFromOutside = keeper?.credentials?.lease?.id ?? '';
      await fetch(`${fx.vault.addr}/v1/sys/leases/revoke`, { method: 'PUT', headers: { 'X-Vault-Token': fx.vault.rootToken }, body: JSON.stringify({ lease_id: revokedFromOutside }) });
    }, 12_000);

    const result = await runLoad({ qps: 200, durationMs: 30_000, query: () => db.pool.query('SELECT count(*) FROM alerts') });
    clearTimeout(revoke);

    expect(result.errors.slice(0, 3)).toEqual([]);
    expect(result.outcomes.length).toBeGreaterThanOrEqual(200 * 30 * 0.95);
    expect(revokedFromOutside).toMatch(/^database\/creds\/delphi-readonly\//);
    const stats = db.pool.stats();
    // max_ttl 8 s in 30 s: at least 3 planned rotations, plus the one the revocation forced.
    expect(stats.rotations).toBeGreaterThanOrEqual(4);
    expect(events.filter((e) => e.type === 'rotated').length).toBeGreaterThanOrEqual(4);
    expect(events.filter((e) => e.type === 'renewed').length).toBeGreaterThanOrEqual(3);

    await db.close();
    expect(await fx.membersLeft()).toBe(0);
    expect(await fx.leasesLeft()).toBe(0);
  }, 90_000);
});
