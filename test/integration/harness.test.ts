import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { clusterInfo, freshDatabase } from '../helpers/pg.js';

describe('the PostgreSQL test harness', () => {
  it('runs a real server that authenticates with scram-sha-256', async () => {
    const { url } = await freshDatabase();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query(
        `SELECT current_setting('password_encryption') AS enc,
                (SELECT rolpassword FROM pg_authid WHERE rolname = current_user) AS hash,
                (SELECT array_agg(DISTINCT auth_method) FROM pg_hba_file_rules) AS methods,
                current_setting('server_version_num')::int AS version`,
      );
      expect(rows[0].enc).toBe('scram-sha-256');
      expect(rows[0].hash).toMatch(/^SCRAM-SHA-256\$/);
      expect(rows[0].methods).toEqual(['scram-sha-256']);
      expect(rows[0].version).toBeGreaterThanOrEqual(160000);
    } finally {
      await client.end();
    }
  });

  it('accepts the right password of a login role and rejects a wrong one with 28P01', async () => {
    const { url, name } = await freshDatabase();
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE ROLE harness_user LOGIN PASSWORD 'right-password-1'`).catch(async (err) => {
      // The role is cluster-wide: a re-run in the same cluster finds it already there.
      if (err.code !== '42710') throw err;
    });
    await admin.end();

    const { host, port } = clusterInfo();
    const good = new pg.Client({ host, port, database: name, user: 'harness_user', password: 'right-password-1' });
    await good.connect();
    const { rows } = await good.query('SELECT current_user AS me');
    expect(rows[0].me).toBe('harness_user');
    await good.end();

    const bad = new pg.Client({ host, port, database: name, user: 'harness_user', password: 'wrong-password' });
    const failure = await bad.connect().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect((failure as { code?: string }).code).toBe('28P01');
  });

  it('gives each caller its own empty database', async () => {
    const a = await freshDatabase();
    const b = await freshDatabase();
    expect(a.name).not.toBe(b.name);
    const client = new pg.Client({ connectionString: a.url });
    await client.connect();
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`);
    await client.end();
    expect(rows[0].n).toBe(0);
  });
});
