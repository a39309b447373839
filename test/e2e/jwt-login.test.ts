import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { runEos as runCli, startEos } from '../helpers/cli.js';

/**
 * A worker that queries every 100 ms and counts what fails instead of stopping; on SIGHUP it
 * reconnects with the credentials eos keeps in EOS_DB_CREDENTIALS_FILE; on SIGTERM it prints
 * `summary ok=N failed=M`.
 */
const WORKER = `
import pg from 'pg';
import { readFileSync } from 'node:fs';
let client = new pg.Client({ connectionString: process.env.PG_DSN });
client.on('error', () => {});
await client.connect();
let ok = 0, failed = 0;
const timer = setInterval(() => {
  client.query('SELECT count(*) FROM alerts').then(() => ok++, (e) => { failed++; console.log('query failed ' + e.code + ' ' + e.message); });
}, 100);
process.on('SIGHUP', async () => {
  // The file's values are quoted for sh: bare, or in single quotes with ' written '\\''.
  const raw = /^PG_DSN=(.*)$/m.exec(readFileSync(process.env.EOS_DB_CREDENTIALS_FILE, 'utf8'))[1];
  const dsn = raw.startsWith("'") ? raw.slice(1, -1).split("'\\\\''").join("'") : raw;
  const next = new pg.Client({ connectionString: dsn });
  next.on('error', () => {});
  await next.connect();
  const old = client;
  client = next;
  setTimeout(() => old.end().catch(() => {}), 1000);
  console.log('reconnected');
});
process.on('SIGTERM', async () => { clearInterval(timer); await new Promise((r) => setTimeout(r, 300)); console.log('summary ok=' + ok + ' failed=' + failed); await client.end().catch(() => {}); process.exit(0); });
`;

/**
 * Logging in as the CI job or the pod itself: the sandbox's issuer rewrites the identity token
 * file every 10 s, the Vault token from each JWT login lives 8 s (max 16 s), and a worker runs
 * under `exec` for a minute (the same ratios as a site's hour-long tokens, on a test's time). The keeper logs in again with whatever token the file holds
 * then; the worker must not see one failed query, and the identity token must never show.
 */
describe('JWT login, end to end', () => {
  let sandbox: Sandbox;
  let home: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    sandbox = await startSandbox({ ttl: 60, maxTtl: 300, sampleAlerts: 10, jwtTokenTtl: 8, jwtTokenMaxTtl: 16, jwtRotateSeconds: 10 });
    home = mkdtempSync(path.join(tmpdir(), 'eos-jwt-'));
    env = { PATH: process.env.PATH, HOME: home, EOS_CONFIG: sandbox.configFile, EOS_LOG_FILE: path.join(home, 'eos.log') };
  }, 120_000);
  afterAll(async () => {
    await sandbox?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('configure --auth jwt proves the login and saves where the identity token is, never the token', async () => {
    const r = await runCli(['self', 'secrets', 'configure', '--auth', 'jwt', '--role', 'eos-worker', '--jwt-file', sandbox.jwt.file, '--yes', '--json'], { env: { ...env, VAULT_ADDR: sandbox.vaultAddr } });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { tokenTtl: number };
    expect(report).toMatchObject({ auth: 'jwt', verified: true, tokenPolicies: ['eos-delphi-worker'] });
    expect(report.tokenTtl).toBeGreaterThan(5);
    expect(report.tokenTtl).toBeLessThanOrEqual(8);
    const saved = JSON.parse(readFileSync(sandbox.configFile, 'utf8')) as { vault: { auth: unknown } };
    expect(saved.vault.auth).toEqual({ method: 'jwt', role: 'eos-worker', mount: 'jwt', identityToken: { from: 'file', path: sandbox.jwt.file } });
    expect(readFileSync(sandbox.configFile, 'utf8')).not.toContain('eyJ');
  });

  it('a refused identity token is one line naming the source and Vault\'s reason, exit 4', async () => {
    const r = await runCli(['self', 'secrets', 'configure', '--auth', 'jwt', '--role', 'eos-worker', '--jwt-env', 'STALE_ID_TOKEN', '--yes'], {
      env: { ...env, EOS_CONFIG: path.join(home, 'other.json'), VAULT_ADDR: sandbox.vaultAddr, STALE_ID_TOKEN: await sandbox.jwt.sign('sandbox-job', -300) },
    });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^error: Vault refused the identity token from \$STALE_ID_TOKEN for role eos-worker: error validating token: invalid expiration time \(exp\) claim: token is expired$/m);
    expect(r.stderr).not.toContain('eyJ');
  });

  it('exec keeps a worker on dynamic credentials for a minute of identity-token rotations and re-logins: 0 failed queries', async () => {
    const seenTokens = new Set<string>();
    const watch = setInterval(() => {
      try {
        seenTokens.add(readFileSync(sandbox.jwt.file, 'utf8').trim());
      } catch {
        // being replaced
      }
    }, 1000);
    onTestFinished(() => clearInterval(watch));

    const run = startEos(['self', 'secrets', 'exec', '--source', 'dynamic', '--on-rotate', 'signal:HUP', '--', process.execPath, '--input-type=module', '-e', WORKER], { env });

    await new Promise((resolve) => setTimeout(resolve, 60_000));
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    clearInterval(watch);
    const { stdout, stderr } = run.output;

    const summary = /summary ok=(\d+) failed=(\d+)/.exec(stdout);
    expect(summary, `${stdout}\n${stderr}`).not.toBeNull();
    expect(Number(summary?.[2]), stdout).toBe(0);
    expect(Number(summary?.[1])).toBeGreaterThan(400);

    const log = readFileSync(env.EOS_LOG_FILE as string, 'utf8');
    const relogins = log.split('\n').filter((line) => line.includes('"lease token-relogin"'));
    // A 16 s max TTL over 60 s: at least three logins after the first.
    expect(relogins.length).toBeGreaterThanOrEqual(3);
    // The file was rewritten (10 s) several times; none of its tokens ever showed.
    expect(seenTokens.size).toBeGreaterThanOrEqual(5);
    for (const token of seenTokens) {
      for (const text of [log, stdout, stderr]) expect(text).not.toContain(token);
    }
    expect(log).not.toContain('eyJ');
    const leases = ((await (await fetch(`${sandbox.vaultAddr}/__dev/leases`, { headers: { 'X-Vault-Token': sandbox.rootToken } })).json()) as { leases: unknown[] }).leases;
    expect(leases).toEqual([]);
  }, 120_000);
});
