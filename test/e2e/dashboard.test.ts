import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startSandbox, startSimulation, type Sandbox } from '../../src/sandbox/sandbox.js';
import { CLI, REPO_ROOT, runEos as runCli } from '../helpers/cli.js';

// eslint-disable-next-line no-control-regex
const strip = (text: string) => text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');

describe('eos delphi dashboard against the sandbox', () => {
  let sandbox: Sandbox;
  let admin: pg.Client;
  let home: string;
  let env: NodeJS.ProcessEnv;
  const readers = async () =>
    (await admin.query(`SELECT count(*)::int AS n FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE g.rolname = 'delphi_readonly' AND m.member <> (SELECT oid FROM pg_roles WHERE rolname = 'delphi_static')`)).rows[0].n as number;

  beforeAll(async () => {
    sandbox = await startSandbox({ ttl: 5, maxTtl: 15, sampleAlerts: 3000 });
    admin = new pg.Client({ connectionString: sandbox.adminUrl });
    await admin.connect();
    home = mkdtempSync(path.join(tmpdir(), 'eos-dash-'));
    env = { HOME: home, EOS_CONFIG: sandbox.configFile, VAULT_ADDR: sandbox.vaultAddr, VAULT_TOKEN: sandbox.readerToken, EOS_LOG_FILE: path.join(home, 'eos.log') };
  });
  afterAll(async () => {
    await admin?.end();
    await sandbox?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('--json returns every view, with numbers that match direct SQL', async () => {
    const r = await runCli(['delphi', 'dashboard', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const snap = JSON.parse(r.stdout);
    expect(Object.keys(snap)).toEqual(expect.arrayContaining(['flow', 'failed', 'throughput', 'bottlenecks', 'parsers', 'parserErrors', 'failures', 'failureSummary', 'agents', 'credentials']));
    const counts = Object.fromEntries((await admin.query(`SELECT state::text, count(*)::int AS n FROM alerts WHERE state <> 'archived' GROUP BY state`)).rows.map((row) => [row.state, row.n]));
    for (const stage of snap.flow) expect(stage.count).toBe(counts[stage.state] ?? 0);
    expect(snap.failed).toBe(counts.failed ?? 0);
    expect(snap.flow.find((stage: { state: string }) => stage.state === 'sent').health).toBe('done');
    const failures = Object.fromEntries((await admin.query(`SELECT failure_reason, count(*)::int AS n FROM alert_failures GROUP BY 1`)).rows.map((row) => [row.failure_reason, row.n]));
    for (const f of snap.failureSummary) expect(f.count).toBe(failures[f.type]);
    const statuses = (await admin.query(`SELECT COALESCE(status_text, 'unknown') AS s, count(*)::int AS n FROM agents GROUP BY 1`)).rows;
    expect(snap.agents.byStatus).toEqual(expect.arrayContaining(statuses.map((row) => ({ status: row.s, count: row.n }))));
    expect(snap.credentials).toMatchObject({ source: 'dynamic', fallback: false });
    expect(sandbox.rootToken).toMatch(/^s\.\w{24}$/);
    expect(r.stdout).not.toContain(sandbox.rootToken);
  });

  it('--json on static credentials shows who it ran as, never their password', async () => {
    const kv = await fetch(`${sandbox.vaultAddr}/v1/secret/data/delphi/database/password`, { headers: { 'X-Vault-Token': sandbox.rootToken } });
    const password = ((await kv.json()) as { data: { data: { value: string } } }).data.data.value;
    expect(password.length).toBeGreaterThanOrEqual(16);
    const r = await runCli(['delphi', 'dashboard', '--json', '--source', 'kv'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).credentials).toMatchObject({ source: 'kv', user: 'delphi_static' });
    for (const text of [r.stdout, r.stderr, readFileSync(env.EOS_LOG_FILE as string, 'utf8')]) expect(text).not.toContain(password);
  });

  it('with a refused token, every command says which sources it skipped and why, and fails with the real cause', async () => {
    const bad = { ...env, VAULT_TOKEN: 'hvs.refused000000000000000000', VAULT_MAX_RETRIES: '0' };
    const once = await runCli(['delphi', 'dashboard', '--once'], { env: bad });
    const lines = once.stderr.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('warning: credential source '))).toEqual([
      expect.stringMatching(/^warning: credential source dynamic skipped: Vault token expired, revoked or used up \(num_uses\): Vault refused database\/creds\/delphi-readonly and even the token's own lookup$/),
      expect.stringMatching(/^warning: credential source kv skipped: Vault token expired, revoked or used up \(num_uses\): /),
      expect.stringMatching(/^warning: credential source env skipped: neither PG_DSN nor/),
    ]);
    expect(once.stderr).toMatch(/^warning: USING THE BUILT-IN DEVELOPMENT CREDENTIALS delphi\/delphi on (localhost|127\.0\.0\.1):\d+/m);
    // The defaults lead nowhere here; the error is the token, with its exit code, not the fallback's ECONNREFUSED.
    expect(once.code).toBe(4);
    expect(once.stderr).toMatch(/^error: dynamic: Vault token expired, revoked or used up \(num_uses\): .*; the fallback to defaults credentials failed too: /m);
    // The schema commands read the database the same way, and say the same.
    for (const sub of ['status', 'verify']) {
      const r = await runCli(['delphi', 'schema', sub], { env: bad });
      expect(r.code, `${sub}: ${r.stderr}`).toBe(4);
      expect(r.stderr).toMatch(/^error: dynamic: Vault token expired, revoked or used up \(num_uses\): .*; the fallback to defaults credentials failed too: /m);
    }

    const envOut = await runCli(['self', 'secrets', 'env', '--format', 'json'], { env: bad });
    expect(envOut.code).toBe(0);
    expect(envOut.stderr).toMatch(/^warning: credential source dynamic skipped: Vault token expired, revoked or used up \(num_uses\)/m);
    expect(envOut.stderr).toMatch(/^warning: USING THE BUILT-IN DEVELOPMENT CREDENTIALS/m);
    expect(JSON.parse(envOut.stdout).source).toBe('defaults');

    const closed = await runCli(['self', 'secrets', 'env', '--source', 'dynamic'], { env: bad });
    expect(closed.code).toBe(4);
    expect(closed.stderr).toMatch(/^error: dynamic: Vault token expired, revoked or used up \(num_uses\): Vault refused database\/creds\/delphi-worker and even the token's own lookup$/m);
  });

  it('--once prints a plain frame; an unreachable database is exit 5', async () => {
    const r = await runCli(['delphi', 'dashboard', '--once'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^STAGE\s+COUNT\s+OLDEST\s+AVG AGE\s+HEALTH$/m);
    // eslint-disable-next-line no-control-regex
    expect(r.stdout).not.toMatch(/\u001b\[/);
    const down = await runCli(['delphi', 'dashboard', '--once', '--source', 'env'], { env: { ...env, PG_DSN: 'postgresql://u:p@127.0.0.1:1/delphi?sslmode=disable' } });
    expect(down.code).toBe(5);
    expect(down.stderr).toMatch(/^error: cannot reach PostgreSQL: connect ECONNREFUSED/m);
  });

  it('says what is wrong before any data: no schema is exit 1, a refused login or privilege exit 4', async () => {
    const url = new URL(sandbox.adminUrl);
    const dsn = (user: string, password: string, database = 'delphi') => `postgresql://${user}:${password}@${url.host}/${database}?sslmode=disable`;
    await admin.query('DROP DATABASE IF EXISTS dashboard_empty');
    await admin.query('CREATE DATABASE dashboard_empty');
    await admin.query(`DROP ROLE IF EXISTS dashboard_nopriv`);
    await admin.query(`CREATE ROLE dashboard_nopriv LOGIN PASSWORD 'Nopriv-Pw-1'`);
    const once = (pgDsn: string) => runCli(['delphi', 'dashboard', '--once', '--source', 'env'], { env: { ...env, PG_DSN: pgDsn } });

    const empty = await once(dsn('postgres', decodeURIComponent(url.password), 'dashboard_empty'));
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/^error: this database has no Delphi pipeline tables \(agents, alerts, parser_metrics missing\): eos's objects go beside them$/m);
    const denied = await once(dsn('dashboard_nopriv', 'Nopriv-Pw-1'));
    expect(denied.code).toBe(4);
    expect(denied.stderr).toMatch(/^error: PostgreSQL refused: permission denied for /m);
    const refused = await once(dsn('dashboard_nopriv', 'wrong-password'));
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/^error: PostgreSQL refused the login: password authentication failed for user "dashboard_nopriv"$/m);
    for (const r of [empty, denied, refused]) expect(r.stderr).not.toMatch(/ECONNREFUSED|unexpected failure/);
    await admin.query('DROP DATABASE dashboard_empty');
  });

  for (const [how, interval] of [['Ctrl-C', '1.25s'], ['SIGTERM', '1.5s']] as const) {
    it(`leaves no lease behind on ${how}`, async () => {
      const child = spawn('script', ['-qfec', `${process.execPath} ${CLI} delphi dashboard --interval ${interval}`, '/dev/null'], {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH, TERM: 'xterm-256color', ...env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let screen = '';
      child.stdout.on('data', (d) => (screen += strip(String(d))));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      onTestFinished(() => {
        if (child.exitCode === null) child.kill('SIGKILL');
      });
      await expect.poll(() => screen, { timeout: 20_000 }).toMatch(/STAGE\s+COUNT/);
      expect(await readers()).toBe(1);
      if (how === 'Ctrl-C') child.stdin.write('\u0003');
      else {
        const pid = readdirSync('/proc').find((p) => /^\d+$/.test(p) && (() => {
          try {
            const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
            return cmd[0] === process.execPath && cmd.join(' ').includes(`dashboard --interval ${interval}`);
          } catch {
            return false;
          }
        })());
        process.kill(Number(pid), 'SIGTERM');
      }
      const code = await exited;
      // Ctrl-C is a key once ink has the terminal in raw mode (quit: 0); typed a moment before
      // that, the terminal turns it into SIGINT (interrupted: 130). SIGTERM is always 0 here,
      // as the command catches it. Either way, nothing may be left behind.
      if (how === 'Ctrl-C') expect([0, 130]).toContain(code);
      else expect(code).toBe(0);
      expect(await readers()).toBe(0);
    }, 60_000);
  }

  it("--metrics-listen: the database's side of dynamic credentials as gauges — roles alive and expired, sessions open and stale", async () => {
    // A role past VALID UNTIL whose session is still open (VALID UNTIL stops logins, not sessions).
    await admin.query(`DROP ROLE IF EXISTS "v-gauge-expired"`);
    await admin.query(`CREATE ROLE "v-gauge-expired" LOGIN PASSWORD 'Gauge-pw-1' VALID UNTIL '${new Date(Date.now() + 60_000).toISOString()}'`);
    const url = new URL(sandbox.adminUrl);
    const stale = new pg.Client({ host: url.hostname, port: Number(url.port), database: 'postgres', user: 'v-gauge-expired', password: 'Gauge-pw-1' });
    await stale.connect();
    stale.on('error', () => undefined);
    await admin.query(`ALTER ROLE "v-gauge-expired" VALID UNTIL '2000-01-01'`);
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as AddressInfo).port;
        probe.close(() => resolve(p));
      });
    });
    const child = spawn('script', ['-qfec', `${process.execPath} ${CLI} delphi dashboard --interval 1s --metrics-listen ${port}`, '/dev/null'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, TERM: 'xterm-256color', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    onTestFinished(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    try {
      const scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => null))?.text() ?? '';
      await expect.poll(scrape, { timeout: 30_000, interval: 500 }).toMatch(/^eos_db_dynamic_sessions\{state="stale"\} [1-9]/m);
      const text = await scrape();
      expect(text).toMatch(/^eos_db_dynamic_roles\{state="expired"\} [1-9]/m);
      // The dashboard's own reader login is alive (the expired one is counted as expired, not alive).
      expect(Number(/^eos_db_dynamic_roles\{state="alive"\} (\d+)/m.exec(text)?.[1])).toBeGreaterThanOrEqual(1);
      expect(Number(/^eos_db_dynamic_sessions\{state="open"\} (\d+)/m.exec(text)?.[1])).toBeGreaterThanOrEqual(2);
    } finally {
      child.stdin.write('q');
      await exited;
      await stale.end().catch(() => undefined);
      await admin.query(`DROP ROLE IF EXISTS "v-gauge-expired"`);
    }
  }, 60_000);

  it('eos delphi schema verify finds no drift while and after the simulator moves alerts with worker credentials', async () => {
    const simulation = await startSimulation(sandbox, { intervalMs: 200 });
    let ticksBefore = 0;
    try {
      await expect.poll(() => simulation.simulator.ticks, { timeout: 20_000 }).toBeGreaterThanOrEqual(10);
      ticksBefore = simulation.simulator.ticks;
      // One statement, one snapshot: exact even while the pipeline writes.
      const during = await runCli(['delphi', 'schema', 'verify', '--json'], { env });
      expect(during.code, during.stderr).toBe(0);
      expect(JSON.parse(during.stdout)).toMatchObject({ ok: true, drift: [] });
      await expect.poll(() => simulation.simulator.ticks, { timeout: 20_000 }).toBeGreaterThanOrEqual(ticksBefore + 10);
    } finally {
      await simulation.stop();
    }
    expect(simulation.simulator.errors).toBe(0);
    const after = await runCli(['delphi', 'schema', 'verify'], { env });
    expect(after.code, after.stdout + after.stderr).toBe(0);
    expect(after.stdout).toMatch(/^✓ alerts by state: \d+ groups in the tables, \d+ rollup rows?, all equal$/m);
    expect(after.stdout).toMatch(/^✓ failures by type: /m);
    expect(after.stdout).toMatch(/^✓ parser metrics: /m);
  }, 90_000);

  it('runs in a terminal: views switch with keys, counts move with the simulator, rotations show, q leaves no lease', async () => {
    const simulation = await startSimulation(sandbox, { intervalMs: 500 });
    try {
      const child = spawn('script', ['-qfec', `${process.execPath} ${CLI} delphi dashboard --interval 1s`, '/dev/null'], {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH, TERM: 'xterm-256color', COLUMNS: '100', LINES: '30', ...env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let screen = '';
      child.stdout.on('data', (d) => (screen += strip(String(d))));
      child.stderr.on('data', (d) => (screen += strip(String(d))));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      onTestFinished(() => {
        if (child.exitCode === null) child.kill('SIGKILL');
      });
      const newCounts = () => [...screen.matchAll(/^new\s+(\d+)\s/gm)].map((m) => Number(m[1]));

      await expect.poll(() => newCounts().length, { timeout: 20_000 }).toBeGreaterThan(0);
      const first = newCounts()[0];
      // The simulator ingests and advances alerts; the Overview follows.
      await expect.poll(() => newCounts().some((n) => n !== first), { timeout: 20_000 }).toBe(true);

      child.stdin.write('6');
      // ink redraws only what changed, so look for what only the Credentials view prints.
      await expect.poll(() => screen, { timeout: 10_000 }).toMatch(/sources\s+dynamic ✓/);
      // max_ttl 15 s: a rotation within ~12 s of the start, shown in the events.
      await expect.poll(() => screen, { timeout: 30_000 }).toMatch(/\d\d:\d\d:\d\d\s+rotated\b/);
      child.stdin.write('2');
      await expect.poll(() => screen, { timeout: 10_000 }).toMatch(/>10 MIN/);
      child.stdin.write('q');
      expect(await exited).toBe(0);
      expect(await readers()).toBe(0);
    } finally {
      await simulation.stop();
    }
  }, 90_000);
});
