import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSampleData } from '../../src/sandbox/sample-data.js';
import { freshDatabase } from '../helpers/pg.js';

/** The sandbox's sample pipeline must look like a real one to a new user reading the Agents view. */
describe('the sample data', () => {
  let client: pg.Client;

  beforeAll(async () => {
    const { url } = await freshDatabase({ schema: true });
    client = new pg.Client({ connectionString: url });
    await client.connect();
    await loadSampleData(client, { alerts: 3000, agents: 10 });
  });
  afterAll(() => client?.end());

  it('gives agents a status their alerts agree with: one that never connected has no alerts and no last-seen time', async () => {
    const { rows } = await client.query<{ status: string; agents: number; alerts: number; seen: number }>(
      `SELECT g.status_text AS status, count(DISTINCT g.id)::int AS agents, count(a.id)::int AS alerts, count(g.last_seen)::int AS seen
         FROM agents g LEFT JOIN alerts a ON a.agent_id = g.id GROUP BY g.status_text ORDER BY 1`,
    );
    const never = rows.find((r) => r.status === 'never_connected');
    expect(never).toMatchObject({ agents: 2, alerts: 0, seen: 0 });
    for (const r of rows.filter((r) => r.status !== 'never_connected')) expect(r.alerts).toBeGreaterThan(0);
    const orphans = await client.query(`SELECT count(*)::int AS n FROM alerts a LEFT JOIN agents g ON g.id = a.agent_id WHERE g.id IS NULL`);
    expect(orphans.rows[0].n).toBe(0);
  });
});
