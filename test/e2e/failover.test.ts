import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/credentials/open-database.js';
import { DashboardModel } from '../../src/delphi/dashboard.js';
import type { Snapshot } from '../../src/delphi/snapshot.js';
import { sandboxConfig, startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { REPO_ROOT, runCli, startEos } from '../helpers/cli.js';

const run = promisify(execFile);

interface WriterReport {
  acked: string[];
  inDoubt: string[];
  connectFailures: number;
  longestGapMs: number;
  gapFrom: number | null;
  gapTo: number | null;
}

/**
 * A PostgreSQL failover as a site with a streaming standby lives it (issue 27): a libpq writer
 * under `eos self secrets exec` (100 acknowledged writes a second, each under a unique id) and
 * the dashboard reading from the standby, while the primary is stopped (fencing) and the standby
 * promoted. The database target and the engine are set with the CLI, as an operator would:
 * both hosts, the engine's URL with target_session_attrs=read-write.
 */
describe('a failover under a writing exec worker and a dashboard on the standby', () => {
  let sandbox: Sandbox;
  let python: string;
  let home: string;
  let env: NodeJS.ProcessEnv;
  const eos = (args: string[], extra: NodeJS.ProcessEnv = {}) => runCli(args, { env: { ...env, ...extra } });

  beforeAll(async () => {
    python = (await run(path.join(REPO_ROOT, 'tools', 'python-clients.sh'), [], { cwd: REPO_ROOT, timeout: 280_000 })).stdout.trim();
    // TTL 10 s: the worker's lease is renewed through the failover, by the engine's new primary.
    sandbox = await startSandbox({ ttl: 10, maxTtl: 120, sampleAlerts: 30, standby: true });
    home = mkdtempSync(path.join(tmpdir(), 'eos-failover-'));
    env = { PATH: process.env.PATH, HOME: home, VAULT_ADDR: sandbox.vaultAddr, VAULT_TOKEN: sandbox.readerToken, EOS_CONFIG: sandbox.configFile };
  }, 300_000);
  afterAll(async () => {
    await sandbox?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('0 acknowledged writes lost, in-doubt writes reported, the dashboard serving before and after, Vault issuing against the new primary', async () => {
    const primary = sandbox.postgres;
    const standby = sandbox.standby!;
    const hosts = `127.0.0.1,127.0.0.1`;
    const ports = `${primary.port},${standby.port}`;

    // The operator's set-up: both hosts in the target, the engine re-applied over them.
    const admin = { VAULT_TOKEN: sandbox.rootToken, DELPHI_DB_ADMIN_PASSWORD: primary.adminPassword };
    const set = await eos(['self', 'secrets', 'set', 'delphi-db-config', '--yes', '--json', '--host', hosts, '--port', ports, '--database', 'delphi', '--sslmode', 'disable', '--target-session-attrs', 'read-write'], admin);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ host: hosts, port: primary.port, hosts: [{ port: primary.port }, { port: standby.port }], targetSessionAttrs: 'read-write' });
    const engine = await eos(['self', 'secrets', 'set', 'delphi-db-engine', '--apply', '--json'], admin);
    expect(engine.code, engine.stderr).toBe(0);
    const connection = await fetch(`${sandbox.vaultAddr}/v1/database/config/delphi-postgresql`, { headers: { 'X-Vault-Token': sandbox.rootToken } }).then((r) => r.json() as Promise<{ data: { connection_details: { connection_url: string } } }>);
    expect(connection.data.connection_details.connection_url).toBe(`postgresql://{{username}}:{{password}}@127.0.0.1:${primary.port},127.0.0.1:${standby.port}/delphi?sslmode=disable&target_session_attrs=read-write`);

    // test: its credentials on both hosts; the revocation ends its session on the primary only.
    const selfTest = await eos(['self', 'secrets', 'test', '--json']);
    expect(selfTest.code, selfTest.stdout + selfTest.stderr).toBe(0);
    const checked = (JSON.parse(selfTest.stdout) as { steps: { id: string; status: string; detail: string }[] }).steps;
    expect(checked.find((s) => s.id === "connect")?.detail, JSON.stringify(checked)).toMatch(new RegExp(`at 127\\.0\\.0\\.1:${primary.port}/delphi \\(primary\\).*; 127\\.0\\.0\\.1:${standby.port} \\(standby\\)`));
    expect(checked.find((s) => s.id === 'standby-sessions')).toMatchObject({ status: 'info', detail: expect.stringMatching(new RegExp(`survived on 127\\.0\\.0\\.1:${standby.port}: revocation statements run on the primary only`)) });

    // The dashboard, as its command opens it (no --read-from: a standby when one is up).
    const { config, env: readerEnv } = await sandboxConfig(sandbox);
    const db: Database = await openDatabase({ config, env: { ...readerEnv, HOME: home }, command: 'delphi dashboard', want: 'prefer-standby' });
    const model = new DashboardModel(db, { intervalMs: 200 });
    const snapshots: { at: number; snapshot: Snapshot }[] = [];
    const refreshErrors: string[] = [];
    model.on('update', () => {
      if (model.error) refreshErrors.push(model.error);
      else if (model.snapshot && snapshots.at(-1)?.snapshot !== model.snapshot) snapshots.push({ at: Date.now(), snapshot: model.snapshot });
    });
    await model.start();
    try {
      expect(model.snapshot?.server.standby).toBe(true);
      expect(db.pool.stats().host).toBe(`127.0.0.1:${standby.port}`);
      // Its LISTEN session is on the primary (a standby refuses LISTEN), and its header says so.
      expect(model.notifyState()).toBe(`⚡listening on primary 127.0.0.1:${primary.port}`);
      const before = await eos(['delphi', 'dashboard', '--json']);
      expect(before.code, before.stderr).toBe(0);
      expect((JSON.parse(before.stdout) as Snapshot).server.standby).toBe(true);

      // The writer, under exec with the worker's token.
      const writer = startEos(['self', 'secrets', 'exec', '--on-rotate', 'signal:HUP', '--grace', '5s', '--', python, path.join(REPO_ROOT, 'test', 'clients', 'python', 'failover_writer.py')], {
        env: { ...env, VAULT_TOKEN: sandbox.workerToken, WRITER_SECONDS: '14', WRITER_RATE: '100', WRITER_PREFIX: 'e2e-failover' },
      });
      await new Promise((resolve) => setTimeout(resolve, 5000));
      // status names where each running eos's pool went (the dashboard's: the standby).
      const status = await eos(['self', 'secrets', 'status', '--json'], { HOME: home });
      const held = (JSON.parse(status.stdout) as { leases: { command: string; database?: { host: string; standby: boolean | null } | null }[] }).leases;
      expect(held.find((l) => l.command === 'delphi dashboard')?.database).toEqual({ host: `127.0.0.1:${standby.port}`, standby: true });

      // The failover: fence the primary (a fast shutdown), then promote the standby.
      const died = Date.now() / 1000;
      await primary.stop();
      await new Promise((resolve) => setTimeout(resolve, 300));
      await standby.promote();
      const promoted = Date.now() / 1000;

      expect(await writer.exited, writer.output.stderr).toBe(0);
      const report = JSON.parse(writer.output.stdout.trim().split('\n').at(-1) as string) as WriterReport;
      // Every acknowledged write is on the new primary.
      const check = new pg.Client({ connectionString: standby.adminUrl('delphi') });
      await check.connect();
      const found = await check.query<{ n: number }>('SELECT count(*)::int AS n FROM alerts WHERE alert_hash = ANY($1)', [report.acked]);
      const doubtful = await check.query<{ n: number }>('SELECT count(*)::int AS n FROM alerts WHERE alert_hash = ANY($1)', [report.inDoubt]);
      await check.end();
      expect(report.acked.length).toBeGreaterThan(800);
      expect(found.rows[0]?.n, 'acknowledged writes on the new primary').toBe(report.acked.length);
      // In doubt: reported as such; each either committed or not, none twice (alert_hash is unique).
      expect(doubtful.rows[0]?.n).toBeLessThanOrEqual(report.inDoubt.length);
      // Writes stopped at the primary's death and resumed on the new primary.
      expect(report.gapFrom).not.toBeNull();
      expect(report.gapFrom as number).toBeLessThanOrEqual(died + 0.5);
      expect(report.gapTo as number).toBeGreaterThanOrEqual(promoted - 0.5);

      // The dashboard served before and after; it now reads from the new primary (same host).
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(snapshots.some((s) => s.at < died * 1000 && s.snapshot.server.standby)).toBe(true);
      expect(snapshots.some((s) => s.at > promoted * 1000 && !s.snapshot.server.standby)).toBe(true);
      expect(refreshErrors).toEqual([]);
      // Its LISTEN session followed the primary to the promoted server.
      await expect.poll(() => model.notifyState(), { timeout: 20_000 }).toBe('⚡listening');
      const after = await eos(['delphi', 'dashboard', '--json']);
      expect(after.code, after.stderr).toBe(0);
      const afterSnapshot = JSON.parse(after.stdout) as Snapshot;
      expect(afterSnapshot.server.standby).toBe(false);
      expect(afterSnapshot.credentials?.pool.host).toBe(`127.0.0.1:${standby.port}`);

      // Vault issues against the new primary: the self-test's credentials log in there.
      const test = await eos(['self', 'secrets', 'test', '--json']);
      expect(test.code, test.stdout + test.stderr).toBe(0);
      const steps = (JSON.parse(test.stdout) as { steps: { id: string; status: string; detail: string }[] }).steps;
      expect(steps.find((s) => s.id === 'issue')?.status).toBe('pass');
      expect(steps.find((s) => s.id === 'connect')?.detail).toContain(`127.0.0.1:${standby.port}/delphi (primary)`);
      // The old primary is gone: the site has no standby left, and test says so (a warning).
      expect(steps.find((s) => s.id === 'connect')).toMatchObject({ status: 'warn', detail: expect.stringContaining(`127.0.0.1:${primary.port} unreachable (ECONNREFUSED)`), hint: expect.stringMatching(/^no standby answers/) });
    } finally {
      await model.stop();
      await db.close();
    }
  }, 240_000);
});
