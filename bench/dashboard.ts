/**
 * npm run bench:dashboard — the dashboard's full snapshot (every view's queries, in parallel,
 * through the rotating pool on dynamic credentials) over a sandbox of 10 000 and one of
 * 1 000 000 sample alerts, in the same run. The sample data arrive at one alert every 10 s,
 * so the larger one is a longer history of the same traffic. eos's objects are installed on
 * the loaded tables by the apply an operator runs (timed: the first install on a large table).
 * One JSON line per size, then one with the ratio and the goals; EXPLAIN of each size's slowest
 * query goes to stderr.
 */
import pg from 'pg';
import { openDatabase } from '../src/credentials/open-database.js';
import { applyMigrations } from '../src/delphi/schema-migrator.js';
import { DASHBOARD_QUERIES, takeSnapshot } from '../src/delphi/snapshot.js';
import { sandboxConfig, startSandbox } from '../src/sandbox/sandbox.js';
import { percentile } from './load.js';

const sizes = (process.env.BENCH_ALERTS ?? '10000,1000000').split(',').map(Number);
const runs = Number(process.env.BENCH_RUNS ?? 30);
const round = (ms: number) => Math.round(ms * 10) / 10;

/** Goals of docs/benchmarks.md. */
const GOAL_MEDIAN_MS = 60;
const GOAL_RATIO = 1.5;

async function measure(alerts: number) {
  const loadStart = performance.now();
  const sandbox = await startSandbox({ ttl: 3600, maxTtl: 7200, sampleAlerts: alerts, eosSchema: false, progress: (l) => process.stderr.write(`${l}\n`) });
  const loadS = (performance.now() - loadStart) / 1000;
  try {
    const admin = new pg.Client({ connectionString: sandbox.adminUrl });
    await admin.connect();
    const applyStart = performance.now();
    const applied = await applyMigrations(admin, { progress: (l) => process.stderr.write(`  ${l}\n`) });
    const applyS = (performance.now() - applyStart) / 1000;
    await admin.query('ANALYZE');
    const { config, env } = await sandboxConfig(sandbox);
    const db = await openDatabase({ config, env, command: 'bench' });
    const totals: number[] = [];
    const perQuery = new Map<string, number[]>();
    const names = new Map<string, string>(Object.entries(DASHBOARD_QUERIES).map(([name, text]) => [text, name]));
    for (let i = 0; i < 3; i++) await takeSnapshot((q, v) => db.pool.query(q, v), null); // warm-up
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      await takeSnapshot(async (q, v) => {
        const t = performance.now();
        const r = await db.pool.query(q, v);
        const name = names.get(q) ?? '?';
        perQuery.set(name, [...(perQuery.get(name) ?? []), performance.now() - t]);
        return r;
      }, null);
      totals.push(performance.now() - start);
    }
    const queries = [...perQuery].map(([name, ms]) => ({ name, medianMs: round(percentile(ms, 50)) })).sort((a, b) => b.medianMs - a.medianMs);
    const slowest = queries[0] ?? { name: '', medianMs: 0 };
    const stats = await admin.query(
      `SELECT (SELECT count(*)::int FROM alerts WHERE state <> 'archived') AS live,
              (SELECT count(*)::int FROM eos.alert_state_rollup) + (SELECT count(*)::int FROM eos.failure_rollup) + (SELECT count(*)::int FROM eos.parser_rollup) AS rollup_rows`,
    );
    const result = {
      name: 'dashboard-snapshot',
      alerts,
      liveAlerts: stats.rows[0].live as number,
      runs,
      medianMs: round(percentile(totals, 50)),
      p95Ms: round(percentile(totals, 95)),
      slowestQuery: slowest,
      queries,
      rollupRows: stats.rows[0].rollup_rows as number,
      loadSeconds: round(loadS),
      applySeconds: round(applyS),
      applySteps: applied.applied.flatMap((m) => m.steps.map((s) => ({ step: `${m.version}: ${s.title}`, ms: s.ms }))),
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
    await db.close();
    const text = DASHBOARD_QUERIES[slowest.name as keyof typeof DASHBOARD_QUERIES];
    const plan = await admin.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${text.replace('$1', '60').replace('$2', '0')}`);
    process.stderr.write(`EXPLAIN ANALYZE ${slowest.name} at ${alerts} alerts:\n${plan.rows.map((r) => r['QUERY PLAN']).join('\n')}\n`);
    await admin.end();
    return result;
  } finally {
    await sandbox.stop();
  }
}

const results = [];
for (const alerts of sizes) results.push(await measure(alerts));
if (results.length >= 2) {
  const small = results[0] as { alerts: number; medianMs: number };
  const large = results.at(-1) as { alerts: number; medianMs: number };
  const ratio = Math.round((large.medianMs / small.medianMs) * 100) / 100;
  process.stdout.write(
    `${JSON.stringify({
      name: 'dashboard-scaling',
      small: small.alerts,
      large: large.alerts,
      smallMedianMs: small.medianMs,
      largeMedianMs: large.medianMs,
      ratio,
      goals: { largeMedianMs: GOAL_MEDIAN_MS, ratio: GOAL_RATIO },
      met: large.medianMs <= GOAL_MEDIAN_MS && ratio <= GOAL_RATIO,
    })}\n`,
  );
}
