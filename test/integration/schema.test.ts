import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALERT_CHANNELS, applySchema } from '../../src/delphi/schema.js';
import { freshDatabase } from '../helpers/pg.js';

describe('the Delphi schema', () => {
  let client: pg.Client;
  let listener: pg.Client;

  beforeAll(async () => {
    const { url } = await freshDatabase();
    client = new pg.Client({ connectionString: url });
    listener = new pg.Client({ connectionString: url });
    await Promise.all([client.connect(), listener.connect()]);
  });
  afterAll(async () => {
    await Promise.all([client?.end(), listener?.end()]);
  });

  it('applies twice in a row on a fresh database', async () => {
    await applySchema(client);
    await applySchema(client);
    const { rows } = await client.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`,
    );
    expect(rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining([
        'agents', 'alerts', 'parser_metrics', 'pipeline_health', 'pipeline_bottlenecks', 'parser_performance',
        'parser_error_analysis', 'recent_failures', 'failure_summary',
      ]),
    );
    const triggers = await client.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'alerts'::regclass AND NOT tgisinternal`);
    expect(triggers.rows[0].n).toBe(2);
  });

  it('sends a NOTIFY with the alert id for the insert and for every state change', async () => {
    const received: { channel: string; payload: string | undefined }[] = [];
    listener.on('notification', (n) => received.push({ channel: n.channel, payload: n.payload }));
    for (const channel of ALERT_CHANNELS) await listener.query(`LISTEN ${channel}`);

    await client.query(`INSERT INTO agents (id, name, registered) VALUES ('001', 'web-1', now())`);
    const { rows } = await client.query(
      `INSERT INTO alerts (alert_hash, agent_id, rule_id, rule_level, rule_desc, raw)
       VALUES ('h1', '001', 5710, 5, 'sshd: attempt to login', '{}') RETURNING id`,
    );
    const id = String(rows[0].id);
    const path = ['enriched', 'analyzed', 'structured', 'formatted', 'sent', 'failed', 'archived'];
    for (const state of path) {
      await client.query(`UPDATE alerts SET state = $1 WHERE id = $2`, [state, id]);
    }
    // An update that leaves the state alone must not notify.
    await client.query(`UPDATE alerts SET state = 'archived', email_retry_count = 1 WHERE id = $1`, [id]);
    // A round trip on the listener guarantees every notification sent before it has arrived.
    await listener.query('SELECT 1');

    expect(received).toEqual([
      { channel: 'new_alert', payload: id },
      ...path.map((state) => ({ channel: `alert_${state}`, payload: id })),
    ]);
  });

  it('enforces the token-count rule and feeds the views', async () => {
    await expect(
      client.query(
        `INSERT INTO alerts (alert_hash, agent_id, rule_id, rule_level, rule_desc, raw, prompt_tokens)
         VALUES ('h2', '001', 1, 3, 'x', '{}', 10)`,
      ),
    ).rejects.toMatchObject({ code: '23514' });

    await client.query(
      `INSERT INTO alerts (alert_hash, agent_id, rule_id, rule_level, rule_desc, raw, state, ingest_timestamp, parser_used, parser_success, parser_error)
       VALUES ('h3', '001', 1, 3, 'x', '{}', 'new', now() - interval '2 hours', NULL, NULL, NULL),
              ('h4', '001', 1, 3, 'x', '{}', 'structured', now(), 'json', false, 'no sections')`,
    );
    const health = await client.query(`SELECT state::text, count::int, health_status FROM pipeline_health ORDER BY state`);
    expect(health.rows).toEqual([
      { state: 'new', count: 1, health_status: 'ATTENTION NEEDED' },
      { state: 'structured', count: 1, health_status: 'Healthy' },
    ]);
    const stuck = await client.query(`SELECT state::text, stuck_over_1hr::int FROM pipeline_bottlenecks WHERE state = 'new'`);
    expect(stuck.rows).toEqual([{ state: 'new', stuck_over_1hr: 1 }]);
    const failures = await client.query(`SELECT failure_type, count::int FROM failure_summary`);
    expect(failures.rows).toEqual([{ failure_type: 'parser', count: 1 }]);
    const stats = await client.query(`SELECT state::text, alert_count::int FROM get_pipeline_stats()`);
    expect(stats.rows).toEqual([
      { state: 'new', alert_count: 1 },
      { state: 'structured', alert_count: 1 },
    ]);
  });
});
