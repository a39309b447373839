import { readFileSync } from 'node:fs';
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
  return { host: c.host, port: c.port, database: c.database, user: c.user, password: c.password, ssl };
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
  const root = c.sslrootcert ? `&sslrootcert=${enc(c.sslrootcert)}` : '';
  return `postgresql://${enc(c.user)}:${enc(c.password)}@${c.host.includes(':') ? `[${c.host}]` : c.host}:${c.port}/${enc(c.database)}?sslmode=${c.sslmode}${root}`;
}

/** For logs and status: who and where, never the password. */
export function describeCredentials(c: DbCredentials): string {
  return `${c.user}@${c.host}:${c.port}/${c.database} (${c.source})`;
}
