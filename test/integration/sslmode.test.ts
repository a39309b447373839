import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAdmin } from '../../src/db/admin-session.js';
import { dbCredentials, toPgConfig, type DbCredentials } from '../../src/db/credentials.js';
import { classifyDatabaseError } from '../../src/db/errors.js';
import { forgetTlsOffers, serverOffersTls, settleTls } from '../../src/db/tls-offer.js';
import { startPostgresCluster, type PostgresCluster } from '../../src/sandbox/postgres.js';
import { makeThrowawayCa } from '../../src/sandbox/throwaway-ca.js';
import { postgresTls } from '../../src/setup/tls-report.js';
import { clusterInfo } from '../helpers/pg.js';
import { makeTestPki } from '../helpers/pki.js';

/**
 * `sslmode` with libpq's meanings (issue 24, item 5). node-postgres cannot fall back from TLS to
 * plain, so eos's `prefer` — libpq's default — meant no TLS at all, even to a server that
 * offers it: the admin's and every lease's password crossed in clear while the config said
 * "prefer". Checked on a real PostgreSQL with TLS from a CA made here, and on the run's
 * cluster, which has none.
 */
describe('sslmode on a PostgreSQL that offers TLS, and on one that does not', () => {
  let cluster: PostgresCluster;
  let pki: ReturnType<typeof makeTestPki>;
  let certDir: string;

  beforeAll(async () => {
    cluster = await startPostgresCluster();
    pki = makeTestPki();
    certDir = mkdtempSync(path.join(tmpdir(), 'eos-pg-tls-'));
    chmodSync(certDir, 0o755);
    const key = path.join(certDir, 'server.key');
    const cert = path.join(certDir, 'server.pem');
    writeFileSync(key, pki.key, { mode: 0o600 });
    writeFileSync(cert, pki.cert, { mode: 0o644 });
    // Run as root, the cluster's server runs as postgres, which must own its key.
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      chownSync(key, uid, -1);
    }
    const admin = new pg.Client({ connectionString: cluster.adminUrl() });
    await admin.connect();
    try {
      await admin.query(`ALTER SYSTEM SET ssl_cert_file = '${cert}'`);
      await admin.query(`ALTER SYSTEM SET ssl_key_file = '${key}'`);
      await admin.query('ALTER SYSTEM SET ssl = on');
      await admin.query('SELECT pg_reload_conf()');
      // The reload is asynchronous: new sessions see it once the postmaster has read the file.
      for (let i = 0; i < 100; i++) {
        const probe = new pg.Client({ connectionString: cluster.adminUrl(), ssl: { rejectUnauthorized: false } });
        if (await probe.connect().then(() => true, () => false)) {
          await probe.end();
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await admin.end();
    }
    forgetTlsOffers();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    pki?.remove();
    if (certDir) rmSync(certDir, { recursive: true, force: true });
  });

  const credentials = (c: { host: string; port: number }, sslmode: DbCredentials['sslmode'], user: string, password: string) =>
    dbCredentials({ host: c.host, port: c.port, database: 'postgres', user, password, sslmode, source: 'env' });
  const encrypted = async (config: pg.ClientConfig) => {
    const client = new pg.Client(config);
    await client.connect();
    try {
      return (await client.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0]?.ssl;
    } finally {
      await client.end();
    }
  };

  it('prefer encrypts where the server offers TLS (it went in clear before), and goes without where it has none', async () => {
    const tls = credentials(cluster, 'prefer', cluster.adminUser, cluster.adminPassword);
    expect(await serverOffersTls(cluster.host, cluster.port)).toBe(true);
    expect(await encrypted(toPgConfig(await settleTls(tls)))).toBe(true);

    const run = clusterInfo();
    const plain = credentials(run, 'prefer', run.adminUser, run.adminPassword);
    expect(await serverOffersTls(run.host, run.port)).toBe(false);
    expect(await encrypted(toPgConfig(await settleTls(plain)))).toBe(false);
  });

  it('the admin session of schema apply and the engine set-up prefers TLS the same way', async () => {
    const admin = await connectAdmin({ host: cluster.host, port: cluster.port, database: 'postgres', sslmode: 'prefer' }, cluster.adminUser, cluster.adminPassword, 'eos-test');
    try {
      expect((await admin.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0]?.ssl).toBe(true);
    } finally {
      await admin.end();
    }
  });

  it('require encrypts; allow and disable do not', async () => {
    const user = cluster.adminUser;
    const password = cluster.adminPassword;
    expect(await encrypted(toPgConfig(await settleTls(credentials(cluster, 'require', user, password))))).toBe(true);
    expect(await encrypted(toPgConfig(await settleTls(credentials(cluster, 'allow', user, password))))).toBe(false);
    expect(await encrypted(toPgConfig(await settleTls(credentials(cluster, 'disable', user, password))))).toBe(false);
  });

  it('verify-full checks the chain against sslrootcert (a CA made here) and the name; verify-ca only the chain; each failure says which option fixes it', async () => {
    const user = cluster.adminUser;
    const password = cluster.adminPassword;
    const as = (host: string, sslmode: DbCredentials['sslmode'], sslrootcert?: string) =>
      dbCredentials({ host, port: cluster.port, database: 'postgres', user, password, sslmode, sslrootcert, source: 'env' });
    const failure = async (c: DbCredentials) => {
      const err = await encrypted(toPgConfig(c)).then(() => undefined, (e: unknown) => classifyDatabaseError(e, { where: `${c.host}:${c.port}` }));
      return err as { message: string; hint?: string; exitCode?: number } | undefined;
    };

    expect(await encrypted(toPgConfig(as('127.0.0.1', 'verify-full', pki.caFile)))).toBe(true);
    // Node's roots do not know this CA: the one line names the cause and the option.
    const untrusted = await failure(as('127.0.0.1', 'verify-full'));
    expect(untrusted?.message).toMatch(/^PostgreSQL at 127\.0\.0\.1:\d+: its certificate is not signed by a CA eos trusts/);
    expect(untrusted?.hint).toMatch(/--sslrootcert on set delphi-db-config, PGSSLROOTCERT, or ~\/\.postgresql\/root\.crt/);
    expect(untrusted?.exitCode).toBe(5);
    // The certificate names 127.0.0.1 and vault.test, not localhost: verify-full refuses, verify-ca does not look.
    const misnamed = await failure(as('localhost', 'verify-full', pki.caFile));
    expect(misnamed?.message).toMatch(/its certificate does not name the host connected to/);
    expect(misnamed?.hint).toMatch(/sslmode=verify-ca/);
    expect(await encrypted(toPgConfig(as('localhost', 'verify-ca', pki.caFile)))).toBe(true);
    // libpq: require with a root certificate checks the chain, as verify-ca does.
    const other = makeTestPki();
    try {
      expect((await failure(as('127.0.0.1', 'require', other.caFile)))?.message).toMatch(/not signed by a CA eos trusts/);
    } finally {
      other.remove();
    }
    expect(await encrypted(toPgConfig(as('127.0.0.1', 'require')))).toBe(true);
  });

  it('a server without TLS, asked for it, says so and which setting to change', async () => {
    const run = clusterInfo();
    const c = dbCredentials({ host: run.host, port: run.port, database: 'postgres', user: run.adminUser, password: run.adminPassword, sslmode: 'require', source: 'env' });
    const err = (await encrypted(toPgConfig(c)).then(() => undefined, (e: unknown) => classifyDatabaseError(e, { where: 'x' }))) as { message: string; hint: string };
    expect(err.message).toBe('PostgreSQL at x: the server offers no TLS, and sslmode asks for it');
    expect(err.hint).toMatch(/--sslmode/);
  });

  it("test's TLS report: protocol, certificate, until when, checked or not — from the connections eos really makes", async () => {
    const connected = async (c: DbCredentials) => {
      const client = new pg.Client(toPgConfig(c));
      await client.connect();
      return client;
    };
    const verifiedClient = await connected(dbCredentials({ host: '127.0.0.1', port: cluster.port, database: 'postgres', user: cluster.adminUser, password: cluster.adminPassword, sslmode: 'verify-full', sslrootcert: pki.caFile, source: 'env' }));
    const preferClient = await connected(await settleTls(dbCredentials({ host: '127.0.0.1', port: cluster.port, database: 'postgres', user: cluster.adminUser, password: cluster.adminPassword, sslmode: 'prefer', source: 'env' })));
    const run = clusterInfo();
    const plainClient = await connected(dbCredentials({ host: run.host, port: run.port, database: 'postgres', user: run.adminUser, password: run.adminPassword, sslmode: 'disable', source: 'env' }));
    // A client certificate eos holds, for a server that asks for none: not sent, and not claimed.
    const own = await (await makeThrowawayCa()).issueClient('eos-host');
    writeFileSync(path.join(certDir, 'client.pem'), own.certPem);
    writeFileSync(path.join(certDir, 'client.key'), own.keyPem, { mode: 0o600 });
    const withCertClient = await connected(
      dbCredentials({ host: '127.0.0.1', port: cluster.port, database: 'postgres', user: cluster.adminUser, password: cluster.adminPassword, sslmode: 'verify-full', sslrootcert: pki.caFile, sslcert: path.join(certDir, 'client.pem'), sslkey: path.join(certDir, 'client.key'), source: 'env' }),
    );
    try {
      expect((await postgresTls(withCertClient, 'verify-full')).detail).not.toMatch(/client certificate/);
      const verified = await postgresTls(verifiedClient, 'verify-full');
      expect(verified.detail).toMatch(/^TLSv1\.[23], CN=vault\.test until \d{4}-\d{2}-\d{2}, verified$/);
      // The CA made here lives two days: a certificate that ends within 30 days is a warning.
      expect(verified.concern).toMatch(/within 30 days/);
      expect((await postgresTls(verifiedClient, 'verify-full', Date.now() - 60 * 86400 * 1000)).concern).toBeUndefined();
      expect(await postgresTls(preferClient, 'prefer')).toMatchObject({ detail: expect.stringMatching(/NOT verified$/), concern: expect.stringMatching(/not checked/) });
      expect(await postgresTls(plainClient, 'disable')).toMatchObject({ detail: 'unencrypted (sslmode=disable)', concern: expect.stringMatching(/in clear/) });
    } finally {
      await Promise.all([verifiedClient.end(), preferClient.end(), plainClient.end(), withCertClient.end()]);
    }
  });

  it('asks nothing it cannot reach: a closed port or a server that answers no are "no TLS", and the connection says why', async () => {
    let server: Server | undefined;
    try {
      // A server that answers the TLS question with N, as PostgreSQL without ssl does.
      server = createServer((socket) => socket.once('data', () => socket.end('N')));
      await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as { port: number }).port;
      expect(await serverOffersTls('127.0.0.1', port)).toBe(false);
    } finally {
      server?.close();
    }
    expect(await serverOffersTls('127.0.0.1', 1)).toBe(false);
  });
});
