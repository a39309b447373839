import { describe, expect, it } from 'vitest';
import type { DbCredentials } from '../../src/db/credentials.js';
import { LeaseKeeper, type KeeperEvent, type LeaseKeeperOptions } from '../../src/vault/lease-keeper.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { FakeLeaseVault } from '../helpers/fake-lease-vault.js';

const S = 1000;

async function setup(options: { ttl?: number; maxTtl?: number; random?: number; keeper?: Partial<LeaseKeeperOptions<DbCredentials>> } = {}) {
  const clock = new FakeClock();
  const t0 = clock.now();
  const vault = new FakeLeaseVault(clock, { ttl: options.ttl ?? 100, maxTtl: options.maxTtl ?? 300 });
  const rotated: { next: DbCredentials; previous: DbCredentials; at: number }[] = [];
  const expired: number[] = [];
  const keeper = new LeaseKeeper<DbCredentials>({
    vault,
    clock,
    issue: vault.issue,
    random: () => options.random ?? 0.5,
    onRotate: async (next, previous) => void rotated.push({ next, previous, at: clock.now() - t0 }),
    onExpired: async () => void expired.push(clock.now() - t0),
    ...options.keeper,
  });
  const events: KeeperEvent[] = [];
  keeper.on('event', (e: KeeperEvent) => events.push({ ...e, at: e.at - t0 }));
  await keeper.start(await vault.issue());
  const since = (times: number[]) => times.map((t) => (t - t0) / S);
  return { clock, vault, keeper, events, rotated, expired, since, t0 };
}

describe('the lease keeper, on a fake clock', () => {
  it('renews first at 70–75 % of the TTL, depending on the jitter', async () => {
    for (const [random, expected] of [[0, 75], [1, 70]] as const) {
      const { clock, vault, since } = await setup({ random });
      await clock.advance((expected - 0.01) * S);
      expect(vault.calls.renew).toHaveLength(0);
      await clock.advance(0.02 * S);
      expect(since(vault.calls.renew)).toEqual([expected]);
    }
  });

  it('renews until max_ttl caps a renewal, then issues new credentials before the old ones expire', async () => {
    const { clock, vault, events, rotated, since } = await setup({ random: 0 }); // TTL 100 s, max 300 s
    await clock.advance(299 * S);
    // Renewals at 75, 150, 225; the one at 225 is capped to the 75 s left; new credentials at
    // 225 + 0.75 × 75 = 281.25 s, nearly 19 s before the old lease would die at 300 s.
    expect(since(vault.calls.renew)).toEqual([75, 150, 225]);
    expect(since(vault.calls.issue).slice(1)).toEqual([281.25]);
    expect(rotated).toHaveLength(1);
    expect(rotated[0]?.previous.lease?.id).not.toBe(rotated[0]?.next.lease?.id);
    // The old lease is revoked after the switch; only the new one is alive.
    expect(vault.calls.revoke).toEqual([rotated[0]?.previous.lease?.id]);
    expect(vault.live()).toEqual([rotated[0]?.next.lease?.id]);
    expect(events.map((e) => e.type)).toEqual(['issued', 'renewed', 'renewed', 'renewed', 'rotating', 'rotated', 'revoked']);
    expect(events[3]?.detail).toMatch(/capped by max_ttl/);
  });

  it('backs off on transient errors (1 s doubling) without a busy loop, and resumes when Vault returns', async () => {
    const { clock, vault, events, rotated, t0 } = await setup({ random: 0.5 });
    vault.down = true;
    await clock.advance(95 * S);
    // Renewal at 72.5 s (random 0.5), retries after 1, 2, 4, 8 s, the next one clamped to the
    // keeper's expiry (100 s less a 0.25 s guard) minus the safety margin (10 s), then half the
    // time left: never later than that, never a tight loop.
    const times = vault.calls.renew.map((t) => (t - t0) / S);
    expect(times).toEqual([72.5, 73.5, 75.5, 79.5, 87.5, 89.75, 94.75]);
    expect(events.filter((e) => e.type === 'renew-failed')).toHaveLength(7);
    // Vault answers again before expiry: the last attempt (at expiry) renews, nothing rotates.
    vault.down = false;
    await clock.advance(10 * S);
    expect(events.some((e) => e.type === 'renewed')).toBe(true);
    expect(rotated).toHaveLength(0);
  });

  it('never schedules a retry past expiry minus the safety margin; past expiry it reports expired and falls back', async () => {
    const { clock, vault, events, expired, t0 } = await setup({ random: 0.5 });
    vault.down = true;
    await clock.advance(101 * S);
    const lastAttempt = (vault.calls.renew.at(-1) as number) - t0;
    expect(lastAttempt).toBeLessThan(99.75 * S);
    expect(lastAttempt).toBeGreaterThanOrEqual(98.5 * S); // attempts inside the margin, halving the time left
    expect(vault.calls.renew.length).toBeLessThan(15);
    expect(events.map((e) => e.type)).toContain('expiring');
    expect(expired).toEqual([99.75 * S]);
    // When Vault answers again, dynamic credentials come back by themselves.
    vault.down = false;
    await clock.advance(40 * S);
    expect(events.filter((e) => e.type === 'rotated')).toHaveLength(1);
    expect(vault.live()).toHaveLength(1);
  });

  it('re-issues at once when the renewal is refused with 400 "lease not found"', async () => {
    const { clock, vault, keeper, rotated, since } = await setup({ random: 0 });
    vault.revokeOutside(keeper.credentials?.lease?.id as string);
    await clock.advance(75 * S);
    expect(since(vault.calls.renew)).toEqual([75]);
    expect(since(vault.calls.issue).slice(1)).toEqual([75]);
    expect(rotated).toHaveLength(1);
  });

  it('renews a renewable token at 75 % of its TTL', async () => {
    const clock = new FakeClock();
    const vault = new FakeLeaseVault(clock, { ttl: 3600, maxTtl: 86400 });
    vault.token = { ttl: 200, renewable: true, creation_ttl: 200, createdAt: clock.now(), renewedAt: clock.now(), maxTtl: 0 };
    const keeper = new LeaseKeeper({ vault, clock, issue: vault.issue, random: () => 0 });
    await keeper.start(await vault.issue());
    await clock.advance(149 * S);
    expect(vault.calls.renewSelf).toHaveLength(0);
    await clock.advance(2 * S);
    expect(vault.calls.renewSelf).toHaveLength(1);
    await clock.advance(150 * S);
    expect(vault.calls.renewSelf).toHaveLength(2);
  });

  it('backs off a failing token renewal by the lease rule (1 s doubling, clamped to its expiry), then reports the token dead', async () => {
    const clock = new FakeClock();
    const t0 = clock.now();
    const vault = new FakeLeaseVault(clock, { ttl: 3600, maxTtl: 86400 });
    vault.token = { ttl: 100, renewable: true, creation_ttl: 100, createdAt: t0, renewedAt: t0, maxTtl: 0 };
    const keeper = new LeaseKeeper({ vault, clock, issue: vault.issue, random: () => 0.5 });
    await keeper.start(await vault.issue());
    vault.down = true;
    await clock.advance(200 * S);
    // First renewal at 72.5 s (75 % less half the 5 % jitter), then 1, 2, 4 s later, clamped to
    // the deadline (expiry at 99.75 s less a 10 s margin), then half the time left each time.
    const times = vault.calls.renewSelf.map((t) => (t - t0) / S);
    expect(times.slice(0, 5)).toEqual([72.5, 73.5, 75.5, 79.5, 87.5]);
    expect(times.at(-1)).toBeLessThan(99.75);
    expect(times.length).toBeLessThan(15);
    expect(keeper.events.filter((e) => /the Vault token expired/.test(e.detail ?? ''))).toHaveLength(1);
    // Nothing more is tried for a dead token that cannot be replaced: no busy loop.
    const count = vault.calls.renewSelf.length;
    await clock.advance(600 * S);
    expect(vault.calls.renewSelf).toHaveLength(count);
  });

  it('logs in again (AppRole) when the token cannot be renewed, and re-issues the lease under the new token', async () => {
    const clock = new FakeClock();
    const vault = new FakeLeaseVault(clock, { ttl: 3600, maxTtl: 86400 });
    vault.token = { ttl: 400, renewable: false, creation_ttl: 400, createdAt: clock.now(), renewedAt: clock.now(), maxTtl: 400 };
    const events: string[] = [];
    const keeper = new LeaseKeeper({ vault, clock, issue: vault.issue, relogin: vault.relogin, random: () => 0 });
    keeper.on('event', (e: KeeperEvent) => events.push(e.type));
    await keeper.start(await vault.issue());
    await clock.advance(301 * S);
    expect(vault.calls.relogin).toHaveLength(1);
    expect(vault.calls.issue).toHaveLength(2);
    expect(events).toEqual(['issued', 'token-relogin', 'rotating', 'rotated', 'revoked']);
  });

  it('warns when the token dies before the lease and nothing can renew it', async () => {
    const clock = new FakeClock();
    const vault = new FakeLeaseVault(clock, { ttl: 3600, maxTtl: 86400 });
    vault.token = { ttl: 600, renewable: false, creation_ttl: 600, createdAt: clock.now(), renewedAt: clock.now(), maxTtl: 600 };
    const keeper = new LeaseKeeper({ vault, clock, issue: vault.issue });
    await keeper.start(await vault.issue());
    expect(keeper.events.find((e) => e.type === 'warning')?.detail).toMatch(/the token expires in 600 s, before the lease \(3600 s\)/);
  });

  it('a renewable token with an explicit max TTL: its end is counted on the keeper\'s clock from the issue time, and warned', async () => {
    const clock = new FakeClock();
    const vault = new FakeLeaseVault(clock, { ttl: 3600, maxTtl: 86400 });
    // Issued 30 s ago with a 120 s explicit max: renewable, yet it dies in 90 s, long before the lease.
    vault.token = { ttl: 100, renewable: true, creation_ttl: 100, createdAt: clock.now() - 30 * S, renewedAt: clock.now(), maxTtl: 120 };
    const warnings: string[] = [];
    const keeper = new LeaseKeeper({ vault, clock, issue: vault.issue, random: () => 0, warn: (m) => warnings.push(m) });
    await keeper.start(await vault.issue());
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('the token expires in 90 s, before the lease (3600 s), and cannot be renewed');
    expect(warnings[0]).toContain(`(at ${new Date(clock.now() + 90 * S).toISOString()})`);
    // Renewals go on while they can: at 75 % of 100 s, Vault caps the TTL to the 15 s the max leaves.
    await clock.advance(76 * S);
    expect(vault.calls.renewSelf).toHaveLength(1);
    expect(vault.token.ttl).toBe(15);
  });

  it('a token that dies before the lease: warned at start with the time, then one token-expired event and a fallback, no loop', async () => {
    const clock = new FakeClock();
    const t0 = clock.now();
    const vault = new FakeLeaseVault(clock, { ttl: 100, maxTtl: 300 });
    vault.token = { ttl: 50, renewable: false, creation_ttl: 50, createdAt: t0, renewedAt: t0, maxTtl: 50 };
    const warnings: string[] = [];
    const expired: number[] = [];
    const keeper = new LeaseKeeper({ vault, clock, issue: vault.issue, random: () => 0, warn: (m) => warnings.push(m), onExpired: async () => void expired.push(clock.now() - t0) });
    await keeper.start(await vault.issue());
    expect(warnings[0]).toMatch(/^the token expires in 50 s, before the lease \(100 s\), and cannot be renewed: Vault will revoke the lease with it \(at \d{4}-\d\d-\d\dT[\d:.]+Z\)$/);
    await clock.advance(300 * S);
    // The renewal at 75 s meets the dead token: one event, the fallback once, and nothing after.
    expect(keeper.events.filter((e) => e.type === 'token-expired')).toHaveLength(1);
    expect(warnings[1]).toMatch(/^Vault token expired \(or was revoked\): .*permission denied/);
    expect(expired).toEqual([75 * S]);
    expect(vault.calls.renew).toHaveLength(1);
    expect(vault.calls.issue).toHaveLength(1); // the first issue only: no renew → issue → 403 loop
    expect(keeper.isExpired).toBe(true);
    expect(clock.pending()).toEqual([]);
  });

  it('revokes the lease at shutdown and stops its timers', async () => {
    const { clock, vault, keeper } = await setup();
    const id = keeper.credentials?.lease?.id;
    await keeper.stop();
    expect(vault.calls.revoke).toEqual([id]);
    await clock.advance(1000 * S);
    expect(vault.calls.renew).toHaveLength(0);
    expect(clock.pending()).toEqual([]);
  });

  it('answers whether the lease is still valid', async () => {
    const { vault, keeper } = await setup();
    expect(await keeper.leaseValid()).toBe(true);
    vault.revokeOutside(keeper.credentials?.lease?.id as string);
    expect(await keeper.leaseValid()).toBe(false);
  });
});
