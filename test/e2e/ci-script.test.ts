import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applySchema } from '../../src/delphi/schema.js';
import { startPostgresCluster, type PostgresCluster } from '../../src/sandbox/postgres.js';
import { startVaultDevServer, type VaultDevServer } from '../../src/sandbox/vault-dev-server/server.js';
import { CLI, hasAnsi, REPO_ROOT } from '../helpers/cli.js';
import { assertFitsSchema } from '../helpers/json-schemas.js';

const CI_DOC = readFileSync(path.join(REPO_ROOT, 'docs', 'ci.md'), 'utf8');

/** The script between the markers in docs/ci.md, exactly as printed there. */
function scriptFromDocs(): string {
  const block = /<!-- ci-script:begin -->\n```bash\n([\s\S]*?)```\n<!-- ci-script:end -->/.exec(CI_DOC)?.[1];
  if (!block) throw new Error('docs/ci.md has no script between <!-- ci-script:begin --> and <!-- ci-script:end -->');
  return block;
}

/** The set-up role's policy, the first HCL block of docs/ci.md. */
function setupPolicyFromDocs(): string {
  const block = /```hcl\n([\s\S]*?)```/.exec(CI_DOC)?.[1];
  if (!block) throw new Error('docs/ci.md has no hcl block');
  return block;
}

/**
 * docs/ci.md's script, run verbatim as a CI job runs it: no terminal, stdin closed, CI=true,
 * logging in as the job (GitLab's $VAULT_ID_TOKEN, GitHub's OIDC token service) or with
 * AppRole, always with the documented set-up policy and secrets only in the environment —
 * against a fresh dev server and a PostgreSQL of its own (the group roles are cluster-wide).
 */
describe('the CI set-up script of docs/ci.md', () => {
  let vault: VaultDevServer;
  let postgres: PostgresCluster;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let secretId: string;
  let roleId: string;
  let dbUrl: string;
  let signIdentity: (aud: string) => Promise<string>;
  let github: Server;
  let githubUrl: string;
  const issued: string[] = [];

  const call = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${vault.addr}/v1/${p}`, { method, headers: { 'X-Vault-Token': vault.rootToken }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (res.status >= 400) throw new Error(`${method} ${p}: ${res.status} ${text}`);
    return (text === '' ? { data: {} } : JSON.parse(text)) as { data: Record<string, string> };
  };

  beforeAll(async () => {
    vault = await startVaultDevServer();
    postgres = await startPostgresCluster();
    dbUrl = await postgres.createDatabase('delphi');
    const admin = new pg.Client({ connectionString: dbUrl });
    await admin.connect();
    await applySchema(admin);
    await admin.end();

    // What a Vault admin did once, as docs/ci.md shows it.
    await call('POST', 'sys/mounts/secret', { type: 'kv-v2' });
    await call('PUT', 'sys/policies/acl/eos-delphi-setup', { policy: setupPolicyFromDocs() });
    await call('POST', 'sys/auth/approle', { type: 'approle' });
    await call('POST', 'auth/approle/role/delphi-ci', { token_policies: 'eos-delphi-setup', token_ttl: '15m', token_max_ttl: '30m' });
    roleId = (await call('GET', 'auth/approle/role/delphi-ci/role-id')).data.role_id as string;
    secretId = (await call('POST', 'auth/approle/role/delphi-ci/secret-id', {})).data.secret_id as string;

    // The CI platform's issuer, and Vault's jwt method trusting it (as docs/ci.md sets it up).
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    signIdentity = async (aud) => {
      const token = await new SignJWT({ sub: 'project_path:delphi/site:ref_type:branch:ref:main', project_path: 'delphi/site', ref: 'main' })
        .setProtectedHeader({ alg: 'RS256' })
        .setIssuer('https://ci.example')
        .setAudience(aud)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey as CryptoKey);
      issued.push(token);
      return token;
    };
    await call('POST', 'sys/auth/jwt', { type: 'jwt' });
    await call('POST', 'auth/jwt/config', { jwt_validation_pubkeys: [await exportSPKI(publicKey)], bound_issuer: 'https://ci.example' });
    await call('POST', 'auth/jwt/role/delphi-ci', {
      role_type: 'jwt',
      user_claim: 'sub',
      bound_audiences: ['https://vault.example.com', 'https://github.com/delphi-org'],
      bound_claims: { project_path: 'delphi/site' },
      token_policies: 'eos-delphi-setup',
      token_ttl: '15m',
      token_max_ttl: '30m',
    });
    // GitHub's token service as a runner sees it: a URL and a bearer token in the environment.
    github = createServer((req, res) => {
      const audience = new URL(req.url ?? '/', 'http://x').searchParams.get('audience') ?? '';
      if (req.headers.authorization !== 'Bearer runner-request-token') return void res.writeHead(401).end();
      void signIdentity(audience).then((value) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ value })));
    });
    await new Promise<void>((resolve) => github.listen(0, '127.0.0.1', resolve));
    githubUrl = `http://127.0.0.1:${(github.address() as AddressInfo).port}/token?api-version=2.0`;

    dir = mkdtempSync(path.join(tmpdir(), 'eos-ci-'));
    chmodSync(dir, 0o755);
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'eos'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`, { mode: 0o755 });
    writeFileSync(path.join(dir, 'eos-ci-setup.sh'), scriptFromDocs(), { mode: 0o755 });
    env = {
      PATH: `${bin}:${process.env.PATH}`,
      HOME: path.join(dir, 'home'),
      TMPDIR: dir,
      VAULT_ADDR: vault.addr,
      EOS_JWT_ROLE: 'delphi-ci',
      DELPHI_DB_HOST: postgres.host,
      DELPHI_DB_PORT: String(postgres.port),
      DELPHI_DB_NAME: 'delphi',
      DELPHI_DB_SSLMODE: 'disable',
      DELPHI_DB_ADMIN_USER: postgres.adminUser,
      DELPHI_DB_ADMIN_PASSWORD: postgres.adminPassword,
      EOS_LOG_FILE: path.join(dir, 'eos.log'),
    };
  }, 120_000);
  afterAll(async () => {
    await new Promise((resolve) => github?.close(resolve));
    await vault?.stop();
    await postgres?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the script with stdin closed and no terminal; returns its exit code and output. */
  function runScript(out: string, login: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn('bash', [path.join(dir, 'eos-ci-setup.sh')], { cwd: dir, env: { ...env, ...login, EOS_CI_OUT: out }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  const report = (out: string, name: string) => JSON.parse(readFileSync(path.join(out, `${name}.json`), 'utf8')) as Record<string, unknown>;
  const SCHEMA: Record<string, string> = { configure: 'configure', 'db-config': 'db-config', 'db-engine': 'db-engine', test: 'test', status: 'status' };

  const gitlab = async () => ({ VAULT_ID_TOKEN: await signIdentity('https://vault.example.com') });

  it('sets up the site from nothing, logged in with GitLab\'s identity token, and passes the gate: exit 0, every step\'s JSON fits its schema, no secret or escape anywhere', async () => {
    const out = path.join(dir, 'first');
    const run = await runScript(out, await gitlab());
    expect(run.code, `${run.stdout}${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/^eos-ci-setup: Vault, the engine and the database answer; details in /m);
    expect(readdirSync(out).sort()).toEqual(['configure.json', 'db-config.json', 'db-engine.json', 'status.json', 'test.json']);
    for (const [name, schema] of Object.entries(SCHEMA)) assertFitsSchema(schema, report(out, name));

    expect(report(out, 'configure')).toMatchObject({ auth: 'jwt', verified: true, tokenPolicies: ['default', 'eos-delphi-setup'] });
    expect(report(out, 'db-config')).toMatchObject({ host: postgres.host, port: postgres.port, database: 'delphi', sslmode: 'disable', storedIn: ['vault', 'local'] });
    expect((report(out, 'db-engine') as { changed: number }).changed).toBeGreaterThanOrEqual(7);
    expect(report(out, 'test')).toMatchObject({ ok: true });
    expect(report(out, 'status')).toMatchObject({ wouldUse: 'dynamic', exitCode: 0 });

    // Nothing secret in argv's stead: not in the output, the reports or the log; no ANSI escape.
    const texts = [run.stdout, run.stderr, readFileSync(env.EOS_LOG_FILE as string, 'utf8'), ...readdirSync(out).map((f) => readFileSync(path.join(out, f), 'utf8'))];
    for (const text of texts) {
      for (const token of issued) expect(text).not.toContain(token);
      expect(text).not.toContain(postgres.adminPassword);
      expect(hasAnsi(text)).toBe(false);
    }
  }, 120_000);

  it('logs in with GitHub Actions\' OIDC token, asked for with the audience the role is bound to', async () => {
    const before = issued.length;
    const run = await runScript(path.join(dir, 'github'), { ACTIONS_ID_TOKEN_REQUEST_URL: githubUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner-request-token', EOS_JWT_AUDIENCE: 'https://github.com/delphi-org' });
    expect(run.code, `${run.stdout}${run.stderr}`).toBe(0);
    expect(report(path.join(dir, 'github'), 'test')).toMatchObject({ ok: true });
    // Each eos step logged in afresh, each with a token of its own.
    expect(issued.length - before).toBeGreaterThanOrEqual(5);
    for (const token of issued) expect(`${run.stdout}${run.stderr}`).not.toContain(token);
  }, 120_000);

  it('logs in with AppRole where the CI system has no identity tokens; the secret-id file goes with the script', async () => {
    const out = path.join(dir, 'approle');
    const run = await runScript(out, { VAULT_ROLE_ID: roleId, VAULT_SECRET_ID: secretId });
    expect(run.code, `${run.stdout}${run.stderr}`).toBe(0);
    expect(report(out, 'configure')).toMatchObject({ auth: 'approle', verified: true });
    for (const f of readdirSync(out)) expect(readFileSync(path.join(out, f), 'utf8')).not.toContain(secretId);
    expect(readFileSync(env.EOS_LOG_FILE as string, 'utf8')).not.toContain(secretId);
    expect(readdirSync(dir).filter((f) => f.startsWith('tmp.'))).toEqual([]);
  }, 120_000);

  it('fails the gate with exit 1 at test, the failing check in test.json, when the engine has drifted', async () => {
    // Someone granted the read-only group a write: apply only adds what is missing, so the
    // set-up still succeeds, and the gate must catch it.
    const admin = new pg.Client({ connectionString: dbUrl });
    await admin.connect();
    await admin.query('GRANT INSERT ON alerts TO delphi_readonly');
    await admin.end();

    const out = path.join(dir, 'drifted');
    const run = await runScript(out, await gitlab());
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^eos-ci-setup: 'test' failed with exit code 1; see .*test\.json$/m);
    expect(readdirSync(out).sort()).toEqual(['configure.json', 'db-config.json', 'db-engine.json', 'test.json']);
    const test = report(out, 'test') as { ok: boolean; steps: { id: string; status: string; detail?: string }[] };
    assertFitsSchema('test', test);
    expect(test.ok).toBe(false);
    expect(test.steps.find((s) => s.status === 'fail')).toMatchObject({ id: 'access', detail: expect.stringMatching(/could write \(INSERT into alerts succeeded, rolled back\)/) });
    expect((report(out, 'db-engine') as { changed: number }).changed).toBe(0);
  }, 120_000);

  it('stops at configure with exit 2 and a JSON error when a variable is missing', async () => {
    const out = path.join(dir, 'missing');
    // A fresh runner: no configuration saved by an earlier run to take the role-id from.
    const saved = { home: env.HOME };
    env.HOME = path.join(dir, 'fresh-home');
    try {
      // Neither identity token nor AppRole role-id: the AppRole path, missing its role-id.
      const run = await runScript(out, { VAULT_SECRET_ID: secretId });
      expect(run.code).toBe(2);
      const error = report(out, 'configure');
      assertFitsSchema('configure', error);
      expect(error).toEqual({ schemaVersion: 1, error: { message: '--role-id is required with --auth approle', hint: expect.stringContaining('$VAULT_ROLE_ID') }, exitCode: 2 });
    } finally {
      env.HOME = saved.home;
    }
  }, 60_000);
});
