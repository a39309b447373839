/**
 * npm run bench:failover — a PostgreSQL failover under load, as a site with a streaming standby
 * lives it. A libpq writer (psycopg, test/clients/python/failover_writer.py) runs under
 * `eos self secrets exec` at 100 acknowledged writes a second, each under a unique id; the
 * dashboard's snapshot loop reads from the standby (as it does by default). After
 * BENCH_FAILOVER_AT_S the primary is stopped (fencing: a fast shutdown) and the standby promoted.
 *
 * - lostWrites: acknowledged ids missing on the new primary (must be 0);
 * - inDoubtWrites: writes sent when the primary went away, unanswered (reported, never resent);
 * - msToFirstWrite: from the primary's stop to the writer's first acknowledged write after it;
 *   msFromPromotionToFirstWrite: the same from the end of pg_promote();
 * - failedReads: dashboard refreshes that failed.
 * BENCH_FAILOVER_MODE says how the primary goes:
 * - `switchover` (default): a fast shutdown, as an orchestrator fences a primary it replaces; the
 *   primary sends all its WAL to the standby before it stops;
 * - `crash`: an immediate shutdown (SIGQUIT: a primary losing its power), under the sandbox's
 *   asynchronous replication — what the last commits risk;
 * - `crash-sync`: the same crash with synchronous replication (synchronous_standby_names and
 *   synchronous_commit = on for the database): a commit is acknowledged once the standby has it.
 * Needs the build (dist/) and the pinned Python clients (tools/python-clients.sh, run here).
 * Prints one JSON line.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { openDatabase } from '../src/credentials/open-database.js';
import { DashboardModel } from '../src/delphi/dashboard.js';
import { sandboxConfig, startSandbox } from '../src/sandbox/sandbox.js';

const WRITER_S = Number(process.env.BENCH_WRITER_S ?? 20);
const FAILOVER_AT_S = Number(process.env.BENCH_FAILOVER_AT_S ?? 8);
const RATE = Number(process.env.BENCH_WRITE_RATE ?? 100);
const MODE = process.env.BENCH_FAILOVER_MODE ?? 'switchover';
if (!['switchover', 'crash', 'crash-sync'].includes(MODE)) throw new Error(`BENCH_FAILOVER_MODE=${MODE}: use switchover, crash or crash-sync`);
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

interface WriterReport {
  acked: string[];
  inDoubt: string[];
  outages: { from: number; to: number }[];
}

async function main() {
  const python = (await promisify(execFile)(path.join(ROOT, 'tools', 'python-clients.sh'), [], { cwd: ROOT, timeout: 300_000 })).stdout.trim();
  const sandbox = await startSandbox({ ttl: 30, maxTtl: 600, sampleAlerts: 1000, standby: true });
  const home = mkdtempSync(path.join(tmpdir(), 'eos-bench-failover-'));
  try {
    const standby = sandbox.standby!;
    if (MODE === 'crash-sync') {
      // The primary acknowledges a commit once the standby has flushed it. (The sandbox starts
      // PostgreSQL with synchronous_commit=off; a database's own setting overrides that.)
      const admin = new pg.Client({ connectionString: sandbox.postgres.adminUrl('delphi') });
      await admin.connect();
      await admin.query(`ALTER SYSTEM SET synchronous_standby_names = '"eos-standby"'`);
      await admin.query('SELECT pg_reload_conf()');
      await admin.query('ALTER DATABASE delphi SET synchronous_commit = on');
      await admin.end();
    }
    const { config, env } = await sandboxConfig(sandbox);
    const db = await openDatabase({ config, env: { ...env, HOME: home }, command: 'bench failover dashboard', want: 'prefer-standby' });
    const model = new DashboardModel(db, { intervalMs: 200 });
    let failedReads = 0;
    model.on('update', () => {
      if (model.error) failedReads += 1;
    });
    await model.start();
    const readFromStandby = model.snapshot?.server.standby === true;

    const writer = spawn(
      process.execPath,
      [path.join(ROOT, 'dist', 'cli.js'), 'self', 'secrets', 'exec', '--on-rotate', 'signal:HUP', '--', python, path.join(ROOT, 'test', 'clients', 'python', 'failover_writer.py')],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: home, VAULT_ADDR: sandbox.vaultAddr, VAULT_TOKEN: sandbox.workerToken, EOS_CONFIG: sandbox.configFile, WRITER_SECONDS: String(WRITER_S), WRITER_RATE: String(RATE), WRITER_PREFIX: 'bench' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    writer.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => writer.on('exit', resolve));

    await new Promise((resolve) => setTimeout(resolve, FAILOVER_AT_S * 1000));
    const died = Date.now();
    if (MODE === 'switchover') await sandbox.postgres.stop();
    else await sandbox.postgres.crash();
    const stopped = Date.now();
    await standby.promote();
    const promoted = Date.now();

    const code = await exited;
    if (code !== 0) throw new Error(`the writer under exec exited ${code}`);
    const report = JSON.parse(out.trim().split('\n').at(-1) as string) as WriterReport;
    const check = new pg.Client({ connectionString: standby.adminUrl('delphi') });
    await check.connect();
    const found = (await check.query<{ n: number }>('SELECT count(*)::int AS n FROM alerts WHERE alert_hash = ANY($1)', [report.acked])).rows[0]?.n ?? 0;
    const doubtCommitted = (await check.query<{ n: number }>('SELECT count(*)::int AS n FROM alerts WHERE alert_hash = ANY($1)', [report.inDoubt])).rows[0]?.n ?? 0;
    await check.end();
    // The writer's outage around the failover: the first that ends after the primary's stop.
    const outage = report.outages.find((o) => o.to * 1000 >= died);
    const firstWrite = outage ? outage.to * 1000 : null;
    const afterFailover = model.snapshot;
    const refreshes = model.refreshes;
    await model.stop();
    await db.close();
    console.log(
      JSON.stringify({
        name: 'failover',
        mode: MODE,
        ackedWrites: report.acked.length,
        lostWrites: report.acked.length - found,
        inDoubtWrites: report.inDoubt.length,
        inDoubtCommitted: doubtCommitted,
        msToFirstWrite: firstWrite === null ? null : Math.round(firstWrite - died),
        msFromPromotionToFirstWrite: firstWrite === null ? null : Math.max(0, Math.round(firstWrite - promoted)),
        msPrimaryStop: stopped - died,
        msPromote: promoted - stopped,
        failedReads,
        dashboardRefreshes: refreshes,
        readFromStandby,
        readsAfterFromPrimary: afterFailover?.server.standby === false,
        writeRate: RATE,
        writerS: WRITER_S,
      }),
    );
  } finally {
    await sandbox.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
