/**
 * npm run bench:rotation — queries through the rotating pool during credential rotations,
 * against a naive pool built once from credentials read once. Both sides get the same sandbox
 * (TTL 3 s, max_ttl 8 s), the same fixed-rate load and the same outside revocation mid-run.
 * Prints one JSON object per line, one per side.
 */
import pg from 'pg';
import { configSchema } from '../src/config/schema.js';
import { toPgConfig, type DbCredentials } from '../src/db/credentials.js';
import { openKeptDatabase } from '../src/credentials/open-database.js';
import { startSandbox, type Sandbox } from '../src/sandbox/sandbox.js';
import type { KeeperEvent } from '../src/vault/lease-keeper.js';
import { percentile, runLoad, type LoadResult } from './load.js';

const durationS = Number(process.env.BENCH_DURATION_S ?? 30);
const targetQps = Number(process.env.BENCH_QPS ?? 200);
const revokeAtMs = Math.floor((durationS * 1000) / 2.5);
const QUERY = 'SELECT count(*) FROM alerts';

async function vaultRequests(sandbox: Sandbox): Promise<number> {
  return ((await (await fetch(`${sandbox.vaultAddr}/__dev/stats`, { headers: { 'X-Vault-Token': sandbox.rootToken } })).json()) as { requests: number }).requests;
}

async function revokeLease(sandbox: Sandbox, leaseId: string): Promise<void> {
  await fetch(`${sandbox.vaultAddr}/v1/sys/leases/revoke`, { method: 'PUT', headers: { 'X-Vault-Token': sandbox.rootToken }, body: JSON.stringify({ lease_id: leaseId }) });
}

/**
 * `planned`: when credentials changed on schedule (renewal capped by max_ttl, or a naive pool's
 * expiry); `revocations`: the outside revocation. Queries started within 1 s of either count
 * apart, so a revocation's cost does not hide in (or inflate) the planned rotations' p99.
 */
function summarize(name: string, result: LoadResult, planned: number[], revocations: number[], startedAt: number, rotations: number, requests: number) {
  const near = (events: number[]) => (t: number) => events.some((e) => Math.abs(e - t) <= 1000);
  const nearPlanned = near(planned);
  const nearRevocation = near(revocations);
  const ok = result.outcomes.filter((o) => o.error === undefined);
  const steady = ok.filter((o) => !nearPlanned(o.startedAt) && !nearRevocation(o.startedAt)).map((o) => o.ms);
  const aroundPlanned = result.outcomes.filter((o) => nearPlanned(o.startedAt) && !nearRevocation(o.startedAt)).map((o) => o.ms);
  const aroundRevocation = result.outcomes.filter((o) => nearRevocation(o.startedAt)).map((o) => o.ms);
  return {
    name,
    durationS,
    targetQps,
    qps: Math.round((ok.length / durationS) * 10) / 10,
    queries: result.outcomes.length,
    errors: result.errors.length,
    rotations,
    p50Ms: round(percentile(steady, 50)),
    p99Ms: round(percentile(steady, 99)),
    p99PlannedRotationMs: round(percentile(aroundPlanned, 99)),
    p99RevocationMs: round(percentile(aroundRevocation, 99)),
    vaultRequests: requests,
    firstError: result.errors[0]?.error ?? null,
    startedAt: new Date(startedAt).toISOString(),
  };
}

const round = (n: number) => Math.round(n * 100) / 100;

async function rotating(sandbox: Sandbox) {
  const config = configSchema.parse({
    vault: { address: sandbox.vaultAddr },
    database: { host: sandbox.postgres.host, port: sandbox.postgres.port, name: 'delphi', sslmode: 'disable' },
    credentials: { sources: ['dynamic'] },
  });
  const before = await vaultRequests(sandbox);
  const { database: db, keeper } = await openKeptDatabase({ config, env: { VAULT_ADDR: sandbox.vaultAddr, VAULT_TOKEN: sandbox.rootToken }, command: 'bench' });
  const planned: number[] = [];
  const revocations: number[] = [];
  let revoking = false;
  // A rotation the revocation forced is part of the revocation, not a planned one.
  keeper?.on('rotated', (e: KeeperEvent) => (revoking ? undefined : planned.push(e.at)));
  const startedAt = Date.now();
  const revoke = setTimeout(() => {
    revoking = true;
    revocations.push(Date.now());
    void revokeLease(sandbox, keeper?.credentials?.lease?.id ?? '');
    setTimeout(() => (revoking = false), 1000);
  }, revokeAtMs);
  const result = await runLoad({ qps: targetQps, durationMs: durationS * 1000, query: () => db.pool.query(QUERY) });
  clearTimeout(revoke);
  const rotations = db.pool.stats().rotations;
  await db.close();
  return summarize('rotating', result, planned, revocations, startedAt, rotations, (await vaultRequests(sandbox)) - before);
}

async function naive(sandbox: Sandbox) {
  const before = await vaultRequests(sandbox);
  const res = await fetch(`${sandbox.vaultAddr}/v1/database/creds/delphi-readonly`, { headers: { 'X-Vault-Token': sandbox.rootToken } });
  const body = (await res.json()) as { lease_id: string; lease_duration: number; data: { username: string; password: string } };
  const credentials: DbCredentials = {
    host: sandbox.postgres.host,
    port: sandbox.postgres.port,
    database: 'delphi',
    sslmode: 'disable',
    user: body.data.username,
    password: body.data.password,
    source: 'dynamic',
  };
  const pool = new pg.Pool({ ...toPgConfig(credentials), max: 10 });
  pool.on('error', () => undefined);
  const startedAt = Date.now();
  // Its credentials change under it at the lease's expiry and at the same outside revocation.
  const planned = [startedAt + body.lease_duration * 1000];
  const revocations = [startedAt + revokeAtMs];
  const revoke = setTimeout(() => void revokeLease(sandbox, body.lease_id), revokeAtMs);
  const result = await runLoad({ qps: targetQps, durationMs: durationS * 1000, query: () => pool.query(QUERY) });
  clearTimeout(revoke);
  await pool.end();
  return summarize('naive', result, planned, revocations, startedAt, 0, (await vaultRequests(sandbox)) - before);
}

const sandbox = await startSandbox({ ttl: 3, maxTtl: 8 });
try {
  process.stdout.write(`${JSON.stringify(await rotating(sandbox))}\n`);
  process.stdout.write(`${JSON.stringify(await naive(sandbox))}\n`);
} finally {
  await sandbox.stop();
}
