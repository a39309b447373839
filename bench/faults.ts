/**
 * npm run bench:faults — eos under the faults operators meet, one JSON line per scenario:
 * {name, queries, errors, maxStallMs, rotations, vaultRequests, …}. Each scenario gets a fresh
 * sandbox (its own PostgreSQL and Vault-API dev server) and a fixed-rate read load through
 * openDatabase(), the wiring every command uses.
 *   pg-restart                PostgreSQL restarted (fast shutdown, start) under 100 reads/s
 *   vault-paused-within-ttl   Vault frozen 5 s, well inside a 30 s lease
 *   vault-paused-past-expiry  Vault frozen 9 s over a 5 s lease, no fallback allowed
 *   token-explicit-max        a token whose explicit_max_ttl (4 s) ends before its lease (20 s);
 *                             the declared fallback (env, a static user) takes over
 *   supervisor-killed         `eos self secrets exec` SIGKILLed: is its worker left running?
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../src/config/schema.js';
import { openKeptDatabase, type Database } from '../src/credentials/open-database.js';
import type { DbCredentials } from '../src/db/credentials.js';
import type { LeaseKeeper } from '../src/vault/lease-keeper.js';
import { sandboxConfig, startSandbox, type Sandbox } from '../src/sandbox/sandbox.js';
import { percentile, runLoad } from './load.js';

const QPS = 100;
const QUERY = 'SELECT count(*) FROM alerts';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function vaultRequests(sandbox: Sandbox): Promise<number> {
  return ((await (await fetch(`${sandbox.vaultAddr}/__dev/stats`, { headers: { 'X-Vault-Token': sandbox.rootToken } })).json()) as { requests: number }).requests;
}

async function vaultWrite(sandbox: Sandbox, p: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${sandbox.vaultAddr}/v1/${p}`, { method: 'POST', headers: { 'X-Vault-Token': sandbox.rootToken }, body: JSON.stringify(body) });
  const text = await res.text();
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

/** Runs `fault` while `durationMs` of reads go through a database opened with `configure`. */
async function scenario(
  name: string,
  options: { ttl: number; maxTtl: number; durationMs: number; configure?: (config: Config, env: NodeJS.ProcessEnv, sandbox: Sandbox) => Promise<{ config: Config; env: NodeJS.ProcessEnv }> },
  fault: (sandbox: Sandbox, db: Database, keeper: LeaseKeeper<DbCredentials> | undefined) => Promise<Record<string, unknown>>,
): Promise<Record<string, unknown>> {
  const sandbox = await startSandbox({ ttl: options.ttl, maxTtl: options.maxTtl, sampleAlerts: 100 });
  try {
    const base = await sandboxConfig(sandbox);
    let config: Config = base.config;
    let env: NodeJS.ProcessEnv = base.env;
    if (options.configure) ({ config, env } = await options.configure(config, env, sandbox));
    const before = await vaultRequests(sandbox);
    const { database: db, keeper } = await openKeptDatabase({ config, env, command: `bench ${name}` });
    try {
      const load = runLoad({ qps: QPS, durationMs: options.durationMs, query: () => db.pool.query(QUERY) });
      const extra = await fault(sandbox, db, keeper);
      const result = await load;
      return {
        name,
        queries: result.outcomes.length,
        errors: result.errors.length,
        maxStallMs: Math.round(Math.max(0, ...result.outcomes.map((o) => o.ms))),
        p99Ms: Math.round(percentile(result.outcomes.map((o) => o.ms), 99) * 10) / 10,
        rotations: db.pool.stats().rotations,
        vaultRequests: (await vaultRequests(sandbox)) - before,
        firstError: result.errors[0]?.error ?? null,
        ...extra,
      };
    } finally {
      await db.close();
    }
  } finally {
    await sandbox.stop();
  }
}

const dynamicOnly = async (config: Config, env: NodeJS.ProcessEnv) => ({ config: { ...config, credentials: { ...config.credentials, sources: ['dynamic' as const] } }, env });

const results: Record<string, unknown>[] = [];
const emit = (line: Record<string, unknown>) => {
  results.push(line);
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

emit(
  await scenario('pg-restart', { ttl: 300, maxTtl: 600, durationMs: 6000, configure: dynamicOnly }, async (sandbox) => {
    await sleep(2000);
    return { downtimeMs: await sandbox.postgres.restart() };
  }),
);

for (const [name, ttl, pauseS] of [['vault-paused-within-ttl', 30, 5], ['vault-paused-past-expiry', 5, 9]] as const) {
  emit(
    await scenario(name, { ttl, maxTtl: 60, durationMs: 14_000, configure: dynamicOnly }, async (sandbox, db) => {
      await sleep(1000);
      const generation = db.pool.generation;
      await fetch(`${sandbox.vaultAddr}/__dev/pause`, { method: 'POST', headers: { 'X-Vault-Token': sandbox.rootToken }, body: JSON.stringify({ seconds: pauseS }) });
      const thawAt = Date.now() + pauseS * 1000;
      // How long after Vault answered again the pool had new credentials (past expiry only).
      while (db.pool.generation === generation && Date.now() < thawAt + 10_000) await sleep(20);
      return { pausedS: pauseS, leaseTtlS: ttl, newCredentialsAfterThawMs: db.pool.generation === generation ? null : Date.now() - thawAt };
    }),
  );
}

emit(
  await scenario(
    'token-explicit-max',
    {
      ttl: 20,
      maxTtl: 60,
      durationMs: 22_000,
      configure: async (config, env, sandbox) => {
        const created = await vaultWrite(sandbox, 'auth/token/create', { ttl: '4s', explicit_max_ttl: '4s', renewable: true });
        const token = (created.auth as { client_token: string }).client_token;
        const kv = (await (await fetch(`${sandbox.vaultAddr}/v1/secret/data/delphi/database/password`, { headers: { 'X-Vault-Token': sandbox.rootToken } })).json()) as { data: { data: { value: string } } };
        const dsn = `postgresql://delphi_static:${encodeURIComponent(kv.data.data.value)}@${sandbox.postgres.host}:${sandbox.postgres.port}/delphi?sslmode=disable`;
        return { config: { ...config, credentials: { ...config.credentials, sources: ['dynamic', 'env'] } }, env: { ...env, VAULT_TOKEN: token, PG_DSN: dsn } };
      },
    },
    async (_sandbox, db, keeper) => {
      const source = () => db.pool.credentials.source;
      const started = Date.now();
      while (source() === 'dynamic' && Date.now() - started < 21_000) await sleep(50);
      return { fellBackTo: source() === 'dynamic' ? null : source(), fallbackAfterMs: Date.now() - started, tokenExpiredEvents: keeper?.events.filter((e) => e.type === 'token-expired').length ?? 0 };
    },
  ),
);

emit(await supervisorKilled());

/** `exec` SIGKILLed while its worker (and the worker's child) run: how long until they are gone. */
async function supervisorKilled(): Promise<Record<string, unknown>> {
  const sandbox = await startSandbox({ ttl: 30, maxTtl: 60, sampleAlerts: 0 });
  try {
    const env = { PATH: process.env.PATH, HOME: path.dirname(sandbox.configFile), EOS_CONFIG: sandbox.configFile, VAULT_TOKEN: sandbox.rootToken };
    const eos = spawn(process.execPath, [path.join(root, 'dist', 'cli.js'), 'self', 'secrets', 'exec', '--', 'sh', '-c', 'sleep 600 & echo "pids $$ $!"; wait'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    eos.stdout.on('data', (d) => (out += d));
    while (!/^pids \d+ \d+$/m.test(out)) await sleep(20);
    const pids = (/^pids (\d+) (\d+)$/m.exec(out) as RegExpExecArray).slice(1);
    const alive = () => pids.some((pid) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')));
    eos.kill('SIGKILL');
    const killedAt = Date.now();
    while (alive() && Date.now() - killedAt < 10_000) await sleep(10);
    const goneAfterMs = Date.now() - killedAt;
    const orphaned = alive();
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone, as it should be
      }
    }
    return { name: 'supervisor-killed', queries: 0, errors: 0, maxStallMs: goneAfterMs, rotations: 0, vaultRequests: 0, workerOrphaned: orphaned, workerGoneAfterMs: goneAfterMs };
  } finally {
    await sandbox.stop();
  }
}
