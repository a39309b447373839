import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { REPO_ROOT } from '../helpers/cli.js';

const run = promisify(execFile);

interface WatcherEvent {
  event: 'issued' | 'renewed' | 'done' | 'error';
  lease_duration?: number;
  at_seconds?: number;
  after_seconds?: number;
  renewals?: number;
  error?: string;
  message?: string;
}

/**
 * The official Go client's LifetimeWatcher (github.com/hashicorp/vault/api v1.23.0) keeps a
 * 5 s / 15 s database lease alive on the dev server with the reader-only token: renewals
 * until the max TTL, then DoneCh — the renewal pattern Vault's own tooling relies on.
 */
describe('the Go client\'s LifetimeWatcher', () => {
  let sandbox: Sandbox;
  let binary: string;

  beforeAll(async () => {
    // .ci/run builds it first; otherwise it is built here (the module proxy, ~30 s the first time).
    binary = (await run(path.join(REPO_ROOT, 'tools', 'go-clients.sh'), [], { cwd: REPO_ROOT, timeout: 240_000 })).stdout.trim();
    sandbox = await startSandbox({ ttl: 5, maxTtl: 15, sampleAlerts: 0 });
  }, 300_000);
  afterAll(() => sandbox?.stop());

  it('renews a 5 s lease until its 15 s max TTL, then says done; Vault then revokes it and its role', async () => {
    const { stdout } = await run(binary, [], {
      env: { PATH: process.env.PATH, VAULT_ADDR: sandbox.vaultAddr, VAULT_TOKEN: sandbox.readerToken, EOS_ROLE: 'delphi-readonly' },
      timeout: 60_000,
    }).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`lifetime-watcher failed: ${err.stdout ?? ''}${err.stderr ?? ''}`);
    });
    const events = stdout.trim().split('\n').map((line) => JSON.parse(line) as WatcherEvent);
    expect(events[0]).toMatchObject({ event: 'issued', lease_duration: 5 });
    const renewals = events.filter((e) => e.event === 'renewed');
    expect(renewals.length).toBeGreaterThanOrEqual(1);
    // Every renewal is granted at most the role's TTL, and never past the max TTL.
    for (const r of renewals) {
      expect(r.lease_duration).toBeLessThanOrEqual(5);
      expect(r.at_seconds).toBeLessThan(15);
    }
    const done = events.at(-1) as WatcherEvent;
    expect(done).toMatchObject({ event: 'done', renewals: renewals.length, error: '' });
    // Done near the max TTL: generous bounds around 15 s.
    expect(done.after_seconds).toBeGreaterThan(9);
    expect(done.after_seconds).toBeLessThan(20);

    // Vault's expiration revokes the lease at its max TTL, and the role with it.
    const admin = new pg.Client({ connectionString: sandbox.adminUrl });
    await admin.connect();
    try {
      await expect
        .poll(async () => ((await (await fetch(`${sandbox.vaultAddr}/__dev/leases`, { headers: { 'X-Vault-Token': sandbox.rootToken } })).json()) as { leases: unknown[] }).leases.length, { timeout: 15_000, interval: 250 })
        .toBe(0);
      expect((await admin.query(`SELECT rolname FROM pg_roles WHERE rolname LIKE 'v-%'`)).rows).toEqual([]);
    } finally {
      await admin.end();
    }
  }, 90_000);
});
