import { readFileSync, statSync } from 'node:fs';
import { UsageError } from '../errors.js';
import type pg from 'pg';
import type { CredentialSourceName, SslMode } from '../config/schema.js';

/** A lease behind dynamic credentials. */
export interface LeaseRef {
  id: string;
  /** Seconds granted at issue (or at the last renewal). */
  duration: number;
  renewable: boolean;
  /** When it was issued (ms, by the keeper's clock). */
  issuedAt: number;
}

/** What every credential source returns. */
export interface DbCredentials {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  sslmode: SslMode;
  source: CredentialSourceName;
  lease?: LeaseRef;
  /** For `prefer`: whether the server said it accepts TLS (db/tls-offer.ts asks it). */
  tlsOffered?: boolean;
  /** The CA file to check the server's certificate against (libpq's sslrootcert). */
  sslrootcert?: string | undefined;
  /** A client certificate and its key, presented on every TLS connection (libpq's sslcert, sslkey). */
  sslcert?: string | undefined;
  sslkey?: string | undefined;
}

/**
 * Credentials with a password that is not enumerable: JSON.stringify, a log serializer, a
 * spread or a test's snapshot never carries it by accident (pg-pool keeps its own password the
 * same way). Code that needs it reads it by name. Every source builds its credentials here.
 */
export function dbCredentials(fields: DbCredentials): DbCredentials {
  const { password, ...rest } = fields;
  return Object.defineProperty(rest, 'password', { value: password, enumerable: false }) as DbCredentials;
}

/**
 * node-postgres options for a set of credentials, with libpq's meanings: `prefer` encrypts when
 * the server offers TLS (settled beforehand by db/tls-offer.ts, as node-postgres cannot fall
 * back) and does not check the certificate, as libpq does not; `allow` and `disable` do not
 * encrypt; `require` encrypts without checking the certificate; `verify-*` check it.
 */
export function toPgConfig(c: DbCredentials): pg.ClientConfig {
  // libpq: with a root certificate, `require` checks the chain as verify-ca does.
  // libpq 16: sslrootcert=system is the system's trust store, and then always verify-full.
  const system = c.sslrootcert === 'system';
  const mode = system ? 'verify-full' : c.sslmode === 'require' && c.sslrootcert ? 'verify-ca' : c.sslmode;
  const ca = c.sslrootcert && !system && (mode === 'verify-ca' || mode === 'verify-full') ? readRootCert(c.sslrootcert) : undefined;
  const ssl =
    mode === 'require' || (mode === 'prefer' && c.tlsOffered === true)
      ? { rejectUnauthorized: false }
      : mode === 'verify-ca'
        ? // The chain, not the name: libpq's verify-ca.
          { rejectUnauthorized: true, ...(ca ? { ca } : {}), checkServerIdentity: () => undefined }
        : mode === 'verify-full'
          ? { rejectUnauthorized: true, ...(ca ? { ca } : {}) }
          : false;
  // libpq presents the client certificate on every TLS connection, whatever the mode.
  return { host: c.host, port: c.port, database: c.database, user: c.user, password: c.password, ssl: ssl && { ...ssl, ...clientCertificate(c) } };
}

/** The client certificate and key, read and checked as libpq checks them; nothing without a certificate. */
function clientCertificate(c: Pick<DbCredentials, 'sslcert' | 'sslkey'>): { cert?: Buffer; key?: Buffer } {
  if (!c.sslcert) return {};
  const hint = 'give the client certificate and its key together: --sslcert and --sslkey on set delphi-db-config (or PGSSLCERT and PGSSLKEY)';
  if (!c.sslkey) throw new UsageError(`the client certificate ${c.sslcert} has no key (sslkey)`, hint);
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new UsageError(`the ${what} ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, hint);
    }
  };
  const cert = read(c.sslcert, 'client certificate (sslcert)');
  checkKeyFileMode(c.sslkey);
  return { cert, key: read(c.sslkey, 'client key (sslkey)') };
}

/**
 * libpq's rule for the client's private key: a regular file no one else may read — 0600 or less
 * when it is the user's own, 0640 or less when root owns it (a key shared through a group).
 * A key others can read is refused, not used.
 */
export function checkKeyFileMode(file: string): void {
  let stat;
  try {
    stat = statSync(file);
  } catch (err) {
    throw new UsageError(`the client key (sslkey) ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 'name the PEM file of the private key that belongs to the client certificate (--sslkey, PGSSLKEY)');
  }
  if (!stat.isFile()) throw new UsageError(`the client key (sslkey) ${file} is not a regular file`, 'name the PEM file of the private key (--sslkey, PGSSLKEY)');
  const open = stat.uid === 0 ? stat.mode & 0o037 : stat.mode & 0o077;
  if (open !== 0) {
    throw new UsageError(
      `the client key (sslkey) ${file} may be read by others (mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')})`,
      `chmod 600 ${file} (or 640, owned by root, for a key shared through a group); libpq refuses it too`,
    );
  }
}

function readRootCert(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`the sslrootcert ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 'name the PEM file of the CA that signed PostgreSQL\'s certificate (--sslrootcert, PGSSLROOTCERT, or ~/.postgresql/root.crt)');
  }
}

/** A libpq connection URL (for PG_DSN); the password is URL-encoded. */
export function toDsn(c: DbCredentials): string {
  const enc = encodeURIComponent;
  const files = (['sslrootcert', 'sslcert', 'sslkey'] as const).map((k) => (c[k] ? `&${k}=${enc(c[k])}` : '')).join('');
  return `postgresql://${enc(c.user)}:${enc(c.password)}@${c.host.includes(':') ? `[${c.host}]` : c.host}:${c.port}/${enc(c.database)}?sslmode=${c.sslmode}${files}`;
}

/** For logs and status: who and where, never the password. */
export function describeCredentials(c: DbCredentials): string {
  return `${c.user}@${c.host}:${c.port}/${c.database} (${c.source})`;
}
