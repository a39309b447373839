import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import { quoteIdent } from '../../../db/identifiers.js';
import { fits } from '../../../db/host-locator.js';
import { hostAddress, isTargetSessionAttrs, splitHostsOfUrl } from '../../../db/hosts.js';
import { VaultHttpError } from '../wire.js';

/**
 * What Vault's postgresql-database-plugin does against PostgreSQL, for the database backend:
 * its connection pool, statements run in one transaction and split as the plugin splits them,
 * its default revocation, its SCRAM verifier, and pgx's error texts.
 */

/** What a connection's pool is made from (config/<name>). */
export interface PoolSettings {
  connectionUrl: string;
  username: string;
  password: string;
  maxOpenConnections: number;
  maxConnectionLifetime: number;
}

/** Vault's default revocation: REVOKEs outside a transaction that go on past errors, then DROP ROLE. */
export async function defaultRevocation(pool: PluginPool, username: string): Promise<void> {
  const exists = await pool.query('SELECT exists (SELECT rolname FROM pg_roles WHERE rolname = $1)', [username]);
  if (!exists.rows[0]?.exists) return;
  const user = quoteIdent(username);
  const schemas = await pool.query('SELECT DISTINCT table_schema FROM information_schema.role_column_grants WHERE grantee = $1', [username]);
  const statements: string[] = [];
  for (const row of schemas.rows as { table_schema: string }[]) {
    statements.push(`REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA ${quoteIdent(row.table_schema)} FROM ${user};`);
    statements.push(`REVOKE USAGE ON SCHEMA ${quoteIdent(row.table_schema)} FROM ${user};`);
  }
  statements.push(`REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public FROM ${user};`);
  statements.push(`REVOKE ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA public FROM ${user};`);
  statements.push(`REVOKE USAGE ON SCHEMA public FROM ${user};`);
  const db = await pool.query('SELECT current_database() AS name');
  statements.push(`REVOKE CONNECT ON DATABASE ${quoteIdent(db.rows[0].name as string)} FROM ${user};`);
  let last: unknown;
  for (const statement of statements) {
    await pool.query(statement).catch((err: unknown) => (last = err));
  }
  if (last !== undefined) throw new Error(`could not perform all revocation statements: ${pgErrorText(last)}`);
  await pool.query(`DROP ROLE IF EXISTS ${user};`).catch((err: unknown) => {
    throw new Error(pgErrorText(err));
  });
}

/** Runs statements in one transaction with `{{key}}` replaced, split as Vault's plugin splits them. */
export async function runInTransaction(pool: PluginPool, statements: string[], values: Record<string, string>): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    for (const statement of statements) {
      const queries = isMultilineStatement(statement) ? [statement] : statement.split(';').map((s) => s.trim()).filter((s) => s !== '');
      for (const query of queries) await client.query(fill(query, values));
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** The plugin keeps a statement whole when it holds the word END outside quotes (a DO block). */
function isMultilineStatement(statement: string): boolean {
  const withoutLiterals = statement.replace(/"[^"]*"/g, '').replace(/'[^']*'/g, '');
  return /\bEND\b/.test(withoutLiterals);
}

function fill(template: string, values: Record<string, string>): string {
  let out = template;
  for (const [key, value] of Object.entries(values)) out = out.split(`{{${key}}}`).join(value);
  return out;
}

/**
 * The plugin's connection: a pg.Pool on one host. A connection_url listing several hosts
 * (`postgresql://…@a:5432,b:5433/db?target_session_attrs=read-write`) is what pgx — and so
 * Vault's plugin — accepts: Vault pings its pool before each use and, when the ping fails,
 * opens it again, and pgx then picks the first host that fits target_session_attrs. The same
 * here, so the engine follows a promotion as Vault's does.
 */
export interface PluginPool {
  query(text: string, values?: unknown[]): Promise<pg.QueryResult>;
  connect(): Promise<pg.PoolClient>;
  end(): Promise<void>;
}

export function newPool(c: PoolSettings): PluginPool {
  const url = templateUrl(c.connectionUrl, c.username, c.password);
  const split = splitHostsOfUrl(url);
  const make = (onUrl: string) => {
    const pool = new pg.Pool({
      connectionString: onUrl,
      max: c.maxOpenConnections > 0 ? c.maxOpenConnections : 4,
      maxLifetimeSeconds: c.maxConnectionLifetime > 0 ? c.maxConnectionLifetime : 0,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 10_000,
    });
    pool.on('error', () => undefined); // an idle client dying (e.g. server restart) is not fatal
    return pool;
  };
  // One host (or a key=value string): the URL as given, as before.
  if (!split || split.hosts.length < 2) return make(url);
  const { hosts, urlFor } = split;
  const want = split.want ?? 'any';
  const locate = async (): Promise<pg.Pool> => {
    // pgx refuses a value it does not know when it parses the URL.
    if (!isTargetSessionAttrs(want)) throw new Error(`cannot parse connection url: unknown target_session_attrs value: "${want}"`);
    let last: unknown;
    for (const host of hosts) {
      const probe = new pg.Client({ connectionString: urlFor(host), connectionTimeoutMillis: 10_000 });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        const { rows } = await probe.query<{ standby: boolean; ro: string }>("SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS ro");
        if (fits(want, { standby: rows[0]?.standby === true, readOnly: rows[0]?.ro === 'on' })) return make(urlFor(host));
        last = new Error(`server at ${hostAddress(host)} does not fit target_session_attrs=${want}`);
      } catch (err) {
        last = err;
      } finally {
        await probe.end().catch(() => undefined);
      }
    }
    throw last;
  };
  let current: pg.Pool | undefined;
  // One check at a time, however many requests arrive together.
  let checking: Promise<pg.Pool> | undefined;
  // Vault's Connection(): ping the pool it has; if that fails, open it again.
  const alive = (): Promise<pg.Pool> => {
    checking ??= (async () => {
      if (current) {
        try {
          await current.query('SELECT 1');
          return current;
        } catch {
          void current.end().catch(() => undefined);
          current = undefined;
        }
      }
      current = await locate();
      return current;
    })().finally(() => {
      checking = undefined;
    });
    return checking;
  };
  return {
    query: async (text, values) => (await alive()).query(text, values),
    connect: async () => (await alive()).connect(),
    end: async () => {
      await checking?.catch(() => undefined);
      await current?.end().catch(() => undefined);
    },
  };
}

/** Replaces {{username}} and {{password}}: escaped inside a URL, as they are in Vault's. */
function templateUrl(url: string, username: string, password: string): string {
  const isUrl = /^[a-z]+:\/\//i.test(url);
  const enc = (v: string) => (isUrl ? encodeURIComponent(v) : v);
  return url.split('{{username}}').join(enc(username)).split('{{password}}').join(enc(password));
}

/** pgx's error text: `ERROR: message (SQLSTATE code)`. */
export function pgErrorText(err: unknown): string {
  if (err instanceof VaultHttpError) return err.errors.join('; ');
  const e = err as { message?: string; code?: string; severity?: string };
  if (e && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return `${e.severity ?? 'ERROR'}: ${e.message} (SQLSTATE ${e.code})`;
  return e?.message ?? String(err);
}

/** A SCRAM-SHA-256 verifier, so the plain password never reaches PostgreSQL. */
const pbkdf2Async = promisify(pbkdf2);

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores. Derived on the thread pool, not the event loop:
 * Vault does this in its own process, so the double must not stall whoever shares its process.
 */
export async function scramVerifier(password: string): Promise<string> {
  const salt = randomBytes(16);
  const iterations = 4096;
  const salted = await pbkdf2Async(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
