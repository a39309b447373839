import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgresCluster, type PostgresCluster } from '../../src/sandbox/postgres.js';
import { summarisePostgresLog } from '../../src/setup/postgres-log.js';

/**
 * The database's side of refusals for the audit (issue 28), from the log a real server writes as
 * jsonlog: a dynamic user's failed login (28P01) and refused privilege (42501), grouped by role
 * and address; other users' entries and statement texts left out.
 */
describe("the server's jsonlog, summarised", () => {
  let cluster: PostgresCluster;
  let admin: pg.Client;
  beforeAll(async () => {
    cluster = await startPostgresCluster({ jsonLog: true });
    admin = new pg.Client({ connectionString: cluster.adminUrl() });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await cluster?.stop();
  });

  it('counts 28P01 and 42501 of v-* roles by role and address', async () => {
    await admin.query(`CREATE ROLE "v-log-1" LOGIN PASSWORD 'Log-pw-1'`);
    await admin.query(`CREATE ROLE plain_user LOGIN PASSWORD 'Plain-pw-1'`);
    await admin.query('CREATE TABLE secret_table (x int)');
    const login = (user: string, password: string) => new pg.Client({ host: cluster.host, port: cluster.port, database: 'postgres', user, password });
    for (let i = 0; i < 2; i++) await expect(login('v-log-1', 'wrong').connect()).rejects.toMatchObject({ code: '28P01' });
    await expect(login('plain_user', 'wrong').connect()).rejects.toMatchObject({ code: '28P01' });
    const ok = login('v-log-1', 'Log-pw-1');
    await ok.connect();
    await expect(ok.query('SELECT * FROM secret_table')).rejects.toMatchObject({ code: '42501' });
    await ok.end();
    const dir = (await admin.query<{ d: string }>("SELECT current_setting('data_directory') AS d")).rows[0]?.d as string;
    const file = path.join(dir, (await admin.query<{ f: string }>("SELECT pg_current_logfile('jsonlog') AS f")).rows[0]?.f as string);
    await expect
      .poll(async () => (await summarisePostgresLog(file)).refusals.map((r) => `${r.role} ${r.address} ${r.code} ${r.count}`).sort(), { timeout: 10_000 })
      .toEqual(['v-log-1 127.0.0.1 28P01 2', 'v-log-1 127.0.0.1 42501 1']);
    const later = await summarisePostgresLog(file, { since: Date.now() + 60_000 });
    expect(later.refusals).toEqual([]);
    expect(JSON.stringify(await summarisePostgresLog(file))).not.toContain('secret_table');
  });
});
