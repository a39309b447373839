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
  const ssl =
    c.sslmode === 'require' || (c.sslmode === 'prefer' && c.tlsOffered === true)
      ? { rejectUnauthorized: false }
      : c.sslmode === 'verify-ca' || c.sslmode === 'verify-full'
        ? { rejectUnauthorized: true }
        : false;
  return { host: c.host, port: c.port, database: c.database, user: c.user, password: c.password, ssl };
}

/** A libpq connection URL (for PG_DSN); the password is URL-encoded. */
export function toDsn(c: DbCredentials): string {
  const enc = encodeURIComponent;
  return `postgresql://${enc(c.user)}:${enc(c.password)}@${c.host.includes(':') ? `[${c.host}]` : c.host}:${c.port}/${enc(c.database)}?sslmode=${c.sslmode}`;
}

/** For logs and status: who and where, never the password. */
export function describeCredentials(c: DbCredentials): string {
  return `${c.user}@${c.host}:${c.port}/${c.database} (${c.source})`;
}
