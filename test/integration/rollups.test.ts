import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRollups } from '../../src/delphi/rollup-check.js';
import { applyMigrations } from '../../src/delphi/schema-migrator.js';
import { freshDatabase } from '../helpers/pg.js';

/**
 * The rollups under a randomized concurrent workload: several sessions insert, move alerts
 * through every state (failed and archived too), change ingest times, delete (directly and by
 * cascade), write parser metrics, and commit or roll back multi-statement transactions. Then
 * every rollup must equal the plain GROUP BY over the pipeline's tables — exactly.
 */

/** A small deterministic PRNG (mulberry32): a failure names its seed, and the seed replays it. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(items: readonly T[]) => items[Math.floor(next() * items.length)] as T,
  };
}

const STATES = ['new', 'enriched', 'analyzed', 'structured', 'formatted', 'sent', 'failed', 'archived'] as const;
const CLIENTS = 6;
const OPERATIONS = 120;

/** The pipeline's tables grouped the plain way, in the rollups' terms (numbers as text: exact). */
const TRUTH = {
  states: `SELECT state::text AS key, count(*)::text AS alerts, count(ingest_timestamp)::text AS timed,
                  coalesce(sum(extract(epoch FROM ingest_timestamp)), 0)::text AS s
             FROM alerts GROUP BY state ORDER BY 1 NULLS FIRST`,
  // A move row takes its figures from from_state: resolved here by hand, not by eos's view.
  rollupStates: `SELECT key, sum(alerts)::text AS alerts, sum(timed)::text AS timed, sum(s)::text AS s
                   FROM (SELECT state::text AS key, alerts, timed, ingest_epoch_sum AS s FROM eos.alert_state_rollup
                         UNION ALL
                         SELECT from_state::text, -alerts, -timed, -ingest_epoch_sum FROM eos.alert_state_rollup WHERE moved) r
                  GROUP BY key HAVING sum(alerts) <> 0 OR sum(s) <> 0 ORDER BY 1 NULLS FIRST`,
  failures: `SELECT CASE WHEN email_error IS NOT NULL THEN 'email delivery' WHEN parser_success = false THEN 'parser' ELSE 'pipeline' END AS key,
                    count(*)::text AS n
               FROM alerts WHERE state <> 'archived' AND (state = 'failed' OR parser_success = false OR email_error IS NOT NULL)
              GROUP BY 1 ORDER BY 1`,
  rollupFailures: `SELECT failure_type AS key, sum(failures)::text AS n FROM eos.failure_rollup GROUP BY 1 HAVING sum(failures) <> 0 ORDER BY 1`,
  parsers: `SELECT prompt_type, parser_used, count(*)::text AS n, count(*) FILTER (WHERE success)::text AS ok, sum(parse_time_ms)::text AS ms
              FROM parser_metrics GROUP BY 1, 2 ORDER BY 1, 2`,
  rollupParsers: `SELECT prompt_type, parser_used, sum(attempts)::text AS n, sum(successes)::text AS ok, sum(parse_ms_sum)::text AS ms
                    FROM eos.parser_rollup GROUP BY 1, 2 HAVING sum(attempts) <> 0 ORDER BY 1, 2`,
};

async function expectRollupsExact(client: pg.Client, seed: number) {
  for (const [truth, rollup] of [['states', 'rollupStates'], ['failures', 'rollupFailures'], ['parsers', 'rollupParsers']] as const) {
    const [a, b] = await Promise.all([client.query(TRUTH[truth]), client.query(TRUTH[rollup])]);
    expect(b.rows, `${rollup} against GROUP BY (seed ${seed})`).toEqual(a.rows);
  }
  const report = await checkRollups(client);
  expect(report.drift, `verify (seed ${seed})`).toEqual([]);
}

describe('eos rollups', () => {
  let url: string;
  let admin: pg.Client;

  beforeAll(async () => {
    ({ url } = await freshDatabase({ schema: true }));
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
    // History before eos is installed: the apply backfills it.
    await admin.query(`INSERT INTO agents (id, name, registered) SELECT 'a' || i, 'agent-' || i, now() FROM generate_series(1, ${CLIENTS}) i`);
    await admin.query(
      `INSERT INTO alerts (alert_hash, agent_id, rule_id, rule_level, rule_desc, raw, state, ingest_timestamp, parser_success, email_error)
       SELECT 'pre-' || i, 'a' || (1 + i % ${CLIENTS}), 1, i % 16, 'x', '{}', (enum_range(NULL::alert_state))[1 + i % 8],
              now() - make_interval(secs => i * 7.123457), CASE WHEN i % 9 = 0 THEN false END, CASE WHEN i % 13 = 0 THEN 'SMTP 451' END
         FROM generate_series(1, 500) i`,
    );
    await admin.query(
      `INSERT INTO parser_metrics (alert_id, prompt_type, parser_used, success, parse_time_ms)
       SELECT id, (ARRAY['triage', 'analysis'])[1 + id % 2], (ARRAY['json', 'regex', 'llm'])[1 + id % 3], id % 4 <> 0, id % 97 FROM alerts WHERE id % 3 = 0`,
    );
    await applyMigrations(admin);
  });
  afterAll(() => admin?.end());

  it('backfills the history that was there before the apply', async () => {
    await expectRollupsExact(admin, 0);
    const { rows } = await admin.query(`SELECT sum(alerts)::int AS n FROM eos.alert_state_totals`);
    expect(rows[0].n).toBe(500);
  });

  it('equal the plain GROUP BY after concurrent random writes, rollbacks and deletes', async () => {
    const seed = Number(process.env.EOS_ROLLUP_SEED ?? Date.now() % 1_000_000);
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        return c;
      }),
    );
    let statements = 0;
    let rolledBack = 0;
    try {
      await Promise.all(
        clients.map(async (c, n) => {
          const rng = random(seed + n);
          const agent = `a${n + 1}`;
          // Each session writes only its own agent's alerts: any wait or deadlock between
          // sessions could only come from eos's triggers, and the test fails on any error.
          const q = async (text: string, values?: unknown[]) => {
            statements += 1;
            return c.query(text, values);
          };
          const mine = `SELECT id FROM alerts WHERE agent_id = '${agent}' ORDER BY random() LIMIT $1`;
          const ops: (() => Promise<unknown>)[] = [
            () =>
              q(
                `INSERT INTO alerts (alert_hash, agent_id, rule_id, rule_level, rule_desc, raw, state, ingest_timestamp)
                 SELECT md5(random()::text || clock_timestamp()::text), $1, 1, 3, 'x', '{}', $2::alert_state,
                        CASE WHEN $3::int = 0 THEN NULL ELSE now() - make_interval(secs => $3::int * 3.000001) END
                   FROM generate_series(1, $4::int)`,
                [agent, rng.pick(STATES), rng.int(5000), 1 + rng.int(3)],
              ),
            () => q(`UPDATE alerts SET state = $2 WHERE id IN (${mine})`, [1 + rng.int(3), rng.pick(STATES)]),
            () => q(`UPDATE alerts SET state = 'failed', parser_success = false, parser_error = 'no sections' WHERE id IN (${mine})`, [1]),
            () => q(`UPDATE alerts SET email_error = CASE WHEN email_error IS NULL THEN 'SMTP 451' END WHERE id IN (${mine})`, [2]),
            () => q(`UPDATE alerts SET ingest_timestamp = ingest_timestamp - interval '1.5 seconds' WHERE id IN (${mine})`, [2]),
            () => q(`UPDATE alerts SET state = 'archived' WHERE agent_id = $1 AND state IN ('sent', 'failed') AND id % 3 = $2`, [agent, rng.int(3)]),
            () => q(`UPDATE alerts SET prompt_text = 'unchanged state' WHERE id IN (${mine})`, [3]),
            () => q(`DELETE FROM alerts WHERE id IN (${mine})`, [1 + rng.int(2)]),
            () =>
              q(
                `INSERT INTO parser_metrics (alert_id, prompt_type, parser_used, success, parse_time_ms)
                 SELECT id, $2, $3, $4, $5 FROM alerts WHERE id IN (${mine})`,
                [1 + rng.int(2), rng.pick(['triage', 'analysis']), rng.pick(['json', 'regex']), rng.next() < 0.7, rng.int(300)],
              ),
            () => q(`UPDATE parser_metrics SET success = NOT success, parse_time_ms = parse_time_ms + 1 WHERE alert_id IN (${mine})`, [2]),
            () => q(`DELETE FROM parser_metrics WHERE alert_id IN (${mine})`, [1]),
          ];
          for (let i = 0; i < OPERATIONS; i++) {
            const roll = rng.next();
            if (roll < 0.15) {
              // A transaction of several writes that is rolled back: it must leave no trace.
              await q('BEGIN');
              for (let k = 0; k < 3; k++) await rng.pick(ops)();
              await q('ROLLBACK');
              rolledBack += 1;
            } else if (roll < 0.3) {
              await q('BEGIN');
              for (let k = 0; k < 3; k++) await rng.pick(ops)();
              await q('COMMIT');
            } else if (roll < 0.35) {
              // The agent goes, and its alerts and their parser metrics with it (cascades).
              await q('BEGIN');
              await q(`DELETE FROM agents WHERE id = $1`, [agent]);
              await q(`INSERT INTO agents (id, name, registered) VALUES ($1, $2, now())`, [agent, `agent-${agent}`]);
              await q('COMMIT');
            } else if (roll < 0.4) {
              // A REPEATABLE READ writer: its triggers must not fold (or fail).
              await q('BEGIN ISOLATION LEVEL REPEATABLE READ');
              await rng.pick(ops)();
              await q('COMMIT');
            } else {
              await rng.pick(ops)();
            }
          }
        }),
      );
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    expect(rolledBack).toBeGreaterThan(0);
    await expectRollupsExact(admin, seed);
    expect(statements).toBeGreaterThan(500);
  });

  it('writers fold: the rows a writer appends are folded into one per group by later writes', async () => {
    // One write in 256 folds, at random, so when a fold comes is chance: write, looking after
    // each write, until the state rollup is down to its groups — a fold just happened — or give
    // up after 5 000 writes, which at 1/256 would miss every fold once in 3·10⁸ runs. (Looking
    // only after every hundred writes failed about one run in 60: the last fold could be
    // hundreds of writes back.) Then check the rollups stayed exact.
    const rowsNow = async () => (await admin.query(`SELECT count(*)::int AS n FROM eos.alert_state_rollup`)).rows[0].n as number;
    await admin.query(`INSERT INTO alerts (alert_hash, agent_id, rule_id, rule_level, rule_desc, raw) VALUES ('fold', 'a1', 1, 1, 'x', '{}')`);
    const appended = (await rowsNow()) + 300;
    let writes = 0;
    let rows = Number.POSITIVE_INFINITY;
    while (writes < 5_000 && rows > 20) {
      await admin.query(`UPDATE alerts SET state = $1 WHERE alert_hash = 'fold'`, [writes % 2 === 0 ? 'enriched' : 'new']);
      writes += 1;
      rows = await rowsNow();
    }
    expect(writes).toBeGreaterThan(0);
    // Folded: at most one row per state and group left, far below what the writes appended.
    expect(rows).toBeLessThanOrEqual(20);
    expect(rows).toBeLessThan(Math.min(appended, 120));
    await expectRollupsExact(admin, 2);
  });

  it('follow TRUNCATE', async () => {
    await admin.query('TRUNCATE alerts CASCADE');
    await expectRollupsExact(admin, 1);
    const { rows } = await admin.query(`SELECT (SELECT count(*) FROM eos.alert_state_rollup)::int + (SELECT count(*) FROM eos.parser_rollup)::int AS n`);
    expect(rows[0].n).toBe(0);
  });

  it('verify reports a rollup that disagrees with the tables, group and figure', async () => {
    await admin.query(`INSERT INTO alerts (alert_hash, agent_id, rule_id, rule_level, rule_desc, raw, state) VALUES ('drift', 'a1', 1, 1, 'x', '{}', 'sent')`);
    await admin.query(`INSERT INTO eos.alert_state_rollup (state, alerts, timed, ingest_epoch_sum) VALUES ('sent', 1, 0, 0)`);
    const report = await checkRollups(admin);
    expect(report.drift).toEqual([{ rollup: 'alerts by state', group: 'sent', figures: { alerts: ['2', '1'] } }]);
    // apply --rebuild-rollups counts them again from the tables.
    const result = await applyMigrations(admin, { rebuildRollups: true });
    expect(result.rebuiltRollups).toBe(true);
    expect((await checkRollups(admin)).drift).toEqual([]);
  });
});
