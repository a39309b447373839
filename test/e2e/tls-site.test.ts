import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli, startEos } from '../helpers/cli.js';
import { startTlsSite, type TlsSite } from '../helpers/tls-site.js';

const run = promisify(execFile);

/** The pinned hvac and psycopg (.ci/run installs them first; a fresh `npm test` here, once). */
async function pythonClients(): Promise<string> {
  return (await run(path.join(REPO_ROOT, 'tools', 'python-clients.sh'), [], { cwd: REPO_ROOT, timeout: 280_000 })).stdout.trim();
}

/**
 * eos on a site shaped like production (issue 25): Vault on HTTPS and a PostgreSQL that takes TLS
 * connections only, both with certificates from a private CA, and nothing set up yet. Every step
 * an operator takes runs through the built CLI in order — configure → set delphi-db-config →
 * set delphi-db-engine --apply → schema apply → test → status → get → dashboard --once → exec of
 * a libpq worker through a rotation — and every PostgreSQL session of a dynamic user the test
 * sees meanwhile is encrypted (pg_stat_ssl). That each check really verifies is shown by
 * swapping in a CA that signed neither server: eos then refuses, naming the option.
 */
describe('a production-shaped site: HTTPS Vault and TLS-only PostgreSQL from a private CA', () => {
  let site: TlsSite;
  let python: string;
  let admin: pg.Client;
  let env: NodeJS.ProcessEnv;
  let readerToken: string;
  let workerToken: string;
  /** Every session of a dynamic user seen while the flow ran: user, and whether it was encrypted. */
  const sessions = new Map<string, boolean>();
  let watcher: NodeJS.Timeout | undefined;

  const watchSessions = async () => {
    const { rows } = await admin.query<{ usename: string; ssl: boolean }>(
      `SELECT a.usename, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.usename LIKE 'v-%'`,
    );
    for (const row of rows) sessions.set(`${row.usename}`, (sessions.get(row.usename) ?? true) && row.ssl);
  };
  const eos = (args: string[], extra: NodeJS.ProcessEnv = {}, input?: string) => runCli(args, { env: { ...env, ...extra }, input });

  beforeAll(async () => {
    python = await pythonClients();
    site = await startTlsSite({ alerts: 40 });
    admin = new pg.Client({ connectionString: site.adminUrl });
    await admin.connect();
    // A Vault admin's Step 0 on a production server: KV v2 at secret/.
    await site.asRoot('POST', 'sys/mounts/secret', { type: 'kv', options: { version: '2' } });
    env = {
      HOME: site.dir,
      EOS_CONFIG: path.join(site.dir, 'eos', 'config.json'),
      EOS_LOG_FILE: path.join(site.dir, 'eos.log'),
      DELPHI_DB_ADMIN_PASSWORD: site.postgres.adminPassword,
    };
    watcher = setInterval(() => void watchSessions().catch(() => undefined), 150);
  }, 300_000);
  afterAll(async () => {
    if (watcher) clearInterval(watcher);
    await admin?.end();
    await site?.stop();
  });

  it('a plaintext login is refused by the server itself (the site really is TLS-only)', async () => {
    const plain = new pg.Client({ host: site.postgres.host, port: site.postgres.port, user: 'postgres', password: site.postgres.adminPassword, database: 'delphi', ssl: false });
    await expect(plain.connect()).rejects.toThrow(/no pg_hba.conf entry .* no encryption/);
  });

  it('configure takes the init-style root token and the CA, and saves them', async () => {
    const configured = await eos(['self', 'secrets', 'configure', '--addr', site.vault.addr, '--ca-cert', site.caFile, '--auth', 'token', '--token-stdin', '--yes'], {}, site.vault.rootToken);
    expect(configured.stderr).toBe('');
    expect(configured.code).toBe(0);
    const saved = JSON.parse(readFileSync(env.EOS_CONFIG as string, 'utf8'));
    expect(saved.vault).toMatchObject({ address: site.vault.addr, caCert: site.caFile });
    expect(saved.credentials).toEqual({ sources: ['dynamic'] });

    // Without the CA, the same Vault is refused: the check is real, and the error names the fix.
    const untrusted = await eos(['self', 'secrets', 'status'], { VAULT_CACERT: site.otherCaFile });
    expect(untrusted.code).toBe(3);
    expect(untrusted.stdout).toMatch(/^vault .*✗ the TLS certificate of https:\/\/127\.0\.0\.1:\d+ is not trusted/m);
    expect(untrusted.stdout).toMatch(/^ +hint: set VAULT_CACERT to the CA bundle that signed Vault's certificate/m);
  });

  it('set delphi-db-config stores verify-full with the CA; engine apply gives Vault\'s plugin the CA; schema apply works over TLS', async () => {
    const set = await eos(['self', 'secrets', 'set', 'delphi-db-config', '--host', site.postgres.host, '--port', String(site.postgres.port), '--database', 'delphi', '--sslmode', 'verify-full', '--sslrootcert', site.caFile]);
    expect(set.code, set.stderr).toBe(0);
    const kv = await site.asRoot('GET', 'secret/data/delphi/config/sslrootcert');
    expect((kv.data as { data: Record<string, string> }).data).toEqual({ value: site.caFile });

    const engine = await eos(['self', 'secrets', 'set', 'delphi-db-engine', '--apply', '--vault-sslrootcert', site.caFile, '--default-ttl', '4s', '--max-ttl', '12s']);
    expect(engine.code, engine.stderr).toBe(0);
    const connection = await site.asRoot('GET', 'database/config/delphi-postgresql');
    expect((connection.data as { connection_details: { connection_url: string } }).connection_details.connection_url).toBe(
      `postgresql://{{username}}:{{password}}@127.0.0.1:${site.postgres.port}/delphi?sslmode=verify-full&sslrootcert=${site.caFile}`,
    );

    const schema = await eos(['delphi', 'schema', 'apply']);
    expect(schema.code, schema.stderr).toBe(0);
    expect((await admin.query(`SELECT count(*)::int AS n FROM eos.schema_migrations`)).rows[0].n).toBeGreaterThanOrEqual(4);

    const mint = async (policy: string) =>
      ((await site.asRoot('POST', 'auth/token/create', { policies: [policy], no_default_policy: true, ttl: '1h' })).auth as { client_token: string }).client_token;
    readerToken = await mint('eos-delphi-reader');
    workerToken = await mint('eos-delphi-worker');
  });

  it('test proves every step with the reader token, and its TLS step says both connections are verified', async () => {
    const tested = await eos(['self', 'secrets', 'test', '--json'], { VAULT_TOKEN: readerToken });
    expect(tested.code, tested.stdout + tested.stderr).toBe(0);
    const report = JSON.parse(tested.stdout) as { steps: { id: string; status: string; detail: string }[] };
    const tls = report.steps.find((s) => s.id === 'tls');
    expect(tls?.status).toBe('pass');
    expect(tls?.detail).toMatch(/Vault TLSv1\.[23], CN=127\.0\.0\.1 until .*, verified; PostgreSQL TLSv1\.[23], CN=127\.0\.0\.1 until .*, verified/);
  });

  it('status and get work over TLS; a CA that did not sign PostgreSQL\'s certificate is refused by name', async () => {
    const status = await eos(['self', 'secrets', 'status', '--json'], { VAULT_TOKEN: readerToken });
    expect(status.code, status.stderr).toBe(0);
    const state = JSON.parse(status.stdout) as { database: { sslmode: string }; wouldUse: string };
    expect(state.database.sslmode).toBe('verify-full');
    expect(state.wouldUse).toBe('dynamic');

    const got = await eos(['self', 'secrets', 'get', 'database/creds/delphi-readonly'], { VAULT_TOKEN: readerToken });
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toMatch(/username\s+v-token-/);

    const wrongCa = await eos(['delphi', 'dashboard', '--once'], { VAULT_TOKEN: readerToken, DELPHI_DB_SSLROOTCERT: site.otherCaFile });
    expect(wrongCa.code).toBe(5);
    expect(wrongCa.stderr).toMatch(/certificate/);
    expect(wrongCa.stderr).toMatch(/sslrootcert|DELPHI_DB_SSLROOTCERT/);
  });

  it('dashboard --once reads the pipeline over a verified TLS connection', async () => {
    const shown = await eos(['delphi', 'dashboard', '--json'], { VAULT_TOKEN: readerToken });
    expect(shown.code, shown.stderr).toBe(0);
    const snapshot = JSON.parse(shown.stdout) as { flow: { count: number }[]; failed: number; credentials: { source?: string } };
    // Every alert the site holds, in a state or failed: the views answered in full.
    expect(snapshot.flow.reduce((sum, s) => sum + s.count, 0) + snapshot.failed).toBe(40);
    expect(JSON.stringify(snapshot.credentials)).toContain('dynamic');
    const frame = await eos(['delphi', 'dashboard', '--once'], { VAULT_TOKEN: readerToken });
    expect(frame.code, frame.stderr).toBe(0);
    expect(frame.stdout).toMatch(/sent/);
  });

  it('exec runs a libpq worker with verify-full and the CA through a rotation; every dynamic session was encrypted', async () => {
    const worker = startEos(['self', 'secrets', 'exec', '--grace', '5s', '--', python, path.join(REPO_ROOT, 'test', 'clients', 'python', 'tls_worker.py')], {
      env: { PATH: process.env.PATH, ...env, VAULT_TOKEN: workerToken },
    });
    const reports = () =>
      worker.output.stdout
        .split('\n')
        .filter((l) => l.startsWith('{"user"'))
        .map((l) => JSON.parse(l) as { user: string; server_ssl: boolean; protocol: string; libpq_ssl_in_use: boolean; sslmode: string; sslrootcert: string });
    // TTL 4 s, max 12 s: the lease is replaced and the worker restarted with new credentials.
    await expect.poll(() => reports().length, { timeout: 45_000, interval: 250 }).toBeGreaterThanOrEqual(2);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);

    const seen = reports();
    expect(new Set(seen.map((r) => r.user)).size).toBe(seen.length);
    for (const r of seen) {
      expect(r.user).toMatch(/^v-token-delphi-w-/);
      expect(r).toMatchObject({ server_ssl: true, libpq_ssl_in_use: true, sslmode: 'verify-full', sslrootcert: site.caFile });
      expect(r.protocol).toMatch(/^TLSv1\.[23]$/);
    }
    // What the database saw: every session of every dynamic user (eos's own, the worker's) encrypted.
    await watchSessions();
    for (const r of seen) expect(sessions.get(r.user), `${r.user} seen by pg_stat_ssl`).toBe(true);
    // eos's own short sessions (test, dashboard) may fall between two looks; the worker's cannot.
    expect(sessions.size).toBeGreaterThanOrEqual(seen.length);
    expect([...sessions.values()].every(Boolean)).toBe(true);
  }, 120_000);
});

/**
 * A PostgreSQL that asks every login for a client certificate from the site's CA as well as the
 * password (pg_hba `clientcert=verify-ca`): eos presents the one set-config stored, Vault's
 * plugin the one given for the Vault host, and a libpq worker under exec the one eos hands on.
 */
describe('a PostgreSQL that asks for client certificates', () => {
  let site: TlsSite;
  let python: string;
  let env: NodeJS.ProcessEnv;
  const eos = (args: string[], extra: NodeJS.ProcessEnv = {}, input?: string) => runCli(args, { env: { ...env, ...extra }, input });

  beforeAll(async () => {
    python = await pythonClients();
    site = await startTlsSite({ alerts: 10, clientCertificates: true });
    await site.asRoot('POST', 'sys/mounts/secret', { type: 'kv', options: { version: '2' } });
    env = {
      HOME: site.dir,
      EOS_CONFIG: path.join(site.dir, 'eos', 'config.json'),
      DELPHI_DB_ADMIN_PASSWORD: site.postgres.adminPassword,
      VAULT_CACERT: site.caFile,
    };
    const configured = await eos(['self', 'secrets', 'configure', '--addr', site.vault.addr, '--auth', 'token', '--token-stdin', '--yes'], {}, site.vault.rootToken);
    expect(configured.code, configured.stderr).toBe(0);
  }, 300_000);
  afterAll(() => site?.stop());

  it('without a client certificate the login is refused, with the flags that fix it', async () => {
    const target = ['--host', site.postgres.host, '--port', String(site.postgres.port), '--database', 'delphi', '--sslmode', 'verify-full', '--sslrootcert', site.caFile];
    expect((await eos(['self', 'secrets', 'set', 'delphi-db-config', ...target])).code).toBe(0);
    const refused = await eos(['self', 'secrets', 'set', 'delphi-db-engine', '--apply', '--vault-sslrootcert', site.caFile]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/^error: .*client certificate/m);
    expect(refused.stderr).toMatch(/^hint: .*--sslcert and --sslkey on set delphi-db-config/m);
  });

  it('set-config refuses a key others may read, a key of another certificate, and a certificate without its key; nothing is stored', async () => {
    const client = site.client as { certFile: string; keyFile: string };
    const target = ['--host', site.postgres.host, '--port', String(site.postgres.port), '--database', 'delphi', '--sslmode', 'verify-full', '--sslrootcert', site.caFile];
    const before = readFileSync(env.EOS_CONFIG as string, 'utf8');
    const loose = path.join(site.dir, 'loose.key');
    copyFileSync(client.keyFile, loose);
    chmodSync(loose, 0o644);
    const readable = await eos(['self', 'secrets', 'set', 'delphi-db-config', ...target, '--sslcert', client.certFile, '--sslkey', loose]);
    expect(readable.code).toBe(2);
    expect(readable.stderr).toMatch(/^error: the client key \(sslkey\) .*loose\.key may be read by others \(mode 0644\)$/m);
    const wrong = await eos(['self', 'secrets', 'set', 'delphi-db-config', ...target, '--sslcert', client.certFile, '--sslkey', path.join(site.dir, 'dba.key')]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/does not belong to the certificate/);
    const alone = await eos(['self', 'secrets', 'set', 'delphi-db-config', ...target, '--sslcert', client.certFile]);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/^error: --sslcert without --sslkey$/m);
    // The key's contents where its path belongs ("$(cat key)"): refused, and not repeated.
    const keyText = readFileSync(client.keyFile, 'utf8');
    const pasted = await eos(['self', 'secrets', 'set', 'delphi-db-config', ...target, '--sslcert', client.certFile, '--sslkey', keyText]);
    expect(pasted.code).toBe(2);
    expect(pasted.stderr).toMatch(/^error: sslkey from --sslkey is not a file path \(it holds a PEM block; not shown\)$/m);
    expect(pasted.stderr).not.toContain(keyText.split('\n')[1] as string);
    expect(readFileSync(env.EOS_CONFIG as string, 'utf8')).toBe(before);
    await expect(site.asRoot('GET', 'secret/data/delphi/config/sslcert')).rejects.toThrow(/404/);
  });

  it('with the certificate stored, engine apply, schema apply, test and a libpq worker under exec all get in', async () => {
    const client = site.client as { certFile: string; keyFile: string };
    const target = ['--host', site.postgres.host, '--port', String(site.postgres.port), '--database', 'delphi', '--sslmode', 'verify-full', '--sslrootcert', site.caFile];
    const set = await eos(['self', 'secrets', 'set', 'delphi-db-config', ...target, '--sslcert', client.certFile, '--sslkey', client.keyFile]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/delphi\/config\/\{host,port,database,sslmode,sslrootcert,sslcert,sslkey\}/);
    const engine = await eos(['self', 'secrets', 'set', 'delphi-db-engine', '--apply', '--vault-sslrootcert', site.caFile, '--vault-sslcert', client.certFile, '--vault-sslkey', client.keyFile]);
    expect(engine.code, engine.stderr).toBe(0);
    expect((await eos(['delphi', 'schema', 'apply'])).code).toBe(0);

    const tested = await eos(['self', 'secrets', 'test', '--json']);
    expect(tested.code, tested.stdout).toBe(0);
    const tls = (JSON.parse(tested.stdout) as { steps: { id: string; detail: string }[] }).steps.find((s) => s.id === 'tls');
    expect(tls?.detail).toMatch(/PostgreSQL TLSv1\.[23], CN=127\.0\.0\.1 until .*, verified; client certificate CN=eos-host presented/);

    const worker = startEos(['self', 'secrets', 'exec', '--grace', '5s', '--', python, path.join(REPO_ROOT, 'test', 'clients', 'python', 'tls_worker.py')], {
      env: { PATH: process.env.PATH, ...env },
    });
    await expect.poll(() => worker.output.stdout, { timeout: 30_000, interval: 200 }).toMatch(/"user"/);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    const report = JSON.parse(worker.output.stdout.split('\n').find((l) => l.startsWith('{"user"')) as string);
    expect(report).toMatchObject({ server_ssl: true, libpq_ssl_in_use: true, sslmode: 'verify-full' });
  }, 120_000);
});
