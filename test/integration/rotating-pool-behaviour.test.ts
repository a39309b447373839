import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, openKeptDatabase } from '../../src/credentials/open-database.js';
import { PipelineListener } from '../../src/db/listener.js';
import { isReadOnlyStatement } from '../../src/db/rotating-pool.js';
import { shortLeaseId } from '../../src/redact.js';
import { readLeaseStates, sha256 } from '../../src/credentials/lease-state.js';
import { startDatabaseFixture } from '../helpers/database-fixture.js';
import { tempDir } from '../helpers/tmp.js';

describe('what the rotating pool retries, and what it never does', () => {
  let fx: Awaited<ReturnType<typeof startDatabaseFixture>>;
  beforeAll(async () => {
    fx = await startDatabaseFixture({ ttl: 3, maxTtl: 8 });
  });
  afterAll(() => fx?.stop());

  const revokeCurrent = async (leaseId: string) => {
    await fetch(`${fx.vault.addr}/v1/sys/leases/revoke`, { method: 'PUT', headers: { 'X-Vault-Token': fx.vault.rootToken }, body: JSON.stringify({ lease_id: leaseId }) });
  };

  it('surfaces a real permission error (42501 on live credentials) without rotating', async () => {
    const db = await openDatabase({ config: fx.config, env: fx.env, command: 'test' });
    await expect(db.pool.query(`INSERT INTO agents (id, name, registered) VALUES ('a', 'a', now())`)).rejects.toMatchObject({ code: '42501' });
    expect(db.pool.stats().rotations).toBe(0);
    await db.close();
  });

  it('never sends a write twice after the credentials died, but retries a read', async () => {
    const { database: db, keeper } = await openKeptDatabase({ config: fx.config, env: fx.env, command: 'test', pool: { max: 1 } });
    await db.pool.query('SELECT 1'); // one idle session, about to be ended by the revocation
    await revokeCurrent(keeper?.credentials?.lease?.id as string);
    // pg_notify writes: its session died, and it is not retried.
    await expect(db.pool.query(`SELECT pg_notify('eos_test', 'x')`)).rejects.toThrow();
    expect(db.pool.stats().retried).toBe(0);
    // A read on a dead session is retried once on new credentials.
    await revokeCurrent(keeper?.credentials?.lease?.id as string);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM alerts');
    expect(rows[0]?.n).toBe(0);
    expect(db.pool.stats().rotations).toBeGreaterThanOrEqual(1);
    await db.close();
  });

  it('lets queries queued on the old pool finish after a rotation, then closes that pool', async () => {
    const { database: db, keeper } = await openKeptDatabase({ config: fx.config, env: fx.env, command: 'test', pool: { max: 1 } });
    const held = await db.pool.connect(); // the old pool's only client is busy…
    const queued = db.pool.query('SELECT 42 AS n'); // …so this one waits in its queue
    const rotated = keeper?.rotateNow('test');
    await expect.poll(() => db.pool.generation).toBe(2);
    held.release();
    // The queued read got the old pool's client back and answered; the old pool then ended.
    expect((await queued).rows[0]?.n).toBe(42);
    await rotated;
    expect(db.pool.stats().rotations).toBe(1);
    await db.close();
  });

  it('refuses to switch to credentials PostgreSQL refuses: the old pool keeps serving, nothing hangs', async () => {
    const db = await openDatabase({ config: fx.config, env: fx.env, command: 'test' });
    try {
      await Promise.all([1, 2, 3].map(() => db.pool.query('SELECT pg_sleep(0.05)')));
      const { dbCredentials } = await import('../../src/db/credentials.js');
      const current = db.pool.credentials;
      const wrong = dbCredentials({ host: current.host, port: current.port, database: current.database, sslmode: current.sslmode, user: current.user, password: 'not-the-password', source: 'dynamic' });
      await expect(db.pool.switchTo(wrong, 'test')).rejects.toMatchObject({ code: '28P01' });
      expect(db.pool.generation).toBe(1);
      expect((await db.pool.query('SELECT 1 AS one')).rows[0]?.one).toBe(1);
    } finally {
      await db.close();
    }
  });

  it('keeps LISTEN subscribed across a rotation', async () => {
    const { database: db, keeper } = await openKeptDatabase({ config: fx.config, env: fx.env, command: 'test' });
    const listener = new PipelineListener(db.pool, ['new_alert']);
    const payloads: string[] = [];
    let subscriptions = 0;
    listener.on('notification', (n: { payload?: string }) => payloads.push(n.payload ?? ''));
    listener.on('subscribed', () => (subscriptions += 1));
    await listener.start();
    await fx.admin.query(`SELECT pg_notify('new_alert', 'before')`);
    await expect.poll(() => payloads).toEqual(['before']);
    // Force a rotation (as max_ttl would) and notify again through the new session.
    await keeper?.rotateNow('test');
    await expect.poll(() => subscriptions).toBe(2);
    await fx.admin.query(`SELECT pg_notify('new_alert', 'after')`);
    await expect.poll(() => payloads).toEqual(['before', 'after']);
    await listener.stop();
    await db.close();
    expect(await fx.membersLeft()).toBe(0);
  });

  it('keeps a state file without secrets while it holds a lease, and removes it at close', async () => {
    const state = tempDir();
    const { database: db, keeper } = await openKeptDatabase({ config: fx.config, env: { ...fx.env, XDG_STATE_HOME: state }, command: 'delphi dashboard' });
    const leaseId = keeper?.credentials?.lease?.id as string;
    const file = path.join(state, 'eos', 'leases', `${process.pid}.json`);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(leaseId);
    expect(text).not.toContain(keeper?.credentials?.password as string);
    expect(readLeaseStates(path.join(state, 'eos', 'leases'))).toEqual([
      expect.objectContaining({ pid: process.pid, command: 'delphi dashboard', source: 'dynamic', role: 'delphi-readonly', lease: shortLeaseId(leaseId), leaseSha256: sha256(leaseId) }),
    ]);
    await db.close();
    expect(existsSync(file)).toBe(false);
  });

  it('tells reads from writes', () => {
    for (const read of ['SELECT 1', '  select * from alerts', 'WITH x AS (SELECT 1) SELECT * FROM x', '/* c */ SHOW server_version', 'EXPLAIN SELECT 1']) {
      expect(isReadOnlyStatement(read)).toBe(true);
    }
    for (const write of ['INSERT INTO a VALUES (1)', 'UPDATE a SET b = 1', 'WITH x AS (DELETE FROM a RETURNING *) SELECT * FROM x', "SELECT pg_notify('a', 'b')", "SELECT nextval('s')", 'SELECT 1; DROP TABLE a']) {
      expect(isReadOnlyStatement(write)).toBe(false);
    }
  });
});
