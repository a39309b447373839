import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVaultDevServer, type VaultDevServer } from '../../src/sandbox/vault-dev-server/server.js';
import { CLI, runEos as runCli } from '../helpers/cli.js';
import { clusterInfo, freshDatabase } from '../helpers/pg.js';

/**
 * The seed's set-up, from nothing, as an operator runs it: configure, set delphi-db-config,
 * set delphi-db-engine --apply, test, status — against the dev server and a fresh database.
 */
describe('setting up the engine from nothing, then test and status', () => {
  let vault: VaultDevServer;
  let db: { name: string; url: string };
  let home: string;
  let env: NodeJS.ProcessEnv;
  const { adminPassword, port } = clusterInfo();
  const leases = async () => ((await (await fetch(`${vault.addr}/__dev/leases`, { headers: { 'X-Vault-Token': vault.rootToken } })).json()) as { leases: { id: string }[] }).leases;
  const http = (method: string, p: string, body?: unknown) =>
    fetch(`${vault.addr}/v1/${p}`, { method, headers: { 'X-Vault-Token': vault.rootToken }, body: body === undefined ? undefined : JSON.stringify(body) });
  const eos = (args: string[], extra: NodeJS.ProcessEnv = {}) => runCli(args, { env: { ...env, ...extra } });

  beforeAll(async () => {
    vault = await startVaultDevServer();
    // A Vault dev server comes with KV v2 at secret/; nothing else is set up.
    await http('POST', 'sys/mounts/secret', { type: 'kv-v2' });
    db = await freshDatabase({ schema: true });
    home = mkdtempSync(path.join(tmpdir(), 'eos-engine-'));
    env = { HOME: home, XDG_STATE_HOME: path.join(home, 'state'), EOS_LOG_FILE: path.join(home, 'eos.log'), VAULT_TOKEN: vault.rootToken };
    const configured = await eos(['self', 'secrets', 'configure', '--addr', vault.addr, '--yes']);
    expect(configured.code).toBe(0);
  });
  afterAll(async () => {
    await vault?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('stores the database location, applies the engine, and test passes every step; a second apply changes nothing', async () => {
    const config = await eos(['self', 'secrets', 'set', 'delphi-db-config', '--host', '127.0.0.1', '--port', String(port), '--database', db.name, '--sslmode', 'disable']);
    expect(config.code).toBe(0);
    expect(config.stderr).toMatch(/warning: sslmode=disable/);
    const host = (await (await http('GET', 'secret/data/delphi/config/host')).json()) as { data: { data: { value: string } } };
    expect(host.data.data.value).toBe('127.0.0.1');

    const adminEnv = { DELPHI_DB_ADMIN_PASSWORD: adminPassword, DELPHI_DB_ADMIN_USER: 'postgres' };
    const applied = await eos(['self', 'secrets', 'set', 'delphi-db-engine', '--apply', '--default-ttl', '5m', '--max-ttl', '1h', '--json'], adminEnv);
    expect(applied.code, applied.stderr).toBe(0);
    const first = JSON.parse(applied.stdout) as { steps: { step: string; status: string }[]; changed: number };
    expect(first.steps.map((s) => `${s.step}: ${s.status}`)).toEqual([
      'mount database/: created',
      'group role delphi_readonly: created',
      'group role delphi_worker: created',
      'connection delphi-postgresql: created',
      'role delphi-readonly: created',
      'role delphi-worker: created',
      'policy eos-delphi-reader: created',
      'policy eos-delphi-worker: created',
      'policy eos-delphi-auditor: created',
      'test read database/creds/delphi-readonly: checked',
    ]);

    // Each user the engine makes carries this Vault's marker (the audit's --fix drops only those).
    const { cluster_id } = (await (await http('GET', 'sys/health')).json()) as { cluster_id: string };
    const definition = (await (await http('GET', 'database/roles/delphi-worker')).json()) as { data: { creation_statements: string[] } };
    expect(definition.data.creation_statements).toContain(`COMMENT ON ROLE "{{name}}" IS 'eos:${cluster_id}/database/delphi-postgresql/delphi-worker';`);

    const test = await eos(['self', 'secrets', 'test', '--json']);
    const report = JSON.parse(test.stdout) as { ok: boolean; steps: { id: string; status: string; detail?: string }[] };
    expect(report.steps.filter((s) => s.status !== 'pass' && s.status !== 'info')).toEqual([]);
    expect(report.steps.map((s) => s.id)).toEqual(['vault', 'token', 'grants', 'engine', 'role', 'issue', 'connect', 'tls', 'select', 'access', 'renew', 'revoke', 'role-gone', 'fallbacks']);
    expect(report.steps.find((s) => s.id === 'access')?.detail).toMatch(/^INSERT into alerts and CREATE TABLE refused with 42501/);
    // On this machine, plain connections are said, not warned (nothing crosses a network).
    expect(report.steps.find((s) => s.id === 'tls')).toMatchObject({ status: 'pass', detail: 'Vault plain HTTP; PostgreSQL unencrypted (sslmode=disable)' });
    expect(test.code).toBe(0);

    // The worker role is proven the other way round: it writes alerts, and still may not run DDL.
    const worker = await eos(['self', 'secrets', 'test', '--role', 'delphi-worker', '--json']);
    const workerReport = JSON.parse(worker.stdout) as { ok: boolean; steps: { id: string; status: string; title: string; detail?: string }[] };
    expect(worker.code, worker.stdout).toBe(0);
    expect(workerReport.steps.find((s) => s.id === 'access')).toMatchObject({ status: 'pass', title: 'writes alerts, no DDL (worker role)', detail: expect.stringMatching(/^INSERT into alerts allowed, CREATE TABLE refused with 42501/) });

    const again = await eos(['self', 'secrets', 'set', 'delphi-db-engine', '--apply', '--default-ttl', '5m', '--max-ttl', '1h'], adminEnv);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^no changes: the engine is already set up$/m);
    expect(await leases()).toEqual([]);

    // Secrets stayed out of every output and the log.
    for (const text of [config.stdout, config.stderr, applied.stdout, applied.stderr, test.stdout, again.stdout, readFileSync(env.EOS_LOG_FILE as string, 'utf8')]) {
      expect(text).not.toContain(adminPassword);
      expect(text).not.toContain(vault.rootToken);
    }
  });

  it("test --role delphi-worker proves a worker cannot write eos's tables, and fails the step when it can", async () => {
    // eos installed after the engine: the apply grants its schema to the groups that read alerts.
    const applied = await eos(['delphi', 'schema', 'apply'], { DELPHI_DB_ADMIN_PASSWORD: adminPassword, DELPHI_DB_ADMIN_USER: 'postgres' });
    expect(applied.code, applied.stderr).toBe(0);
    const worker = async () => {
      const r = await eos(['self', 'secrets', 'test', '--role', 'delphi-worker', '--json']);
      return { code: r.code, access: (JSON.parse(r.stdout) as { steps: { id: string; status: string; detail?: string }[] }).steps.find((s) => s.id === 'access') };
    };
    const fine = await worker();
    expect(fine.code, JSON.stringify(fine.access)).toBe(0);
    expect(fine.access).toMatchObject({ status: 'pass', detail: expect.stringMatching(/; eos's tables read-only$/) });

    // A grant that lets workers forge the dashboard's counts.
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      // public opened to everyone, as PostgreSQL 14 has it: the worker itself may create there.
      await admin.query('GRANT CREATE ON SCHEMA public TO PUBLIC');
      const open = await worker();
      await admin.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
      expect(open.code).toBe(1);
      expect(open.access).toMatchObject({ status: 'fail', detail: expect.stringMatching(/may change the schema \(CREATE TABLE succeeded, rolled back\)$/), hint: 'as the database admin: REVOKE CREATE ON SCHEMA public FROM PUBLIC' });
      // Opened to another role only: this one is fine, the database is not; a warning with the fix.
      await admin.query('CREATE ROLE eos_test_creator NOLOGIN');
      await admin.query('GRANT CREATE ON SCHEMA public TO eos_test_creator');
      const other = await worker();
      await admin.query('REVOKE CREATE ON SCHEMA public FROM eos_test_creator');
      await admin.query('DROP ROLE eos_test_creator');
      expect(other.code).toBe(0);
      expect(other.access).toMatchObject({ status: 'warn', detail: expect.stringMatching(/but the schema public lets eos_test_creator create objects/), hint: 'as the database admin: REVOKE CREATE ON SCHEMA public FROM eos_test_creator' });

      await admin.query('GRANT INSERT ON eos.alert_state_rollup TO delphi_worker');
      const forged = await worker();
      expect(forged.code).toBe(1);
      expect(forged.access).toMatchObject({ status: 'fail', detail: expect.stringMatching(/may write eos's own tables \(eos\.alert_state_rollup\): it could forge what the dashboard shows$/) });
    } finally {
      await admin.query('REVOKE INSERT ON eos.alert_state_rollup FROM delphi_worker');
      await admin.end();
    }
    expect(await leases()).toEqual([]);
  });

  it('prints commands that read the admin password from the environment, never contain it', async () => {
    const printed = await eos(['self', 'secrets', 'set', 'delphi-db-engine'], { DELPHI_DB_ADMIN_PASSWORD: adminPassword });
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain(`printf '%s' "$DELPHI_DB_ADMIN_PASSWORD" | vault write`);
    expect(printed.stdout).not.toContain('password="$DELPHI_DB_ADMIN_PASSWORD"');
    expect(printed.stdout).toContain('vault secrets enable -path=database database');
    expect(printed.stdout).not.toContain(adminPassword);
    // Vault answered: the printed statements mark users with its cluster id.
    const { cluster_id } = (await (await http('GET', 'sys/health')).json()) as { cluster_id: string };
    expect(printed.stdout).toContain(`IS '\\''eos:${cluster_id}/database/delphi-postgresql/delphi-readonly'\\'';'`);
    expect(printed.stdout).not.toContain('Vault did not answer');
    // The printed policies are the ones --apply writes, letter for letter.
    for (const name of ['eos-delphi-reader', 'eos-delphi-worker']) {
      const printedText = new RegExp(`^vault policy write ${name} - <<'HCL'\\n([\\s\\S]*?)\\nHCL$`, 'm').exec(printed.stdout)?.[1];
      const applied = (await (await http('GET', `sys/policies/acl/${name}`)).json()) as { data: { policy: string } };
      expect(`${printedText}\n`).toBe(applied.data.policy);
    }
  });

  it('runs with nothing but eos-delphi-reader; a token with only default is told which policy it lacks', async () => {
    const token = async (body: Record<string, unknown>) => ((await (await http('POST', 'auth/token/create', { ttl: '10m', ...body })).json()) as { auth: { client_token: string } }).auth.client_token;
    const reader = await token({ policies: ['eos-delphi-reader'], no_default_policy: true });
    const test = await eos(['self', 'secrets', 'test', '--json'], { VAULT_TOKEN: reader });
    const report = JSON.parse(test.stdout) as { steps: { id: string; status: string; detail?: string }[] };
    expect(test.code, test.stdout).toBe(0);
    expect(report.steps.find((s) => s.id === 'grants')).toMatchObject({ status: 'pass', detail: 'read database/creds/delphi-readonly, update sys/leases/renew/database/creds/delphi-readonly/*, update sys/leases/revoke/database/creds/delphi-readonly/*' });
    // Reading the role is an admin's business: shown, not failed.
    expect(report.steps.find((s) => s.id === 'role')).toMatchObject({ status: 'info', detail: expect.stringMatching(/^not readable by this token/) });
    const status = await eos(['self', 'secrets', 'status', '--json'], { VAULT_TOKEN: reader });
    expect(status.code, status.stdout).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ engine: { mounted: true, role: null, connection: null, canIssue: true, missing: [] }, wouldUse: 'dynamic' });

    // The reader's policy reaches its own role's leases only: a worker's lease is out of reach,
    // by its id in the path or in the body (the policy granted every lease before).
    const workerLease = ((await (await http('GET', 'database/creds/delphi-worker')).json()) as { lease_id: string }).lease_id;
    for (const [path, body] of [[`sys/leases/revoke/${workerLease}`, {}], ['sys/leases/revoke', { lease_id: workerLease }], [`sys/leases/renew/${workerLease}`, {}]] as const) {
      const tried = await fetch(`${vault.addr}/v1/${path}`, { method: 'PUT', headers: { 'X-Vault-Token': reader }, body: JSON.stringify(body) });
      expect(tried.status, path).toBe(403);
    }
    expect((await leases()).map((l) => l.id)).toContain(workerLease);
    await http('PUT', `sys/leases/revoke/${workerLease}`);

    const onlyDefault = await token({ policies: ['default'] });
    // Vault itself refuses it, with the policy 403 body.
    const direct = await fetch(`${vault.addr}/v1/database/creds/delphi-readonly`, { headers: { 'X-Vault-Token': onlyDefault } });
    expect(direct.status).toBe(403);
    expect(await direct.json()).toEqual({ errors: ['1 error occurred:\n\t* permission denied\n\n'] });
    const refused = await eos(['self', 'secrets', 'test', '--json'], { VAULT_TOKEN: onlyDefault });
    expect(refused.code).toBe(1);
    const failed = (JSON.parse(refused.stdout) as { steps: { id: string; status: string; detail?: string; hint?: string }[] }).steps.find((s) => s.status === 'fail');
    expect(failed).toMatchObject({ id: 'grants', detail: 'the token cannot read database/creds/delphi-readonly: attach policy eos-delphi-reader' });
    expect(failed?.hint).toMatch(/set delphi-db-engine --apply writes eos-delphi-reader/);
    const worker = await eos(['self', 'secrets', 'test', '--role', 'delphi-worker', '--json'], { VAULT_TOKEN: reader });
    expect(JSON.parse(worker.stdout).steps.find((s: { status: string }) => s.status === 'fail').detail).toBe('the token cannot read database/creds/delphi-worker: attach policy eos-delphi-worker');

    const told = await eos(['self', 'secrets', 'status'], { VAULT_TOKEN: onlyDefault });
    expect(told.stdout).toMatch(/^capability\s+✗ the token cannot read database\/creds\/delphi-readonly: attach policy eos-delphi-reader$/m);
    expect(told.stdout).toMatch(/^source dynamic\s+✗ the token cannot read database\/creds\/delphi-readonly: attach policy eos-delphi-reader$/m);
    expect(told.code).toBe(1);
    expect(await leases()).toEqual([]);
  });

  it('refuses hostile names with exit 2 and changes nothing in Vault', async () => {
    const before = await (await http('GET', 'sys/mounts')).text();
    for (const args of [
      ['--role', 'ro"; DROP ROLE postgres; --'],
      ['--group', "delphi'; DROP TABLE alerts; --"],
      ['--mount', '../sys'],
      ['--connection', 'a b'],
      ['--admin-user', 'postgres; rm -rf /'],
      ['--database', "delphi' OR '1'='1"],
    ]) {
      const r = await eos(['self', 'secrets', 'set', 'delphi-db-engine', '--apply', ...args], { DELPHI_DB_ADMIN_PASSWORD: adminPassword });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^error: .* (is not allowed|is not a Vault (role name|mount path))$/m);
    }
    expect(JSON.parse(await (await http('GET', 'sys/mounts')).text()).data).toEqual(JSON.parse(before).data);
  });

  it('with the seed\'s own statements and default revocation, test fails at the revocation and names the fix; --statements seed passes', async () => {
    const seedRole = {
      db_name: 'delphi-postgresql',
      creation_statements: [
        `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; GRANT CONNECT ON DATABASE "${db.name}" TO "{{name}}"; GRANT USAGE ON SCHEMA public TO "{{name}}"; GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}"; ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO "{{name}}";`,
      ],
      revocation_statements: [],
      default_ttl: 300,
      max_ttl: 3600,
    };
    expect((await http('POST', 'database/roles/delphi-readonly', seedRole)).status).toBe(204);
    const failing = await eos(['self', 'secrets', 'test']);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/^! role delphi-readonly exists .*revoking fails with 2BP01 and every lease leaves its role behind/m);
    expect(failing.stdout).toMatch(/^✗ lease revoked .*the role was left behind/m);
    expect(failing.stdout).toMatch(/hint: run eos self secrets set delphi-db-engine --apply \(group roles\), or --statements seed/);
    expect(failing.stdout).toMatch(/^failed at: lease revoked$/m);

    const fixed = await eos(['self', 'secrets', 'set', 'delphi-db-engine', '--apply', '--statements', 'seed', '--default-ttl', '5m', '--max-ttl', '1h'], { DELPHI_DB_ADMIN_PASSWORD: adminPassword });
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(fixed.stdout).toMatch(/role delphi-readonly: updated/);
    const passing = await eos(['self', 'secrets', 'test', '--json']);
    expect(JSON.parse(passing.stdout).ok).toBe(true);
    expect(passing.code).toBe(0);
    // Put the group design back for the next test.
    await eos(['self', 'secrets', 'set', 'delphi-db-engine', '--apply', '--default-ttl', '5m', '--max-ttl', '1h'], { DELPHI_DB_ADMIN_PASSWORD: adminPassword });
  });

  it('status never mints a lease, and lists the lease a running eos process holds', async () => {
    const count = async () => (await leases()).length;
    const before = await count();
    const quiet = await eos(['self', 'secrets', 'status', '--json']);
    expect(quiet.code).toBe(0);
    expect(await count()).toBe(before);
    const report = JSON.parse(quiet.stdout);
    expect(report).toMatchObject({ wouldUse: 'dynamic', vault: { ok: true }, token: { ok: true }, engine: { mounted: true, role: true, connection: true }, leases: [] });

    // Another process holds a lease through the keeper.
    const holder = await startLeaseHolder(env);
    try {
      const during = await eos(['self', 'secrets', 'status', '--json']);
      const held = JSON.parse(during.stdout).leases as { pid: number; confirmed: boolean; ttl: number; lease: string }[];
      expect(held).toEqual([expect.objectContaining({ pid: holder.pid, confirmed: true, lease: expect.stringMatching(/^database\/creds\/delphi-readonly\/\w{4}…$/) })]);
      expect(held[0]?.ttl).toBeGreaterThan(0);
      expect(await count()).toBe(before + 1);
      const text = await eos(['self', 'secrets', 'status']);
      expect(text.stdout).toMatch(new RegExp(`^lease +database/creds/delphi-readonly/\\w{4}… held by pid ${holder.pid} \\(exec sh\\); confirmed, TTL \\d+ s`, 'm'));
      // The next scheduled action of the holder's keeper, by name and time.
      expect(text.stdout).toMatch(/; next: renew at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z;/);

      // A reader's token may not list leases: the line says which token can.
      const reader = ((await (await http('POST', 'auth/token/create', { policies: ['eos-delphi-reader'], no_default_policy: true, ttl: '10m' })).json()) as { auth: { client_token: string } }).auth.client_token;
      const asReader = await eos(['self', 'secrets', 'status'], { VAULT_TOKEN: reader });
      expect(asReader.stdout).toMatch(new RegExp(`held by pid ${holder.pid} \\(exec sh\\); not confirmed: listing sys/leases/lookup/database/creds/delphi-readonly/ needs a token with eos-delphi-auditor \\(this one: 403\\)`));

      // Vault unreachable or the token refused: what could not be asked says so, it is not "missing".
      const down = await eos(['self', 'secrets', 'status'], { VAULT_ADDR: 'http://127.0.0.1:1', VAULT_MAX_RETRIES: '0' });
      expect(down.stdout).toMatch(/^engine +not checked \(Vault unreachable\)$/m);
      expect(down.stdout).toMatch(/; not checked \(Vault not usable: Vault at http:\/\/127\.0\.0\.1:1 is unreachable/);
      expect(down.stdout).not.toMatch(/not mounted|role missing|connection missing/);
      const refused = await eos(['self', 'secrets', 'status'], { VAULT_TOKEN: 'hvs.refused000000000000000000' });
      expect(refused.stdout).toMatch(/^engine +not checked \(the token was refused\)$/m);
      expect(refused.stdout).toMatch(/; not checked \(token refused: /);
    } finally {
      holder.kill('SIGTERM');
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    expect(await count()).toBe(before);
  });

  it('status reports an unreachable Vault with exit 3', async () => {
    const r = await eos(['self', 'secrets', 'status'], { VAULT_ADDR: 'http://127.0.0.1:1', VAULT_MAX_RETRIES: '0' });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^vault +http:\/\/127\.0\.0\.1:1: ✗ Vault at http:\/\/127\.0\.0\.1:1 is unreachable/m);
  });
});

/** A separate eos process that holds a lease (`exec` on the read-only role) until SIGTERM. */
async function startLeaseHolder(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'self', 'secrets', 'exec', '--role', 'delphi-readonly', '--grace', '2s', '--', 'sh', '-c', 'echo holding; exec sleep 600'], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => d.toString().includes('holding') && resolve());
    child.once('exit', (code) => reject(new Error(`lease holder exited with ${code}`)));
  });
  return child;
}
