/**
 * npm run bench:dashboard — the dashboard's full snapshot (every view's queries, in parallel,
 * through the rotating pool on dynamic credentials) over 1 000 000 sample alerts.
 * Prints one JSON line; EXPLAIN (ANALYZE) of the slowest query goes to stderr.
 */
import pg from 'pg';
import { openDatabase } from '../src/credentials/open-database.js';
import { DASHBOARD_QUERIES, takeSnapshot } from '../src/delphi/snapshot.js';
import { sandboxConfig, startSandbox } from '../src/sandbox/sandbox.js';
import { percentile } from './load.js';

const alerts = Number(process.env.BENCH_ALERTS ?? 1_000_000);
const runs = Number(process.env.BENCH_RUNS ?? 20);

const loadStart = performance.now();
const sandbox = await startSandbox({ ttl: 3600, maxTtl: 7200, sampleAlerts: alerts, progress: (l) => process.stderr.write(`${l}\n`) });
const loadS = (performance.now() - loadStart) / 1000;
try {
  const { config, env } = await sandboxConfig(sandbox);
  const db = await openDatabase({ config, env, command: 'bench' });
  const totals: number[] = [];
  const perQuery = new Map<string, number[]>();
  await takeSnapshot((q) => db.pool.query(q), null); // warm-up
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const snap = await takeSnapshot(async (q) => {
      const t = performance.now();
      const r = await db.pool.query(q);
      const name = Object.entries(DASHBOARD_QUERIES).find(([, text]) => text === q)?.[0] ?? '?';
      perQuery.set(name, [...(perQuery.get(name) ?? []), performance.now() - t]);
      return r;
    }, null);
    totals.push(performance.now() - start);
    void snap;
  }
  const medians = [...perQuery].map(([name, ms]) => ({ name, medianMs: Math.round(percentile(ms, 50) * 10) / 10 })).sort((a, b) => b.medianMs - a.medianMs);
  const slowest = medians[0] ?? { name: '', medianMs: 0 };
  process.stdout.write(
    `${JSON.stringify({
      name: 'dashboard-snapshot',
      alerts,
      runs,
      medianMs: Math.round(percentile(totals, 50) * 10) / 10,
      p95Ms: Math.round(percentile(totals, 95) * 10) / 10,
      slowestQuery: slowest,
      queries: medians,
      loadSeconds: Math.round(loadS * 10) / 10,
    })}\n`,
  );
  await db.close();
  const admin = new pg.Client({ connectionString: sandbox.adminUrl });
  await admin.connect();
  const plan = await admin.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${DASHBOARD_QUERIES[slowest.name as keyof typeof DASHBOARD_QUERIES]}`);
  process.stderr.write(`EXPLAIN ANALYZE ${slowest.name}:\n${plan.rows.map((r) => r['QUERY PLAN']).join('\n')}\n`);
  await admin.end();
} finally {
  await sandbox.stop();
}
