/**
 * npm run bench:audit — `eos self secrets audit` on a site with many dynamic users: BENCH_LEASES
 * credentials (default 2 000) issued through the sandbox's engine and kept, so the database holds
 * as many `v-…` users and Vault as many leases, plus a few planted orphans. Times each part of one
 * look (Vault's side: list and look up every lease; the database's side; the reckoning) and the
 * whole command as an operator runs it (the built CLI, in a child process), three times each,
 * medians. Every run must find exactly the planted orphans. Prints one JSON line.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { auditFindings, gatherDatabaseSide, gatherVaultSide } from '../src/setup/audit.js';
import { startSandbox } from '../src/sandbox/sandbox.js';
import { createVaultClient } from '../src/vault/client.js';

const LEASES = Number(process.env.BENCH_LEASES ?? 2000);
const ORPHANS = 5;
const RUNS = 3;
const run = promisify(execFile);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main() {
  const sandbox = await startSandbox({ ttl: 3600, maxTtl: 7200, sampleAlerts: 10, tls: false });
  const vault = createVaultClient({ settings: { address: sandbox.vaultAddr, maxRetries: 0 }, token: sandbox.rootToken });
  const admin = new pg.Client({ connectionString: sandbox.adminUrl });
  await admin.connect();
  try {
    const issuing = Date.now();
    for (let done = 0; done < LEASES; done += 20) {
      await Promise.all(Array.from({ length: Math.min(20, LEASES - done) }, () => vault.read('database/creds/delphi-readonly')));
    }
    const issueS = (Date.now() - issuing) / 1000;
    // Orphans as a failed revocation leaves them: marked by the engine, made an hour ago, no lease.
    const { cluster_id } = await vault.health();
    const orphans: string[] = [];
    for (let i = 0; i < ORPHANS; i++) {
      const name = `v-token-delphi-r-BenchOrphan${String(i).padStart(8, '0')}-${Math.floor(Date.now() / 1000) - 3600 - i * 300}`;
      await admin.query(`CREATE ROLE "${name}" LOGIN VALID UNTIL '${new Date(Date.now() + 7_200_000).toISOString()}' IN ROLE delphi_readonly`);
      await admin.query(`COMMENT ON ROLE "${name}" IS 'eos:${cluster_id}/database/delphi-postgresql/delphi-readonly'`);
      orphans.push(name);
    }
    const engine = { mount: 'database', connection: 'delphi-postgresql', roles: ['delphi-readonly', 'delphi-worker'] };
    const parts = { vaultMs: [] as number[], databaseMs: [] as number[], reckoningMs: [] as number[], commandMs: [] as number[] };
    const expected = [...orphans].sort().join(',');
    for (let i = 0; i < RUNS; i++) {
      let t = performance.now();
      const vaultSide = await gatherVaultSide(vault, engine);
      parts.vaultMs.push(performance.now() - t);
      t = performance.now();
      const db = await gatherDatabaseSide(admin, `${sandbox.postgres.host}:${sandbox.postgres.port}`);
      parts.databaseMs.push(performance.now() - t);
      t = performance.now();
      const findings = auditFindings(vaultSide, [db], db.serverNow);
      parts.reckoningMs.push(performance.now() - t);
      const found = findings.filter((f) => f.kind === 'orphan-role').map((f) => f.subject).sort().join(',');
      if (found !== expected || findings.length !== ORPHANS) throw new Error(`run ${i}: expected the ${ORPHANS} planted orphans, got ${findings.map((f) => `${f.kind} ${f.subject}`).join('; ')}`);
      t = performance.now();
      const cli = await run(process.execPath, [path.join(process.cwd(), 'dist', 'cli.js'), 'self', 'secrets', 'audit', '--json'], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, VAULT_ADDR: sandbox.vaultAddr, VAULT_TOKEN: sandbox.auditorToken, EOS_CONFIG: sandbox.configFile, DELPHI_DB_ADMIN_USER: sandbox.postgres.adminUser, DELPHI_DB_ADMIN_PASSWORD: sandbox.postgres.adminPassword },
        maxBuffer: 256 * 1024 * 1024,
      }).catch((err: { code?: number; stdout?: string }) => (err.code === 1 ? { stdout: err.stdout ?? '' } : Promise.reject(err)));
      parts.commandMs.push(performance.now() - t);
      const report = JSON.parse(cli.stdout) as { leases: unknown[]; findings: { kind: string }[] };
      if (report.findings.length !== ORPHANS || report.leases.length < LEASES) throw new Error(`the command's run ${i}: ${report.findings.length} findings, ${report.leases.length} leases`);
    }
    console.log(
      JSON.stringify({
        name: 'audit',
        leases: LEASES,
        users: LEASES + ORPHANS,
        issueS: Math.round(issueS * 10) / 10,
        runs: RUNS,
        vaultSideMs: Math.round(median(parts.vaultMs)),
        databaseSideMs: Math.round(median(parts.databaseMs)),
        reckoningMs: Math.round(median(parts.reckoningMs)),
        commandMs: Math.round(median(parts.commandMs)),
        findings: ORPHANS,
      }),
    );
  } finally {
    await admin.end();
    vault.close();
    await sandbox.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
