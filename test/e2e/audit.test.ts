import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/sandbox/postgres.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { REPO_ROOT, runCli, runEos, startEos } from '../helpers/cli.js';

interface AuditOutput {
  clean: boolean;
  findings: { kind: string; subject: string; severity: string }[];
  fix?: { dryRun: boolean; steps: { step: string; ok: boolean }[] };
}

/** `eos self secrets audit` on a sandbox, as an operator (or cron) runs it. */
describe('eos self secrets audit', () => {
  let sandbox: Sandbox;
  let home: string;
  let env: NodeJS.ProcessEnv;
  const audit = async (...args: string[]) => {
    const r = await runEos(['self', 'secrets', 'audit', '--json', ...args], { env });
    return { code: r.code, stderr: r.stderr, out: r.stdout ? (JSON.parse(r.stdout) as AuditOutput) : undefined };
  };

  beforeAll(async () => {
    sandbox = await startSandbox({ ttl: 300, maxTtl: 600, sampleAlerts: 10, tls: false });
    home = mkdtempSync(path.join(tmpdir(), 'eos-audit-'));
    // The auditor here is the Vault admin and the PostgreSQL admin; docs/setup.md has the least-privilege form.
    env = { HOME: home, VAULT_ADDR: sandbox.vaultAddr, VAULT_TOKEN: sandbox.rootToken, EOS_CONFIG: sandbox.configFile, DELPHI_DB_ADMIN_PASSWORD: sandbox.postgres.adminPassword };
  }, 120_000);
  afterAll(async () => {
    await sandbox?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('a fresh sandbox audits clean (exit 0); planted findings exit 1; --fix --dry-run changes nothing; --fix clears what it can, and a second run has nothing to fix', async () => {
    const clean = await audit();
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.out?.clean).toBe(true);
    // The built CLI too (its bundle runs from V8's code cache).
    const built = await runCli(['self', 'secrets', 'audit', '--json'], { env: { PATH: process.env.PATH, ...env } });
    expect(built.code, built.stderr).toBe(0);

    const admin = new pg.Client({ connectionString: sandbox.adminUrl });
    await admin.connect();
    try {
      const left = `v-token-delphi-r-LeftBehindLeftBehind-${Math.floor(Date.now() / 1000) - 3600}`;
      await admin.query(`CREATE ROLE "${left}" LOGIN VALID UNTIL '${new Date(Date.now() + 3_600_000).toISOString()}' IN ROLE delphi_readonly`);
      // As the sandbox's engine marks its users: set delphi-db-engine --apply writes the statement,
      // naming this Vault by its cluster id.
      const health = (await (await fetch(`${sandbox.vaultAddr}/v1/sys/health`)).json()) as { cluster_id: string };
      const definition = (await (await fetch(`${sandbox.vaultAddr}/v1/database/roles/delphi-readonly`, { headers: { 'X-Vault-Token': sandbox.rootToken } })).json()) as { data: { creation_statements: string[] } };
      const marker = `eos:${health.cluster_id}/database/delphi-postgresql/delphi-readonly`;
      expect(health.cluster_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(definition.data.creation_statements).toContain(`COMMENT ON ROLE "{{name}}" IS '${marker}';`);
      await admin.query(`COMMENT ON ROLE "${left}" IS '${marker}'`);
      const text = await runEos(['self', 'secrets', 'audit'], { env });
      // The sandbox's server writes to stderr only: the audit says how to make failed logins readable.
      expect(text.stdout).toMatch(/^PostgreSQL log of 127\.0\.0\.1:\d+ not readable for failed logins: it writes stderr without the logging collector; set log_destination = 'jsonlog' and logging_collector = on$/m);
      const planted = await audit();
      expect(planted.code).toBe(1);
      expect(planted.out?.findings.map((f) => `${f.kind} ${f.subject}`)).toEqual([`orphan-role ${left}`]);

      const dry = await audit('--fix', '--dry-run');
      expect(dry.code).toBe(1);
      expect(dry.out?.fix).toEqual({ dryRun: true, steps: [{ step: expect.stringContaining(`DROP ROLE IF EXISTS "${left}";`), ok: true }] });
      // As SQL to paste into psql: the name a literal, not a $1 with its value aside.
      const dryText = await runEos(['self', 'secrets', 'audit', '--fix', '--dry-run'], { env });
      expect(dryText.stdout).toContain(`would run: on 127.0.0.1:${new URL(sandbox.adminUrl).port}: SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${left}'; DROP ROLE IF EXISTS "${left}";\n`);
      expect((await admin.query(`SELECT 1 FROM pg_roles WHERE rolname = '${left}'`)).rowCount).toBe(1);

      const fixed = await audit('--fix');
      expect(fixed.code, fixed.stderr).toBe(0);
      expect(fixed.out?.fix?.steps.map((s) => s.ok)).toEqual([true]);
      expect((await admin.query(`SELECT 1 FROM pg_roles WHERE rolname = '${left}'`)).rowCount).toBe(0);
      const again = await audit('--fix');
      expect(again.code).toBe(0);
      expect(again.out?.fix?.steps).toEqual([]);
    } finally {
      await admin.end();
    }
  }, 120_000);

  it("runs with a token that holds only eos-delphi-auditor: it lists and looks up the leases, and gets no credentials", async () => {
    const admin = { 'X-Vault-Token': sandbox.rootToken };
    // The policy as set delphi-db-engine --apply writes it (the sandbox applies the same plan).
    const policy = (await (await fetch(`${sandbox.vaultAddr}/v1/sys/policies/acl/eos-delphi-auditor`, { headers: admin })).json()) as { data: { policy: string } };
    // Every role's leases on the mount: a user may be a role's the audit does not name.
    expect(policy.data.policy).toMatch(/path "sys\/leases\/lookup\/database\/creds\/\*" \{\n {2}capabilities = \["list", "sudo"\]/);
    const created = (await (await fetch(`${sandbox.vaultAddr}/v1/auth/token/create`, { method: 'POST', headers: admin, body: JSON.stringify({ policies: ['eos-delphi-auditor'], no_default_policy: true, ttl: '10m' }) })).json()) as { auth: { client_token: string } };
    const auditor = { ...env, VAULT_TOKEN: created.auth.client_token };
    // A live lease of the reader, so there is something to list.
    const lease = await fetch(`${sandbox.vaultAddr}/v1/database/creds/delphi-readonly`, { headers: { 'X-Vault-Token': sandbox.readerToken } });
    expect(lease.status).toBe(200);
    const r = await runEos(['self', 'secrets', 'audit', '--json'], { env: auditor });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { leases: unknown[] }).leases.length).toBeGreaterThanOrEqual(1);
    const creds = await fetch(`${sandbox.vaultAddr}/v1/database/creds/delphi-readonly`, { headers: { 'X-Vault-Token': created.auth.client_token } });
    expect(creds.status).toBe(403);
    // An auditor's config as `configure` writes it, with no database in it: where the database is
    // comes from KV (secret/delphi/config), which the policy lets it read — and nothing else there.
    const bare = path.join(home, 'auditor.json');
    writeFileSync(bare, JSON.stringify({ vault: { address: sandbox.vaultAddr, auth: { method: 'token' } } }));
    const fromKv = await runEos(['self', 'secrets', 'audit'], { env: { ...auditor, EOS_CONFIG: bare } });
    expect(fromKv.code, fromKv.stderr).toBe(0);
    const staticLogin = await fetch(`${sandbox.vaultAddr}/v1/secret/data/delphi/database/password`, { headers: { 'X-Vault-Token': created.auth.client_token } });
    expect(staticLogin.status).toBe(403);
  });

  it("--vault-audit-log summarises a log OpenBao wrote: each role's requests, issues and the refusal", async () => {
    const log = path.join(REPO_ROOT, 'test', 'fixtures', 'openbao-audit.log');
    const r = await audit('--vault-audit-log', log);
    expect(r.code, r.stderr).toBe(0);
    const summary = (r.out as unknown as { vaultAuditLog: { roles: { role: string; requests: number; issued: number; refused: number }[] } }).vaultAuditLog;
    expect(summary.roles.map((x) => [x.role, x.requests, x.issued, x.refused])).toEqual([
      ['delphi-readonly', 2, 2, 0],
      ['delphi-worker', 2, 1, 1],
    ]);
    const text = await runEos(['self', 'secrets', 'audit', '--vault-audit-log', log], { env });
    expect(text.stdout).toMatch(/^ {2}refused \S+ database\/creds\/delphi-worker from 127\.0\.0\.1 \(token hmac-sha256:[0-9a-f]{64}\): 1 error occurred: \* permission denied$/m);
  });

  it('--pg-log summarises refusals of dynamic users from a jsonlog', async () => {
    const file = path.join(home, 'postgresql.json');
    writeFileSync(file, `${JSON.stringify({ timestamp: '2026-12-07 10:00:00.000 UTC', user: 'v-token-x', remote_host: '10.0.0.9', state_code: '28P01', message: 'password authentication failed for user "v-token-x"' })}\n`);
    const r = await runEos(['self', 'secrets', 'audit', '--pg-log', file], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ {2}failed login ×1 v-token-x from 10\.0\.0\.9 \(2026-12-07 10:00:00\.000 UTC … 2026-12-07 10:00:00\.000 UTC\)$/m);
  });

  it("prints names others choose as inert text: a login attempt's user name in the log, a role's name, a session's application — no line forged, no escape sequence", async () => {
    // Anyone who reaches the port can try a login with any name: the server logs it as given.
    const forged = 'clean: every dynamic role has its lease, and nothing more';
    const file = path.join(home, 'hostile.json');
    writeFileSync(file, `${JSON.stringify({ timestamp: '2026-12-07 10:00:00.000 UTC', user: `v-\u001b[2J\n${forged}`, remote_host: '10.0.0.9', state_code: '28P01', message: 'password authentication failed' })}\n`);
    const admin = new pg.Client({ connectionString: sandbox.adminUrl });
    await admin.connect();
    const hostileRole = `v-\u001b]0;pwned\u0007-${Math.floor(Date.now() / 1000) - 3600}`;
    const { hostname, port } = new URL(sandbox.adminUrl);
    // The application name is any client's to set: a session of the role, named to forge a line.
    const session = new pg.Client({ host: hostname, port: Number(port), database: 'delphi', user: hostileRole, password: 'Hostile-pw-1', application_name: `x\u001b[31m\n${forged}` });
    session.on('error', () => undefined);
    try {
      await admin.query(`CREATE ROLE "${hostileRole}" LOGIN PASSWORD 'Hostile-pw-1' VALID UNTIL '${new Date(Date.now() + 60_000).toISOString()}' IN ROLE delphi_readonly`);
      await session.connect();
      // Its credentials end while the session stays open: a stale session, its application shown
      // (the server itself writes a control character of an application name as \xNN, and cuts it at 63 bytes).
      await admin.query(`ALTER ROLE "${hostileRole}" VALID UNTIL '${new Date(Date.now() - 60_000).toISOString()}'`);
      const r = await runEos(['self', 'secrets', 'audit', '--pg-log', file], { env });
      expect(r.code).toBe(1);
      const lines = (r.stdout + r.stderr).split('\n');
      // eslint-disable-next-line no-control-regex -- finding control characters is the point
      expect(r.stdout + r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
      // The forged line is a part of another line, never a line of its own.
      expect(lines.filter((l) => l === forged)).toEqual([]);
      expect(r.stdout).toContain('failed login ×1 v-\\x1b[2J\\nclean: every dynamic role has its lease, and nothing more from 10.0.0.9');
      expect(r.stdout).toMatch(/^MEDIUM expired-role v-\\x1b\]0;pwned\\x07-\d+ on /m);
      expect(r.stdout).toMatch(/^HIGH stale-session v-\\x1b\]0;pwned\\x07-\d+ pid \d+ on .*\(x\\x1b\[31m\\x0aclean: every dynamic role/m);
    } finally {
      await session.end().catch(() => undefined);
      await admin.query(`DROP ROLE IF EXISTS "${hostileRole}"`);
      await admin.end();
    }
  });

  it("says which side is gone, in one line, with its exit code: Vault unreachable (3), PostgreSQL unreachable (5), one host of a list (5, named); --fix does nothing", async () => {
    const vaultGone = await runEos(['self', 'secrets', 'audit', '--fix'], { env: { ...env, VAULT_ADDR: 'http://127.0.0.1:1', VAULT_MAX_RETRIES: '0' } });
    expect(vaultGone.code).toBe(3);
    expect(vaultGone.stderr.split('\n').filter((l) => l.startsWith('error:'))).toEqual([expect.stringMatching(/^error: Vault at http:\/\/127\.0\.0\.1:1 is unreachable/)]);
    expect(vaultGone.stdout).toBe('');
    // A port nothing listens on: the one host, then a second host of a list.
    const closed = String(await freePort());
    const pgGone = await runEos(['self', 'secrets', 'audit', '--fix', '--port', closed], { env });
    expect(pgGone.code).toBe(5);
    expect(pgGone.stderr.split('\n').filter((l) => l.startsWith('error:'))).toEqual([expect.stringMatching(new RegExp(`^error: cannot reach PostgreSQL at 127\\.0\\.0\\.1:${closed}`))]);
    expect(pgGone.stdout).toBe('');
    const { port } = new URL(sandbox.adminUrl);
    const oneGone = await runEos(['self', 'secrets', 'audit', '--host', '127.0.0.1,127.0.0.1', '--port', `${port},${closed}`], { env });
    expect(oneGone.code).toBe(5);
    expect(oneGone.stderr).toContain(`127.0.0.1:${closed}`);
    expect(oneGone.stdout).toBe('');
  });

  it('refuses bad input with one line and exit 2', async () => {
    const cidr = await runEos(['self', 'secrets', 'audit', '--allow-cidr', '10.0.0.0/99'], { env });
    expect([cidr.code, cidr.stderr.split('\n')[0]]).toEqual([2, 'error: --allow-cidr "10.0.0.0/99" is not a network']);
    const dry = await runEos(['self', 'secrets', 'audit', '--dry-run'], { env });
    expect([dry.code, dry.stderr.split('\n')[0]]).toEqual([2, 'error: --dry-run goes with --fix']);
    const since = await runEos(['self', 'secrets', 'audit', '--since', '1h'], { env });
    expect([since.code, since.stderr.split('\n')[0]]).toEqual([2, 'error: --since goes with --vault-audit-log or --pg-log']);
    const missing = await runEos(['self', 'secrets', 'audit', '--vault-audit-log', '/nonexistent/audit.log'], { env });
    expect([missing.code, missing.stderr.split('\n')[0]]).toEqual([2, 'error: the Vault audit log /nonexistent/audit.log cannot be read: ENOENT']);
    // A directory opens, then fails on the first read: the same one line, not "a bug in eos".
    const folder = await runEos(['self', 'secrets', 'audit', '--vault-audit-log', home], { env });
    expect([folder.code, folder.stderr.split('\n')[0]]).toEqual([2, `error: the Vault audit log ${home} cannot be read: EISDIR`]);
    const pgFolder = await runEos(['self', 'secrets', 'audit', '--pg-log', home], { env });
    expect([pgFolder.code, pgFolder.stderr.split('\n')[0]]).toEqual([2, `error: the PostgreSQL log ${home} cannot be read: EISDIR`]);
    // A role that is not there (a typo in a cron job) would audit nothing and call the real users strangers.
    const typo = await runEos(['self', 'secrets', 'audit', '--role', 'delphi-reaodnly'], { env });
    expect([typo.code, typo.stderr.split('\n').find((l) => l.startsWith('error:'))]).toEqual([2, 'error: the Vault role "delphi-reaodnly" is not on database/ (database/roles/delphi-reaodnly is not there)']);
    expect(typo.stdout).toBe('');
  });

  it("a reader's token is told the audit needs eos-delphi-auditor (exit 4); --fix with a pg_monitor login is refused before it acts when there is something to do (exit 4)", async () => {
    const reader = await runEos(['self', 'secrets', 'audit'], { env: { ...env, VAULT_TOKEN: sandbox.readerToken } });
    expect(reader.code).toBe(4);
    expect(reader.stderr).toMatch(/^hint: the audit runs with a token that has the eos-delphi-auditor policy/m);
    const admin = new pg.Client({ connectionString: sandbox.adminUrl });
    await admin.connect();
    try {
      await admin.query(`DROP ROLE IF EXISTS audit_monitor; CREATE ROLE audit_monitor LOGIN PASSWORD 'Monitor-pw-1' IN ROLE pg_monitor`);
      const monitor = { ...env, DELPHI_DB_ADMIN_USER: 'audit_monitor', DELPHI_DB_ADMIN_PASSWORD: 'Monitor-pw-1' };
      // It audits, and --fix with nothing to fix needs no more…
      expect((await runEos(['self', 'secrets', 'audit'], { env: monitor })).code).toBe(0);
      expect((await runEos(['self', 'secrets', 'audit', '--fix'], { env: monitor })).code).toBe(0);
      // …but with a role to drop it is not the admin --fix needs: the report, then the refusal, nothing done.
      const left = `v-token-delphi-r-MonitorMonitorMonit-${Math.floor(Date.now() / 1000) - 3600}`;
      const health = (await (await fetch(`${sandbox.vaultAddr}/v1/sys/health`)).json()) as { cluster_id: string };
      await admin.query(`CREATE ROLE "${left}" LOGIN VALID UNTIL '${new Date(Date.now() + 3_600_000).toISOString()}' IN ROLE delphi_readonly`);
      await admin.query(`COMMENT ON ROLE "${left}" IS 'eos:${health.cluster_id}/database/delphi-postgresql/delphi-readonly'`);
      const fix = await runEos(['self', 'secrets', 'audit', '--fix'], { env: monitor });
      expect([fix.code, fix.stderr.split('\n').find((l) => l.startsWith('error:'))]).toEqual([4, `error: --fix needs the admin: audit_monitor on 127.0.0.1:${new URL(sandbox.adminUrl).port} may not drop roles and end other users' sessions`]);
      expect(fix.stdout).toMatch(new RegExp(`^HIGH orphan-role ${left} `, 'm'));
      expect((await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [left])).rowCount).toBe(1);
      // The admin fixes it.
      expect((await runEos(['self', 'secrets', 'audit', '--fix'], { env })).code).toBe(0);
      expect((await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [left])).rowCount).toBe(0);
    } finally {
      await admin.query('DROP ROLE IF EXISTS audit_monitor');
      await admin.end();
    }
  });

  it("the cron line of setup.md, as written: silent when clean, the report when there are findings", async () => {
    // The line as the document has it, its files put here.
    const line = /^0 \* \* \* \* eos {2}(.+)$/m.exec(readFileSync(path.join(REPO_ROOT, 'docs', 'setup.md'), 'utf8'))?.[1] as string;
    expect(line).toBeDefined();
    const dir = mkdtempSync(path.join(home, 'cron-'));
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'eos'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(REPO_ROOT, 'dist', 'cli.js'))} "$@"\n`, { mode: 0o755 });
    const admin = { 'X-Vault-Token': sandbox.rootToken };
    const created = (await (await fetch(`${sandbox.vaultAddr}/v1/auth/token/create`, { method: 'POST', headers: admin, body: JSON.stringify({ policies: ['eos-delphi-auditor'], no_default_policy: true, ttl: '10m' }) })).json()) as { auth: { client_token: string } };
    writeFileSync(path.join(dir, 'auditor.token'), created.auth.client_token, { mode: 0o600 });
    writeFileSync(path.join(dir, 'auditor.json'), JSON.stringify({ vault: { address: sandbox.vaultAddr, auth: { method: 'token-file', path: path.join(dir, 'auditor.token') } } }));
    // Plain KEY=value lines, as an operator writes them.
    writeFileSync(path.join(dir, 'auditor.env'), `DELPHI_DB_ADMIN_USER=${new URL(sandbox.adminUrl).username}\nDELPHI_DB_ADMIN_PASSWORD=${decodeURIComponent(new URL(sandbox.adminUrl).password)}\n`, { mode: 0o600 });
    // What cron hands /bin/sh: the command ends at the first bare %, and \% is a %.
    let asCron = '';
    for (let i = 0; i < line.length; i++) {
      if (line[i] === '\\' && line[i + 1] === '%') asCron += line[++i];
      else if (line[i] === '%') break;
      else asCron += line[i];
    }
    const command = asCron.replaceAll('/etc/eos/', `${dir}/`);
    const cron = () =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        // cron's environment: a bare PATH and HOME, nothing of this shell's.
        const child = spawn('/bin/sh', ['-c', command], { env: { PATH: `${bin}:/usr/bin:/bin`, HOME: dir, XDG_CACHE_HOME: dir } });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        child.on('close', (code) => resolve({ code, out }));
      });
    const clean = await cron();
    expect(clean.out).toBe('');
    const pgAdmin = new pg.Client({ connectionString: sandbox.adminUrl });
    await pgAdmin.connect();
    const left = `v-token-delphi-r-CronCronCronCronCron-${Math.floor(Date.now() / 1000) - 3600}`;
    try {
      await pgAdmin.query(`CREATE ROLE "${left}" LOGIN VALID UNTIL '${new Date(Date.now() + 3_600_000).toISOString()}' IN ROLE delphi_readonly`);
      const found = await cron();
      expect(found.out).toMatch(new RegExp(`^HIGH orphan-role ${left} `, 'm'));
    } finally {
      await pgAdmin.query(`DROP ROLE IF EXISTS "${left}"`);
      await pgAdmin.end();
    }
  });
});

/** The sandbox's own audit device, summarised after a worker ran through rotations (issue 28). */
describe('eos self secrets audit --vault-audit-log on the sandbox', () => {
  let sandbox: Sandbox;
  let home: string;
  beforeAll(async () => {
    sandbox = await startSandbox({ ttl: 3, maxTtl: 6, sampleAlerts: 0, tls: false });
    home = mkdtempSync(path.join(tmpdir(), 'eos-audit-log-'));
  }, 120_000);
  afterAll(async () => {
    await sandbox?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it("counts the worker's credentials through rotations under exec, and the reader's refused request", async () => {
    const base = { HOME: home, VAULT_ADDR: sandbox.vaultAddr, EOS_CONFIG: sandbox.configFile };
    const worker = startEos(['self', 'secrets', 'exec', '--grace', '2s', '--', 'sh', '-c', 'sleep 600'], { env: { PATH: process.env.PATH, ...base, VAULT_TOKEN: sandbox.workerToken } });
    // TTL 3 s, max 6 s: a new lease every ~5 s.
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    worker.child.kill('SIGTERM');
    await worker.exited;
    const refused = await fetch(`${sandbox.vaultAddr}/v1/database/creds/delphi-worker`, { headers: { 'X-Vault-Token': sandbox.readerToken } });
    expect(refused.status).toBe(403);

    const r = await runEos(['self', 'secrets', 'audit', '--json', '--vault-audit-log', sandbox.auditLog], { env: { ...base, VAULT_TOKEN: sandbox.rootToken, DELPHI_DB_ADMIN_PASSWORD: sandbox.postgres.adminPassword } });
    expect(r.code, r.stderr).toBe(0);
    const roles = (JSON.parse(r.stdout) as { vaultAuditLog: { roles: { role: string; requests: number; issued: number; refused: number; byAccessor: unknown[] }[] } }).vaultAuditLog.roles;
    const w = roles.find((x) => x.role === 'delphi-worker');
    expect(w?.issued).toBeGreaterThanOrEqual(2); // the first lease and at least one rotation
    expect(w?.refused).toBe(1);
    expect(w?.requests).toBe((w?.issued ?? 0) + 1);
    expect(w?.byAccessor).toHaveLength(2); // the worker's token and the reader's
    // The log holds no secret in clear: not the tokens, not a password.
    const text = readFileSync(sandbox.auditLog, 'utf8');
    for (const secret of [sandbox.workerToken, sandbox.readerToken, sandbox.rootToken]) expect(text).not.toContain(secret);
  }, 60_000);
});
