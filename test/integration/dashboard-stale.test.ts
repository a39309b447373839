import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { openDatabase } from '../../src/credentials/open-database.js';
import { DashboardModel } from '../../src/delphi/dashboard.js';
import { clusterInfo, freshDatabase } from '../helpers/pg.js';

describe('the dashboard while the database cannot be read', () => {
  let admin: pg.Client;
  let db: { name: string; url: string };
  const user = `dash_${randomBytes(3).toString('hex')}`;
  beforeAll(async () => {
    db = await freshDatabase({ schema: true, eos: true });
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query(`CREATE ROLE ${user} LOGIN PASSWORD 'Dash-pw-1'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${user}; GRANT USAGE ON SCHEMA eos TO ${user}; GRANT SELECT ON ALL TABLES IN SCHEMA eos TO ${user}`);
  });
  afterAll(() => admin?.end());

  it('keeps the last data marked stale, and recovers by itself', async () => {
    const { port } = clusterInfo();
    const config = configSchema.parse({ database: { host: '127.0.0.1', port, name: db.name, sslmode: 'disable' }, credentials: { sources: ['env'] } });
    const database = await openDatabase({ config, env: { DELPHI_DB_USER: user, DELPHI_DB_PASSWORD: 'Dash-pw-1' } });
    const model = new DashboardModel(database, { intervalMs: 200, listen: false });
    await model.start();
    expect(model.snapshot?.flow).toHaveLength(6);
    const taken = model.snapshot?.takenAt;

    // The database stops accepting this user and ends its sessions.
    await admin.query(`ALTER ROLE ${user} NOLOGIN`);
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [user]);
    await expect.poll(() => model.stale, { timeout: 10_000 }).toBe(true);
    expect(model.error).toBeTruthy();
    expect(model.snapshot?.takenAt).toBe(taken);

    await admin.query(`ALTER ROLE ${user} LOGIN`);
    await expect.poll(() => model.stale === false && model.error === null, { timeout: 10_000 }).toBe(true);
    expect(model.snapshot?.takenAt).not.toBe(taken);
    await model.stop();
    await database.close();
  });
});
