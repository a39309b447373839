import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { CLI, REPO_ROOT, startEos } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * A stand-in for a Delphi worker: connects with PG_DSN, says who it is, writes an alert every
 * 200 ms when WRITE=1 (tagged with its database user), stops cleanly on SIGTERM.
 */
const WORKER = `
import pg from 'pg';
import { readFileSync } from 'node:fs';
let client = new pg.Client({ connectionString: process.env.PG_DSN });
client.on('error', () => {});
await client.connect();
const { rows } = await client.query('SELECT current_user AS u');
console.log('connected as ' + rows[0].u + ' password ' + process.env.PGPASSWORD);
let n = 0;
const timer = setInterval(() => {
  if (process.env.WRITE !== '1') return;
  client.query("INSERT INTO alerts (alert_hash, agent_id, rule_id, rule_level, rule_desc, raw) VALUES ($1, 'agent-1', 1, 3, current_user, '{}')", [process.pid + '-' + n++]).catch((e) => { console.log('write failed ' + e.code); process.exit(3); });
}, 200);
// Signalled: re-read the credentials eos keeps in EOS_DB_CREDENTIALS_FILE and reconnect.
process.on('SIGHUP', async () => {
  // The file's values are quoted for sh: bare, or in single quotes with ' written '\\''.
  const raw = /^PG_DSN=(.*)$/m.exec(readFileSync(process.env.EOS_DB_CREDENTIALS_FILE, 'utf8'))[1];
  const dsn = raw.startsWith("'") ? raw.slice(1, -1).split("'\\\\''").join("'") : raw;
  const next = new pg.Client({ connectionString: dsn });
  next.on('error', () => {});
  await next.connect();
  const old = client;
  client = next;
  old.end().catch(() => {});
  const { rows } = await client.query('SELECT current_user AS u');
  console.log('hup reconnected as ' + rows[0].u);
});
process.on('SIGTERM', async () => { clearInterval(timer); await client.end(); console.log('stopped'); process.exit(0); });
if (process.env.EXIT_AFTER) setTimeout(() => process.exit(Number(process.env.EXIT_CODE)), Number(process.env.EXIT_AFTER));
`;

interface Run {
  stdout: string;
  stderr: string;
  code: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

describe('eos self secrets exec, with a worker child process', () => {
  let sandbox: Sandbox;
  let admin: pg.Client;
  let home: string;
  let env: NodeJS.ProcessEnv;

  const exec = (args: string[], extra: NodeJS.ProcessEnv = {}): Run => {
    const child = spawn(process.execPath, [CLI, 'self', 'secrets', 'exec', ...args, '--', process.execPath, '--input-type=module', '-e', WORKER], {
      cwd: REPO_ROOT,
      env: { ...env, ...extra },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run: Run = {
      stdout: '',
      stderr: '',
      code: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
      kill: (signal) => child.kill(signal),
    };
    child.stdout.on('data', (d) => (run.stdout += d));
    child.stderr.on('data', (d) => (run.stderr += d));
    // A failed assertion must not leave eos and its worker running.
    onTestFinished(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    return run;
  };
  const users = (out: string) => [...out.matchAll(/^connected as (\S+)/gm)].map((m) => m[1] as string);
  const workerMembers = async () =>
    (await admin.query(`SELECT count(*)::int AS n FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE g.rolname = 'delphi_worker'`)).rows[0].n as number;
  const leases = async () => ((await (await fetch(`${sandbox.vaultAddr}/__dev/leases`, { headers: { 'X-Vault-Token': sandbox.rootToken } })).json()) as { leases: unknown[] }).leases.length;

  beforeAll(async () => {
    sandbox = await startSandbox({ ttl: 3, maxTtl: 8, sampleAlerts: 0 });
    admin = new pg.Client({ connectionString: sandbox.adminUrl });
    await admin.connect();
    await admin.query(`INSERT INTO agents (id, name, registered) VALUES ('agent-1', 'web-1', now())`);
    home = mkdtempSync(path.join(tmpdir(), 'eos-exec-'));
    env = { PATH: process.env.PATH, HOME: home, EOS_CONFIG: sandbox.configFile, VAULT_TOKEN: sandbox.workerToken, EOS_LOG_FILE: path.join(home, 'eos.log') };
  });
  afterAll(async () => {
    await admin?.end();
    await sandbox?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('runs the worker with the worker role, restarts it with new credentials on each rotation, and SIGTERM leaves nothing behind', async () => {
    const run = exec(['--grace', '5s'], { WRITE: '1' });
    // TTL 3 s / max 8 s: a rotation about every 6 s.
    await expect.poll(() => users(run.stdout).length, { timeout: 30_000, interval: 200 }).toBeGreaterThanOrEqual(3);
    const seen = users(run.stdout);
    expect(new Set(seen).size).toBe(seen.length);
    for (const user of seen) expect(user).toMatch(/^v-token-eo-delphi-w-/);
    expect(run.stdout.match(/^stopped$/gm)?.length).toBeGreaterThanOrEqual(2);

    // Credentials only in the environment: never on a command line, never in the log.
    const passwords = [...run.stdout.matchAll(/ password (\S+)/g)].map((m) => m[1] as string);
    // The check below is only worth something if it has the worker's passwords to look for.
    expect(passwords.length).toBeGreaterThanOrEqual(3);
    for (const pw of passwords) expect(pw).toMatch(/^[A-Za-z0-9-]{20}$/);
    const cmdlines = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8');
      } catch {
        return '';
      }
    });
    for (const pw of passwords) expect(cmdlines.some((c) => c.includes(pw))).toBe(false);

    run.kill('SIGTERM');
    expect(await run.code).toBe(0);
    const log = readFileSync(env.EOS_LOG_FILE as string, 'utf8');
    for (const pw of passwords) expect(log).not.toContain(pw);
    expect(log).toMatch(/worker restarted with new credentials/);

    // Every restart wrote with its own credentials; after the stop no role and no lease remain.
    const writers = (await admin.query(`SELECT DISTINCT rule_desc FROM alerts`)).rows.map((r) => r.rule_desc as string);
    expect(writers.length).toBeGreaterThanOrEqual(2);
    const allUsers = users(run.stdout); // the worker may have been restarted once more meanwhile
    expect(writers.every((w) => allUsers.includes(w))).toBe(true);
    expect(await workerMembers()).toBe(0);
    expect(await leases()).toBe(0);
  }, 60_000);

  it('env prints the variables masked, reveals them on request, and keeps the lease with --keep', async () => {
    const { runCli } = await import('../helpers/cli.js');
    const masked = await runCli(['self', 'secrets', 'env', '--format', 'json'], { env });
    expect(masked.code).toBe(0);
    const vars = JSON.parse(masked.stdout);
    expect(vars).toMatchObject({ PGPASSWORD: '********', PGDATABASE: 'delphi', source: 'dynamic', lease: null });
    expect(vars.PG_DSN).toMatch(/^postgresql:\/\/v-token-eo-delphi-w-[^:]+:\*{8}@/);
    expect(masked.stderr).toMatch(/lease revoked at exit/);
    expect(await leases()).toBe(0);

    const useless = await runCli(['self', 'secrets', 'env', '--reveal'], { env });
    expect(useless.code).toBe(2);
    expect(useless.stderr).toMatch(/^error: --reveal without --keep would print dynamic credentials that are revoked when env exits$/m);
    expect(useless.stderr).toMatch(/^hint: add --keep .*eos self secrets exec/m);
    expect(useless.stdout).toBe('');
    expect(await leases()).toBe(0);

    const kept = await runCli(['self', 'secrets', 'env', '--format', 'shell', '--reveal', '--keep'], { env });
    expect(kept.code).toBe(0);
    expect(kept.stderr).toMatch(/^warning: printing the password in clear \(--reveal\)$/m);
    const password = /^export PGPASSWORD='?([^'\n]+)'?$/m.exec(kept.stdout)?.[1] as string;
    expect(password).toMatch(/^[A-Za-z0-9-]{20}$/);
    const leaseId = /^lease kept: (\S+) \(TTL 3 s\)/m.exec(kept.stderr)?.[1] as string;
    expect(leaseId).toMatch(/^database\/creds\/delphi-worker\//);
    expect(await leases()).toBe(1);
    // The kept lease is nobody's now: no state file claims a running process holds it.
    const stateDir = path.join(home, '.local', 'state', 'eos', 'leases');
    expect(existsSync(stateDir) ? readdirSync(stateDir) : []).toEqual([]);
    expect(readFileSync(env.EOS_LOG_FILE as string, 'utf8')).not.toContain(password);
    await fetch(`${sandbox.vaultAddr}/v1/sys/leases/revoke`, { method: 'PUT', headers: { 'X-Vault-Token': sandbox.rootToken }, body: JSON.stringify({ lease_id: leaseId }) });
  });

  it('SIGKILL of eos: the worker and its children are gone within seconds, and the role after its TTL', async () => {
    // A worker that started a child of its own, and reports both pids.
    const child = spawn(process.execPath, [CLI, 'self', 'secrets', 'exec', '--', 'sh', '-c', 'sleep 600 & echo "pids $$ $!"; wait'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onTestFinished(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await expect.poll(() => /^pids (\d+) (\d+)$/m.test(out), { timeout: 15_000 }).toBe(true);
    const [, shell, sleeper] = /^pids (\d+) (\d+)$/m.exec(out) as RegExpExecArray;
    const alive = (pid: string) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
    expect(alive(shell as string) && alive(sleeper as string)).toBe(true);
    expect(await workerMembers()).toBe(1);

    child.kill('SIGKILL'); // no clean-up of its own is possible
    await expect.poll(() => alive(shell as string) || alive(sleeper as string), { timeout: 3_000, interval: 100 }).toBe(false);
    // The lease was not revoked (eos could not): Vault expires it at its TTL (3 s), and the role goes with it.
    await expect.poll(() => workerMembers(), { timeout: 15_000, interval: 250 }).toBe(0);
  }, 40_000);

  it('hands the worker its database credentials and none of eos\'s own secrets (Vault tokens, the admin password, a CI identity), but what --pass-env names', async () => {
    const withheld = {
      BAO_TOKEN: 'bao-token-x1',
      DELPHI_DB_ADMIN_PASSWORD: 'admin-password-x2',
      DELPHI_DB_PASSWORD: 'static-password-x3',
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'gh-request-token-x4',
      EOS_SANDBOX_ROOT_TOKEN: 'root-token-x5',
    };
    const run = startEos(['self', 'secrets', 'exec', '--pass-env', 'ACTIONS_ID_TOKEN_REQUEST_URL', '--', 'env'], {
      env: { ...env, ...withheld, ACTIONS_ID_TOKEN_REQUEST_URL: 'http://oidc.example/x6', UNRELATED_SETTING: 'kept-x7' },
    });
    const code = await run.exited;
    const { stdout } = run.output;
    expect(code, run.output.stderr).toBe(0);
    const seen = new Map(stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    for (const name of ['PG_DSN', 'PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGPASSWORD', 'PGSSLMODE']) expect(seen.has(name), name).toBe(true);
    expect(seen.get('PGUSER')).toMatch(/^v-/);
    // eos's own token (VAULT_TOKEN, which it logged in with) and every other withheld one: gone.
    for (const name of ['VAULT_TOKEN', ...Object.keys(withheld)]) expect(seen.has(name), name).toBe(false);
    for (const value of [sandbox.workerToken, ...Object.values(withheld)]) expect(stdout).not.toContain(value);
    // The rest of the environment is the worker's, and --pass-env keeps what it names.
    expect(seen.get('UNRELATED_SETTING')).toBe('kept-x7');
    expect(seen.get('ACTIONS_ID_TOKEN_REQUEST_URL')).toBe('http://oidc.example/x6');
    expect(await leases()).toBe(0);
  }, 30_000);

  it('an uncaught error inside eos still stops the worker, revokes the lease and removes its files: one error line, exit 1', async () => {
    // A timer in eos's own process throws, as a bug would: nothing in eos catches it.
    const dir = tempDir();
    const inject = path.join(dir, 'crash.mjs');
    writeFileSync(inject, "setTimeout(() => { throw new Error('forced internal failure'); }, 2500);\n");
    const tmp = path.join(dir, 'tmp');
    mkdirSync(tmp);
    const before = await leases();
    const run = startEos(['self', 'secrets', 'exec', '--on-rotate', 'signal:HUP', '--', 'sh', '-c', 'echo "worker $$"; exec sleep 600'], {
      env: { ...env, TMPDIR: tmp },
      nodeArgs: ['--import', pathToFileURL(inject).href],
    });
    await expect.poll(() => run.output.stdout, { timeout: 10_000 }).toMatch(/^worker \d+$/m);
    expect(await leases()).toBe(before + 1);
    expect(readdirSync(tmp).filter((f) => f.startsWith('eos-exec-'))).toHaveLength(1);
    const worker = Number(/^worker (\d+)$/m.exec(run.output.stdout)?.[1]);

    expect(await run.exited).toBe(1);
    const { stderr } = run.output;
    expect(stderr).toMatch(/^error: unexpected failure: forced internal failure$/m);
    expect(stderr).not.toMatch(/^\s+at /m); // no stack trace without --debug
    expect(await leases()).toBe(before);
    expect(readdirSync(tmp)).toEqual([]);
    expect(() => process.kill(worker, 0)).toThrow();
  }, 30_000);

  it('a command that cannot run: 127 when missing, 126 when not executable, 2 when none is given; no lease either way', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [CLI, 'self', 'secrets', 'exec', ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        child.on('exit', (code) => resolve({ code, stderr }));
      });
    const missing = await run(['--', '/no/such/cmd']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/^error: cannot run "\/no\/such\/cmd": not found$/m);
    const notOnPath = await run(['--', 'eos-no-such-worker']);
    expect(notOnPath.code).toBe(127);
    expect(notOnPath.stderr).toMatch(/^hint: no "eos-no-such-worker" in PATH/m);
    const script = path.join(home, 'worker.sh');
    writeFileSync(script, '#!/bin/sh\necho hi\n', { mode: 0o644 });
    const notExecutable = await run(['--', script]);
    expect(notExecutable.code).toBe(126);
    expect(notExecutable.stderr).toMatch(/^error: cannot run ".*worker\.sh": not executable$/m);
    const none = await run([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/missing required argument 'command'/);
    expect(await leases()).toBe(0);
  });

  it('when no credentials can be had, the signal mode\'s private directory is removed too (exit 3)', async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'eos-exec-tmp-'));
    onTestFinished(() => rmSync(tmp, { recursive: true, force: true }));
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'self', 'secrets', 'exec', '--on-rotate', 'signal:HUP', '--source', 'dynamic', '--', 'true'], {
        cwd: REPO_ROOT,
        env: { ...env, TMPDIR: tmp, VAULT_ADDR: 'http://127.0.0.1:1', VAULT_MAX_RETRIES: '0' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^error: dynamic: Vault unreachable: /m);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('exits with the worker\'s exit code and revokes the lease', async () => {
    const run = exec([], { EXIT_AFTER: '500', EXIT_CODE: '7' });
    expect(await run.code).toBe(7);
    expect(users(run.stdout)).toHaveLength(1);
    expect(await workerMembers()).toBe(0);
    expect(await leases()).toBe(0);
  }, 30_000);

  it('sends the chosen signal on rotation instead of restarting; the worker finds the new credentials in its file', async () => {
    const run = exec(['--on-rotate', 'signal:HUP']);
    await expect.poll(() => run.stdout, { timeout: 20_000, interval: 200 }).toMatch(/^hup reconnected as v-token-eo-delphi-w-/m);
    expect(users(run.stdout)).toHaveLength(1); // one process, never restarted
    const reconnectedAs = /^hup reconnected as (\S+)/m.exec(run.stdout)?.[1];
    expect(reconnectedAs).not.toBe(users(run.stdout)[0]);
    run.kill('SIGTERM');
    expect(await run.code).toBe(0);
    expect(await workerMembers()).toBe(0);
  }, 30_000);

  it('with Vault down and --source dynamic,env, starts the worker with the environment\'s DSN and says so', async () => {
    const password = ((await (await fetch(`${sandbox.vaultAddr}/v1/secret/data/delphi/database/password`, { headers: { 'X-Vault-Token': sandbox.rootToken } })).json()) as { data: { data: { value: string } } }).data.data.value;
    const dsn = `postgresql://delphi_static:${encodeURIComponent(password)}@${sandbox.postgres.host}:${sandbox.postgres.port}/delphi?sslmode=disable`;
    const run = exec(['--source', 'dynamic,env'], { VAULT_ADDR: 'http://127.0.0.1:1', VAULT_MAX_RETRIES: '0', PG_DSN: dsn });
    await expect.poll(() => users(run.stdout), { timeout: 20_000 }).toEqual(['delphi_static']);
    expect(run.stderr).toMatch(/^warning: credential source dynamic skipped: Vault unreachable: Vault at http:\/\/127\.0\.0\.1:1 is unreachable/m);
    expect(run.stderr).toMatch(/^warning: the worker runs with env credentials, not dynamic ones$/m);
    run.kill('SIGTERM');
    expect(await run.code).toBe(0);
    const log = readFileSync(env.EOS_LOG_FILE as string, 'utf8');
    expect(log).toMatch(/"source":"dynamic".*"msg":"credential source skipped"/);
    expect(log).not.toContain(password);
  }, 30_000);
});
