import type { Queryable } from './schema-migrator.js';

/**
 * `eos delphi schema verify`: every rollup recomputed from the pipeline's tables and compared,
 * group by group and figure by figure, in one statement so both sides see the same rows (and
 * it runs on any pool). Exact: counts and numeric sums, no rounding.
 */


export interface RollupDrift {
  rollup: string;
  group: string;
  /** Figure → [rollup, recomputed]; numbers as text, so numeric sums compare exactly. */
  figures: Record<string, [string, string]>;
}

export interface RollupCheck {
  rollup: string;
  groups: number;
  /** Rows the rollup holds (one per group once folded; more between folds). */
  rows: number;
}

export interface RollupReport {
  checks: RollupCheck[];
  drift: RollupDrift[];
}

interface RollupSpec {
  rollup: string;
  /** The table whose rows are counted. */
  table: string;
  /** What is summed per group: the table, or a view that resolves it (moves). */
  source?: string;
  /** The group key, as SQL over the rollup table and over the base rows. */
  key: string;
  figures: string[];
  /** The recomputation: a SELECT of `key` and the figures, grouped. */
  recompute: string;
}

const ROLLUPS: RollupSpec[] = [
  {
    rollup: 'alerts by state',
    table: 'eos.alert_state_rollup',
    source: 'eos.alert_state_totals',
    key: 'state::text',
    figures: ['alerts', 'timed', 'ingest_epoch_sum'],
    recompute: `SELECT state::text AS key, count(*) AS alerts, count(ingest_timestamp) AS timed,
                       coalesce(sum(extract(epoch FROM ingest_timestamp)), 0) AS ingest_epoch_sum
                  FROM alerts GROUP BY state`,
  },
  {
    rollup: 'failures by type',
    table: 'eos.failure_rollup',
    key: 'failure_type',
    figures: ['failures'],
    recompute: `SELECT t AS key, count(*) AS failures
                  FROM (SELECT eos.failure_type(state, parser_success, email_error) AS t FROM alerts) f
                 WHERE t IS NOT NULL GROUP BY t`,
  },
  {
    rollup: 'parser metrics',
    table: 'eos.parser_rollup',
    key: `prompt_type || ' / ' || parser_used`,
    figures: ['attempts', 'successes', 'parse_ms_sum'],
    recompute: `SELECT prompt_type || ' / ' || parser_used AS key, count(*) AS attempts, count(*) FILTER (WHERE success) AS successes,
                       coalesce(sum(parse_time_ms), 0) AS parse_ms_sum
                  FROM parser_metrics GROUP BY prompt_type, parser_used`,
  },
];

/** One statement: a row per figure that differs, and per rollup a `#rows` row (rows held, groups counted). */
function checkSql(): string {
  const ctes = ROLLUPS.flatMap((spec, i) => [
    // Keys as text with NULL spelled out: FULL JOIN needs a plain equality.
    `r${i} AS (SELECT coalesce(${spec.key}, '(null)') AS key, ${spec.figures.map((f) => `sum(${f}) AS ${f}`).join(', ')} FROM ${spec.source ?? spec.table} GROUP BY 1)`,
    `b${i} AS (SELECT coalesce(key, '(null)') AS key, ${spec.figures.join(', ')} FROM (${spec.recompute}) g)`,
  ]);
  const selects = ROLLUPS.flatMap((spec, i) => [
    `SELECT ${i} AS rollup, coalesce(r.key, b.key) AS key, f.figure, f.r::text AS r, f.b::text AS b
       FROM r${i} r FULL JOIN b${i} b ON r.key = b.key
      CROSS JOIN LATERAL (VALUES ${spec.figures.map((f) => `('${f}', coalesce(r.${f}, 0)::numeric, coalesce(b.${f}, 0)::numeric)`).join(', ')}) f(figure, r, b)
      WHERE f.r <> f.b`,
    `SELECT ${i}, NULL, '#rows', (SELECT count(*) FROM ${spec.table})::text, (SELECT count(*) FROM b${i})::text`,
  ]);
  return `WITH ${ctes.join(',\n')}\n${selects.join('\nUNION ALL\n')}`;
}

export async function checkRollups(db: Queryable): Promise<RollupReport> {
  const { rows } = await db.query(checkSql());
  const report: RollupReport = { checks: [], drift: [] };
  for (const [i, spec] of ROLLUPS.entries()) {
    const mine = rows.filter((r) => Number(r.rollup) === i);
    const counts = mine.find((r) => r.figure === '#rows');
    report.checks.push({ rollup: spec.rollup, groups: Number(counts?.b ?? 0), rows: Number(counts?.r ?? 0) });
    const byGroup = new Map<string, RollupDrift>();
    for (const r of mine.filter((row) => row.figure !== '#rows')) {
      const group = String(r.key);
      const drift = byGroup.get(group) ?? { rollup: spec.rollup, group, figures: {} };
      drift.figures[String(r.figure)] = [String(r.r), String(r.b)];
      byGroup.set(group, drift);
    }
    report.drift.push(...byGroup.values());
  }
  return report;
}
