import { isIP } from 'node:net';
import { createConnection } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { dbCredentials, type DbCredentials } from './credentials.js';

/**
 * libpq's `sslmode=prefer` — its default — tries TLS first and goes without only when the server
 * has none. node-postgres cannot fall back once it has asked, so without this `prefer` meant no
 * TLS at all: the admin's and every lease's password in clear to a server that offers TLS.
 * Before connecting, eos asks the server the question a libpq client asks first (PostgreSQL's
 * SSLRequest: answered `S` or `N`) and settles `prefer` to TLS or not, the way libpq would end up.
 *
 * The answer is kept a minute per server: a rotation does not ask again, a server that gains
 * TLS is found soon. When the server does say `S`, the probe completes the TLS handshake before
 * closing, so the server sees a client that sent nothing, which it does not log.
 */

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
const REMEMBER_MS = 60_000;
const offers = new Map<string, { offered: boolean; at: number }>();

/** Whether the PostgreSQL server at host:port accepts TLS; false when it cannot be asked (the connection then says why). */
export function serverOffersTls(host: string, port: number, timeoutMs = 5000): Promise<boolean> {
  const key = `${host}:${port}`;
  const known = offers.get(key);
  if (known && performance.now() - known.at < REMEMBER_MS) return Promise.resolve(known.offered);
  return new Promise<boolean>((resolve) => {
    const socket = createConnection({ host, port, timeout: timeoutMs });
    let settled = false;
    const done = (offered: boolean, remember: boolean) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (remember) offers.set(key, { offered, at: performance.now() });
      resolve(offered);
    };
    socket.once('connect', () => socket.write(SSL_REQUEST));
    socket.once('timeout', () => done(false, false));
    socket.once('error', () => done(false, false));
    socket.once('data', (answer: Buffer) => {
      if (answer[0] !== 0x53 /* S */) return done(false, answer[0] === 0x4e /* N */);
      socket.setTimeout(0);
      const secure = tlsConnect({ socket, rejectUnauthorized: false, ...(isIP(host) ? {} : { servername: host }) });
      const close = () => {
        secure.destroy();
        done(true, true);
      };
      secure.once('secureConnect', close);
      secure.once('error', close);
      secure.setTimeout(timeoutMs, close);
    });
  });
}

/** Credentials with `prefer` settled by asking the server; any other mode as it is. */
export async function settleTls(c: DbCredentials): Promise<DbCredentials> {
  // A Unix socket is never encrypted, by libpq either.
  if (c.sslmode !== 'prefer' || c.host.startsWith('/')) return c;
  const offered = await serverOffersTls(c.host, c.port);
  return dbCredentials({ ...c, password: c.password, tlsOffered: offered });
}

/** Forgets what servers answered (tests that change a server's TLS). */
export function forgetTlsOffers(): void {
  offers.clear();
}
