import { createConnection } from 'node:net';
import { parse as parseDsn } from 'pg-connection-string';
import type { CredentialSourceName, SslMode } from '../config/schema.js';
import { SSL_MODES } from '../config/schema.js';
import type { Clock } from '../util/clock.js';
import type { VaultClient } from '../vault/client.js';
import { readEosFields } from '../vault/kv.js';
import { dbCredentials, type DbCredentials } from '../db/credentials.js';
import { isValidHost, placeOf, type DbTarget } from '../db/target.js';
import { describeHosts, isTargetSessionAttrs, parseHostList, splitHostsOfUrl, type HostPort } from '../db/hosts.js';
import type { TargetSessionAttrs } from '../config/constants.js';
import { isLoopbackHost } from '../util/loopback.js';
import { settleTls } from '../db/tls-offer.js';
import { explainDenied } from '../vault/auth.js';
import { databaseCredsSchema } from '../vault/responses.js';

/** A place credentials can come from (docs/design.md §4). `obtain` throws with the reason it could not. */
export interface CredentialSource {
  readonly name: CredentialSourceName;
  obtain(): Promise<DbCredentials>;
}

export interface SourceContext {
  env: NodeJS.ProcessEnv;
  clock: Clock;
  /** The authenticated Vault client, opened on first use; rejects when Vault cannot serve. */
  vault: () => Promise<VaultClient>;
  /** Where the database is (resolved once, with Vault KV when Vault answers). */
  target: () => Promise<DbTarget>;
  kvMount: string;
  engineMount: string;
  role: string;
  warn: (message: string) => void;
}

/** A reason a source could not serve, worded for the attempt list. */
export class SourceUnavailable extends Error {}

export function dynamicSource(ctx: SourceContext): CredentialSource {
  return {
    name: 'dynamic',
    async obtain() {
      const client = await ctx.vault();
      const target = await ctx.target();
      const path = `${ctx.engineMount}/creds/${ctx.role}`;
      // Counted from before the request: Vault's lease clock starts when it issues.
      const issuedAt = ctx.clock.now();
      const response = await client.read(path, databaseCredsSchema).catch(async (err: unknown) => {
        throw await explainDenied(client, err, path);
      });
      if (!response.data?.username || !response.data.password) {
        // A role with credential_type rsa_private_key or client_certificate issues no password.
        throw new SourceUnavailable(`${path} returned no username/password (eos needs a role with credential_type=password, the default)`);
      }
      return dbCredentials({
        ...placeOf(target),
        user: response.data.username,
        password: response.data.password,
        source: 'dynamic',
        lease: { id: response.lease_id, duration: response.lease_duration, renewable: response.renewable, issuedAt },
      });
    },
  };
}

export function kvSource(ctx: SourceContext): CredentialSource {
  return {
    name: 'kv',
    async obtain() {
      const client = await ctx.vault();
      const base = `${ctx.kvMount}/delphi/database`;
      const fields = await readEosFields(client, base, ['host', 'port', 'name', 'username', 'password']).catch(async (err: unknown) => {
        throw await explainDenied(client, err, base);
      });
      if (!fields.username || !fields.password) throw new SourceUnavailable(`no username/password at ${base}/{username,password}`);
      const target = await ctx.target();
      // The static secret may name its own server (or servers); the target's otherwise.
      const own = fields.host ? parseHostList(fields.host, fields.port ?? target.port, isValidHost, { host: `${base}/host`, port: `${base}/port` }) : undefined;
      return dbCredentials({
        ...placeOf(target),
        ...(own ? { host: own[0]?.host as string, port: own[0]?.port as number, hosts: own.length > 1 ? own : undefined } : fields.port ? { port: Number(fields.port) } : {}),
        database: fields.name ?? target.database,
        user: fields.username,
        password: fields.password,
        source: 'kv',
      });
    },
  };
}

export function envSource(ctx: SourceContext): CredentialSource {
  return {
    name: 'env',
    async obtain() {
      const dsn = ctx.env.PG_DSN;
      if (dsn) {
        // libpq's multi-host URL (what exec hands a worker on a site with standbys), which
        // pg-connection-string cannot read: the hosts are taken apart here, the rest read as one.
        const split = splitHostsOfUrl(dsn);
        const several = split && split.hosts.length > 1 ? split : undefined;
        // libpq's order: the URL's own target_session_attrs, else PGTARGETSESSIONATTRS, else any.
        const wanted = several ? (several.want ?? (ctx.env.PGTARGETSESSIONATTRS || 'any')) : undefined;
        if (several && (!several.hosts.every((h) => isValidHost(h.host) && Number.isInteger(h.port) && h.port > 0 && h.port < 65536) || !isTargetSessionAttrs(wanted as string))) {
          throw new SourceUnavailable('PG_DSN lists hosts, ports or a target_session_attrs eos cannot read');
        }
        const one = several ? several.urlFor(several.hosts[0] as HostPort) : dsn;
        // sslmode is read here, not by pg-connection-string (which warns about its own reading of it).
        const parsed = parseDsn(one.replace(/([?&])sslmode=[^&\s]*&?/, '$1').replace(/[?&]$/, '').replace(/\bsslmode=\S+/, ''));
        if (!parsed.user || !parsed.password) throw new SourceUnavailable('PG_DSN has no user or password');
        const query = new URLSearchParams(dsn.split('?')[1] ?? '');
        const sslmode = (query.get('sslmode') ?? /sslmode=(\S+)/.exec(dsn)?.[1] ?? 'prefer') as SslMode;
        return dbCredentials({
          host: parsed.host ?? 'localhost',
          port: parsed.port ? Number(parsed.port) : 5432,
          database: parsed.database ?? 'delphi',
          sslmode: (SSL_MODES as readonly string[]).includes(sslmode) ? sslmode : 'prefer',
          // libpq's: the DSN's own files, else its variables.
          sslrootcert: query.get('sslrootcert') ?? (ctx.env.PGSSLROOTCERT || undefined),
          sslcert: query.get('sslcert') ?? (ctx.env.PGSSLCERT || undefined),
          sslkey: query.get('sslkey') ?? (ctx.env.PGSSLKEY || undefined),
          user: parsed.user,
          password: parsed.password,
          source: 'env',
          ...(several ? { hosts: several.hosts, targetSessionAttrs: wanted as TargetSessionAttrs } : {}),
        });
      }
      const { DELPHI_DB_USER: user, DELPHI_DB_PASSWORD: password } = ctx.env;
      if (!user || !password) throw new SourceUnavailable('neither PG_DSN nor DELPHI_DB_USER and DELPHI_DB_PASSWORD are set');
      const target = await ctx.target();
      return dbCredentials({ ...placeOf(target), user, password, source: 'env' });
    },
  };
}

export const DEFAULT_USER = 'delphi';
const DEFAULT_HOST = 'localhost';
const DEFAULT_PORT = 5432;

/**
 * Whether the defaults source has anything to talk to: a server accepting connections at
 * localhost:5432. Only a TCP connection — a check never tries delphi/delphi on a real server.
 */
export function defaultsReachable(options: { host?: string; port?: number; timeoutMs?: number } = {}): Promise<{ reachable: boolean; reason: string }> {
  const { host = DEFAULT_HOST, port = DEFAULT_PORT, timeoutMs = 1000 } = options;
  return new Promise((resolve) => {
    const where = `${host}:${port}`;
    const socket = createConnection({ host, port, timeout: timeoutMs });
    const done = (reachable: boolean, reason: string) => {
      socket.destroy();
      resolve({ reachable, reason });
    };
    socket.once('connect', () => done(true, `a server accepts connections at ${where}; it would log in as ${DEFAULT_USER}/${DEFAULT_USER} (development credentials, not tried)`));
    socket.once('timeout', () => done(false, `nothing answers at ${where} within ${timeoutMs} ms`));
    socket.once('error', (err: NodeJS.ErrnoException) => done(false, `nothing accepts connections at ${where} (${err.code ?? err.message})`));
  });
}

/**
 * The built-in development login, for a PostgreSQL on this machine only: the target the host is
 * configured for (flags, DELPHI_DB_*, Vault KV, the config) must be a loopback address, else a
 * production host whose Vault fails would send delphi/delphi to its real database (or to
 * localhost, ignoring where the database is). Always warned.
 */
export function defaultsSource(ctx: SourceContext): CredentialSource {
  return {
    name: 'defaults',
    async obtain() {
      const target = await ctx.target();
      // Every host of a list: a standby elsewhere would otherwise receive them after a failover.
      if (!target.hosts.every((h) => isLoopbackHost(h.host))) {
        throw new SourceUnavailable(`the built-in development credentials are only tried on this machine's PostgreSQL; the target is ${describeHosts(target.hosts)}`);
      }
      ctx.warn(`USING THE BUILT-IN DEVELOPMENT CREDENTIALS ${DEFAULT_USER}/${DEFAULT_USER} on ${describeHosts(target.hosts)} (source defaults): no other source could serve; never use them in production, restrict credentials.sources to fail closed`);
      return dbCredentials({ ...placeOf(target), user: DEFAULT_USER, password: DEFAULT_USER, source: 'defaults' });
    },
  };
}

/** A source whose credentials come with `sslmode=prefer` settled against the server (db/tls-offer.ts). */
function settlingTls(factory: (ctx: SourceContext) => CredentialSource): (ctx: SourceContext) => CredentialSource {
  return (ctx) => {
    const source = factory(ctx);
    return { name: source.name, obtain: async () => settleTls(await source.obtain()) };
  };
}

export const SOURCE_FACTORIES: Record<CredentialSourceName, (ctx: SourceContext) => CredentialSource> = {
  dynamic: settlingTls(dynamicSource),
  kv: settlingTls(kvSource),
  env: settlingTls(envSource),
  defaults: settlingTls(defaultsSource),
};
