import { readFileSync, statSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { UsageError } from '../errors.js';
import type pg from 'pg';
import type { CredentialSourceName, SslMode } from '../config/schema.js';
import type { TargetSessionAttrs } from '../config/constants.js';
import { hostAddress, type HostPort } from './hosts.js';

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
  /** The host sessions go to now: the only one, or the one of `hosts` found to fit (db/host-locator.ts). */
  host: string;
  port: number;
  /** Every host of the target when it lists several (a primary and its standbys). */
  hosts?: HostPort[] | undefined;
  /** Which of `hosts` a session wants (libpq's target_session_attrs). */
  targetSessionAttrs?: TargetSessionAttrs | undefined;
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

const CLIENT_PAIR_HINT = 'give the client certificate and its own key together: --sslcert and --sslkey on set delphi-db-config (or PGSSLCERT and PGSSLKEY)';

/**
 * The client certificate and key, read and checked as libpq checks them. As in libpq, a
 * certificate file that does not exist means no certificate (a path stored in KV for every host
 * need not exist on an admin's workstation); a server that wants one then says so.
 */
function clientCertificate(c: Pick<DbCredentials, 'sslcert' | 'sslkey'>): { cert?: Buffer; key?: Buffer } {
  if (!c.sslcert) return {};
  const cert = readTlsFile(c.sslcert, `the client certificate (sslcert) ${c.sslcert}`, CLIENT_PAIR_HINT, { missingIsNone: true });
  if (!cert) return {};
  if (!c.sslkey) throw new UsageError(`the client certificate ${c.sslcert} has no key (sslkey)`, CLIENT_PAIR_HINT);
  checkKeyFileMode(c.sslkey);
  const key = readTlsFile(c.sslkey, `the client key (sslkey) ${c.sslkey}`, CLIENT_PAIR_HINT) as Buffer;
  try {
    // What the TLS handshake will do with them, now, so a wrong file is named instead of failing inside pg.
    createSecureContext({ cert, key });
  } catch (err) {
    const reason = ((err as Error).message ?? String(err)).replace(/^error:[0-9A-F]+:/, '');
    throw new UsageError(`the client certificate ${c.sslcert} and key ${c.sslkey} cannot be used (${reason})`, CLIENT_PAIR_HINT);
  }
  return { cert, key };
}

/** At most this much is read of a TLS file: a certificate chain is kilobytes, /dev/zero is endless. */
const MAX_TLS_FILE_BYTES = 1024 * 1024;

/**
 * A TLS file named by a flag, a variable or a stored (possibly hostile) KV value: a regular file
 * of sane size, or a one-line error — never a read of /dev/zero or a FIFO that blocks forever.
 */
export function readTlsFile(file: string, named: string, hint: string, options: { missingIsNone?: boolean } = {}): Buffer | undefined {
  let stat;
  try {
    stat = statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    if (options.missingIsNone && (code === 'ENOENT' || code === 'ENOTDIR')) return undefined;
    throw new UsageError(`${named} cannot be read: ${code}`, hint);
  }
  if (!stat.isFile()) throw new UsageError(`${named} is not a regular file`, hint);
  if (stat.size > MAX_TLS_FILE_BYTES) throw new UsageError(`${named} is ${stat.size} bytes, more than a certificate or key file holds`, hint);
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`${named} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, hint);
  }
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
  return readTlsFile(file, `the sslrootcert ${file}`, "name the PEM file of the CA that signed PostgreSQL's certificate (--sslrootcert, PGSSLROOTCERT, or ~/.postgresql/root.crt)") as Buffer;
}

/** A libpq connection URL (for PG_DSN); the password is URL-encoded. */
export function toDsn(c: DbCredentials): string {
  const enc = encodeURIComponent;
  const files = (['sslrootcert', 'sslcert', 'sslkey'] as const).map((k) => (c[k] ? `&${k}=${enc(c[k])}` : '')).join('');
  // Several hosts: libpq's multi-host URL, with the target_session_attrs that picks among them.
  const hosts = c.hosts && c.hosts.length > 1 ? c.hosts : [{ host: c.host, port: c.port }];
  const attrs = hosts.length > 1 && c.targetSessionAttrs ? `&target_session_attrs=${c.targetSessionAttrs}` : '';
  return `postgresql://${enc(c.user)}:${enc(c.password)}@${hosts.map(hostAddress).join(',')}/${enc(c.database)}?sslmode=${c.sslmode}${attrs}${files}`;
}

/** For logs and status: who and where, never the password. */
export function describeCredentials(c: DbCredentials): string {
  return `${c.user}@${c.host}:${c.port}/${c.database} (${c.source})`;
}
