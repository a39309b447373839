import { isIP } from 'node:net';
import { connect, type PeerCertificate, type TLSSocket } from 'node:tls';
import type pg from 'pg';
import type { SslMode } from '../config/constants.js';
import type { VaultSettings } from '../config/vault-settings.js';
import { tlsConnectOptions } from '../vault/transport.js';

/**
 * What `eos self secrets test` says about the two connections that carry secrets: the protocol,
 * whose certificate it was and until when, and whether it was checked — so "TLS" on a
 * production site is proven, not assumed. A certificate that ends within 30 days, or a mode that
 * does not check it, is a warning.
 */

export interface TlsFinding {
  /** One line: `TLSv1.3, CN=vault.example.com until 2027-03-01, verified`. */
  detail: string;
  /** Why this is a warning, if it is one. */
  concern?: string;
}

const SOON_MS = 30 * 86400 * 1000;

function describe(protocol: string | null, cert: PeerCertificate | undefined, verified: boolean, now: number): TlsFinding {
  const subject = cert?.subject?.CN ? `CN=${cert.subject.CN}` : 'a certificate without a CN';
  const until = cert?.valid_to ? new Date(cert.valid_to) : undefined;
  const detail = `${protocol ?? 'TLS'}, ${subject}${until ? ` until ${until.toISOString().slice(0, 10)}` : ''}, ${verified ? 'verified' : 'NOT verified'}`;
  if (!verified) return { detail, concern: 'the certificate is not checked: anyone in the path could answer in its place' };
  if (until && until.getTime() - now < SOON_MS) return { detail, concern: `the certificate ends ${until.toISOString().slice(0, 10)}, within 30 days` };
  return { detail };
}

/** Vault's side, over a connection made as the client makes them (same CA, SNI, client certificate). */
export function vaultTls(settings: VaultSettings, now = Date.now()): Promise<TlsFinding> {
  const url = new URL(settings.address);
  if (url.protocol !== 'https:') return Promise.resolve({ detail: 'plain HTTP', concern: 'the Vault token crosses the network in clear (use https://)' });
  const options = tlsConnectOptions(settings);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise((resolve) => {
    const socket: TLSSocket = connect({
      host,
      port: Number(url.port || 443),
      ...options,
      // Looked at, not trusted: the answer says whether it would have been.
      rejectUnauthorized: false,
      servername: options.servername ?? (isIP(host) ? undefined : host),
      timeout: settings.timeoutSeconds * 1000,
    });
    const done = (finding: TlsFinding) => {
      socket.destroy();
      resolve(finding);
    };
    socket.once('secureConnect', () => {
      const verified = socket.authorized && !settings.tlsSkipVerify;
      const finding = describe(socket.getProtocol(), socket.getPeerCertificate(), verified, now);
      done(settings.tlsSkipVerify ? { ...finding, concern: 'VAULT_SKIP_VERIFY is on: the certificate is not checked' } : finding);
    });
    socket.once('timeout', () => done({ detail: 'no TLS answer', concern: `no TLS handshake within ${settings.timeoutSeconds} s` }));
    socket.once('error', (err: Error) => done({ detail: `TLS failed: ${err.message}`, concern: err.message }));
  });
}

/**
 * PostgreSQL's side, on a connected client: node-postgres keeps its socket as `connection.stream`.
 * Whether this host's client certificate was presented is the server's word (pg_stat_ssl's
 * client_dn): a certificate eos holds is sent only when the server asks for one.
 */
export async function postgresTls(client: pg.Client, sslmode: SslMode, now = Date.now()): Promise<TlsFinding> {
  const stream = (client as unknown as { connection?: { stream?: Partial<TLSSocket> } }).connection?.stream;
  if (!stream || typeof stream.getPeerCertificate !== 'function') {
    return { detail: `unencrypted (sslmode=${sslmode})`, concern: 'the lease password and the data cross the network in clear' };
  }
  const verified = sslmode === 'verify-full' || sslmode === 'verify-ca';
  const found = describe(stream.getProtocol?.() ?? null, stream.getPeerCertificate(), verified && stream.authorized === true, now);
  const presented = await client
    .query<{ client_dn: string | null }>('SELECT client_dn FROM pg_catalog.pg_stat_ssl WHERE pid = pg_catalog.pg_backend_pid()')
    .then((r) => r.rows[0]?.client_dn ?? null, () => null);
  const ownSubject = presented ? `; client certificate ${presented.replace(/^\//, '')} presented` : '';
  const finding = { ...found, detail: `${found.detail}${ownSubject}` };
  return sslmode === 'verify-ca' && !finding.concern ? { ...finding, detail: `${finding.detail} (the CA, not the name: verify-ca)` } : finding;
}
