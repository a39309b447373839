import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { openDatabase, type Database } from '../../src/credentials/open-database.js';
import { DashboardModel, FAILURES_WINDOW } from '../../src/delphi/dashboard.js';
import { clusterInfo, freshDatabase } from '../helpers/pg.js';

/** The Failures view pages over every failed alert: the model fetches the page the view needs. */
describe('the dashboard model pages through every failed alert', () => {
  let admin: pg.Client;
  let database: Database;
  let model: DashboardModel;
  const user = `fail_${randomBytes(3).toString('hex')}`;
  const FAILED = 256;

  beforeAll(async () => {
    const db = await freshDatabase({ schema: true, eos: true });
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query(`INSERT INTO agents (id, name, registered) VALUES ('001', 'web-1', now())`);
    // 256 failed alerts, one a minute (newest is i = 1), among as many sent ones.
    await admin.query(
      `INSERT INTO alerts (alert_hash, agent_id, rule_id, rule_level, rule_desc, raw, state, ingest_timestamp, email_error)
       SELECT 'h' || i, '001', 1, 3, 'x', '{}', CASE WHEN i % 2 = 0 THEN 'failed' ELSE 'sent' END::alert_state,
              now() - make_interval(mins => i), CASE WHEN i % 2 = 0 THEN 'SMTP 451' END
         FROM generate_series(1, ${FAILED * 2}) i`,
    );
    await admin.query(`CREATE ROLE ${user} LOGIN PASSWORD 'Fail-pw-1'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${user}; GRANT USAGE ON SCHEMA eos TO ${user}; GRANT SELECT ON ALL TABLES IN SCHEMA eos TO ${user}`);
    const { port } = clusterInfo();
    const config = configSchema.parse({ database: { host: '127.0.0.1', port, name: db.name, sslmode: 'disable' }, credentials: { sources: ['env'] } });
    database = await openDatabase({ config, env: { DELPHI_DB_USER: user, DELPHI_DB_PASSWORD: 'Fail-pw-1' } });
    model = new DashboardModel(database, { intervalMs: 60_000, listen: false });
    await model.refresh();
  });
  afterAll(async () => {
    await model?.stop();
    await database?.close();
    await admin?.query(`DROP OWNED BY ${user}; DROP ROLE ${user}`).catch(() => undefined);
    await admin?.end();
  });

  const ids = async (offset: number, limit: number) =>
    (await admin.query(`SELECT id::int FROM alerts WHERE state = 'failed' ORDER BY ingest_timestamp DESC, id DESC LIMIT $1 OFFSET $2`, [limit, offset])).rows.map((r) => r.id as number);

  it('counts them all and holds the newest window first', async () => {
    expect(model.snapshot?.failuresTotal).toBe(FAILED);
    expect(model.snapshot?.failuresOffset).toBe(0);
    expect(model.snapshot?.failures.map((f) => f.id)).toEqual(await ids(0, FAILURES_WINDOW));
  });

  it('fetches the page the view scrolls to, and keeps it across refreshes', async () => {
    model.seekFailures(240, 16);
    await expect.poll(() => model.snapshot?.failuresOffset, { timeout: 5000 }).toBeGreaterThan(0);
    const s = model.snapshot!;
    // Rows 240–255 are held, in the same order as the plain query.
    expect(s.failuresOffset).toBeLessThanOrEqual(240);
    expect(s.failuresOffset + s.failures.length).toBeGreaterThanOrEqual(FAILED);
    expect(s.failures.map((f) => f.id)).toEqual(await ids(s.failuresOffset, FAILURES_WINDOW));
    await model.refresh();
    expect(model.snapshot?.failuresOffset).toBe(s.failuresOffset);
    expect(model.snapshot?.failures.map((f) => f.id)).toEqual(s.failures.map((f) => f.id));
    // Back at the top: the first page again.
    model.seekFailures(0, 16);
    await expect.poll(() => model.snapshot?.failuresOffset, { timeout: 5000 }).toBe(0);
  });
});
