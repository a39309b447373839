import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import { quoteIdent } from '../../../db/identifiers.js';
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
export async function defaultRevocation(pool: pg.Pool, username: string): Promise<void> {
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
export async function runInTransaction(pool: pg.Pool, statements: string[], values: Record<string, string>): Promise<void> {
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

export function newPool(c: PoolSettings): pg.Pool {
  const url = templateUrl(c.connectionUrl, c.username, c.password);
  const pool = new pg.Pool({
    connectionString: url,
    max: c.maxOpenConnections > 0 ? c.maxOpenConnections : 4,
    maxLifetimeSeconds: c.maxConnectionLifetime > 0 ? c.maxConnectionLifetime : 0,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
  });
  pool.on('error', () => undefined); // an idle client dying (e.g. server restart) is not fatal
  return pool;
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
