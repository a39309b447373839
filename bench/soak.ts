/**
 * npm run bench:soak — a long run of rotations: credentials with TTL 1 s and max_ttl 2 s (a new
 * lease about every 1.5 s), 50 reads a second through the rotating pool, until BENCH_ROTATIONS
 * rotations (default 1 000; about half an hour). Every query must answer. The process's RSS and
 * heap are sampled every 10 s; what counts is the growth between rotation 100 (everything warm)
 * and the end, which a leak of one pool, lease, timer or listener per rotation would show.
 * The sandbox (PostgreSQL aside) runs in this process too: its dev server's leases count.
 * Each sample follows a full garbage collection (the script runs node with --expose-gc), so
 * what is measured is what is kept, not how far V8 let its heap grow before collecting: the
 * young generation alone grows from 16 to 32 MB in the first minutes of any busy process.
 * Prints one JSON line.
 */
import { configSchema } from '../src/config/schema.js';
import { openKeptDatabase } from '../src/credentials/open-database.js';
import { startSandbox } from '../src/sandbox/sandbox.js';
import { runLoad } from './load.js';

const ROTATIONS = Number(process.env.BENCH_ROTATIONS ?? 1000);
const QPS = Number(process.env.BENCH_QPS ?? 50);
const SAMPLE_MS = 10_000;
const WARM_ROTATIONS = Math.min(100, Math.floor(ROTATIONS / 10));

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

async function main() {
  const sandbox = await startSandbox({ ttl: 1, maxTtl: 2, sampleAlerts: 100 });
  try {
    const config = configSchema.parse({
      vault: { address: sandbox.vaultAddr },
      database: { host: sandbox.postgres.host, port: sandbox.postgres.port, name: 'delphi', sslmode: 'disable' },
      credentials: { sources: ['dynamic'] },
    });
    const { database: db, keeper } = await openKeptDatabase({ config, env: { VAULT_ADDR: sandbox.vaultAddr, VAULT_TOKEN: sandbox.readerToken }, command: 'bench soak' });
    const samples: { atS: number; rotations: number; rssMb: number; heapMb: number }[] = [];
    const started = Date.now();
    const collect = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
    const sample = () => {
      collect();
      const m = process.memoryUsage();
      samples.push({ atS: Math.round((Date.now() - started) / 1000), rotations: keeper?.rotations ?? 0, rssMb: mb(m.rss), heapMb: mb(m.heapUsed) });
    };
    const sampler = setInterval(sample, SAMPLE_MS);
    let warm: { rssMb: number; heapMb: number; atS: number } | undefined;
    const watchWarm = setInterval(() => {
      if (!warm && (keeper?.rotations ?? 0) >= WARM_ROTATIONS) {
        collect();
        const m = process.memoryUsage();
        warm = { rssMb: mb(m.rss), heapMb: mb(m.heapUsed), atS: Math.round((Date.now() - started) / 1000) };
      }
    }, 250);
    // The load runs in slices until enough rotations happened; each slice's outcomes are kept.
    let queries = 0;
    let failed = 0;
    let firstError: string | null = null;
    while ((keeper?.rotations ?? 0) < ROTATIONS) {
      const result = await runLoad({ qps: QPS, durationMs: 10_000, query: () => db.pool.query('SELECT count(*) FROM alerts') });
      queries += result.outcomes.length;
      failed += result.errors.length;
      firstError ??= result.errors[0]?.error ?? null;
      process.stderr.write(`soak: ${keeper?.rotations ?? 0}/${ROTATIONS} rotations, ${queries} queries, ${failed} failed, rss ${mb(process.memoryUsage().rss)} MB\n`);
    }
    clearInterval(sampler);
    clearInterval(watchWarm);
    sample();
    const end = samples.at(-1) as (typeof samples)[number];
    await db.close();
    console.log(
      JSON.stringify({
        name: 'soak',
        rotations: keeper?.rotations ?? 0,
        queries,
        failedQueries: failed,
        durationS: Math.round((Date.now() - started) / 1000),
        qps: QPS,
        warmAtRotation: WARM_ROTATIONS,
        rssWarmMb: warm?.rssMb ?? null,
        rssEndMb: end.rssMb,
        rssGrowthMb: warm ? Math.round((end.rssMb - warm.rssMb) * 10) / 10 : null,
        heapGrowthMb: warm ? Math.round((end.heapMb - warm.heapMb) * 10) / 10 : null,
        rssMaxMb: Math.max(...samples.map((s) => s.rssMb)),
        firstError,
        samples: samples.length,
        afterFullGc: (globalThis as { gc?: unknown }).gc !== undefined,
      }),
    );
  } finally {
    await sandbox.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
