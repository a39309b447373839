import pg from 'pg';
import type { Logger } from 'pino';
import type { TargetSessionAttrs } from '../config/constants.js';
import { DatabaseUnreachableError } from '../errors.js';
import { sleep, systemClock, type Clock } from '../util/clock.js';
import { dbCredentials, toPgConfig, type DbCredentials } from './credentials.js';
import { describeHosts, hostAddress, type HostPort } from './hosts.js';
import { settleTls } from './tls-offer.js';

/**
 * libpq's host selection for node-postgres, which knows one host: try the hosts in order, ask
 * each what it is (`pg_is_in_recovery()`, `transaction_read_only`) and keep the first session
 * that fits `target_session_attrs`. Which server is the primary is never stored: it is asked
 * at every (re)connection, so eos follows a failover the site's orchestrator made.
 *
 * One thing libpq cannot know and eos must: a role Vault just created on the primary reaches a
 * standby only when the standby replays it. Until then the standby refuses the login as if the
 * password were wrong. When another host accepts the same login, the refusal is replication
 * lag, not a bad password: the standby is tried again for `replayWaitMs`, then named.
 */
export interface LocatedSession {
  client: pg.Client;
  /** The credentials pointed at the host found (host, port, TLS settled for it). */
  credentials: DbCredentials;
  standby: boolean;
}

export interface LocateOptions {
  /** Overrides the credentials' own target_session_attrs (the dashboard's --read-from). */
  want?: TargetSessionAttrs | undefined;
  application: string;
  /** How long a standby's refusal of a login another host accepts is waited out (default 10 s). */
  replayWaitMs?: number | undefined;
  connectionTimeoutMs?: number | undefined;
  clock?: Clock | undefined;
  log?: Logger | undefined;
}

export const DEFAULT_REPLAY_WAIT_MS = 10_000;
const REPLAY_POLL_MS = 250;
/**
 * What a standby answers for a login it has not replayed yet: 28P01, as for a wrong password.
 * (28000 is pg_hba, NOLOGIN or a missing client certificate: never lag.)
 */
const NOT_REPLAYED_YET = '28P01';

/** What one pass found on each host. */
interface Attempt {
  host: HostPort;
  outcome: 'fits' | 'does-not-fit' | 'login-refused' | 'failed';
  standby?: boolean;
  error?: unknown;
}

/** Every host of the credentials, in order. */
export function hostsOf(c: Pick<DbCredentials, 'host' | 'port' | 'hosts'>): HostPort[] {
  return c.hosts && c.hosts.length > 0 ? c.hosts : [{ host: c.host, port: c.port }];
}

/** The credentials as they connect to one host of their list. */
export function atHost(c: DbCredentials, host: HostPort): DbCredentials {
  return dbCredentials({ ...c, password: c.password, host: host.host, port: host.port, tlsOffered: undefined });
}

/** Whether a session on a server in this state is what `want` asks for (libpq's rules). */
export function fits(want: TargetSessionAttrs, state: { standby: boolean; readOnly: boolean }): boolean {
  switch (want) {
    case 'read-write':
      return !state.readOnly;
    case 'read-only':
      return state.readOnly;
    case 'primary':
      return !state.standby;
    case 'standby':
    case 'prefer-standby':
      return state.standby;
    default:
      return true;
  }
}

export class ReplicationLagError extends DatabaseUnreachableError {
  constructor(lagging: HostPort[], accepting: HostPort, user: string, waitedMs: number) {
    super(
      `the standby ${describeHosts(lagging)} has not replayed the login ${user} after ${Math.round(waitedMs / 1000)} s, while ${hostAddress(accepting)} accepts it: replication lag`,
      "check the standby's replay (pg_stat_replication on the primary: replay_lag); allow longer with database.replayWait, or read from the primary (--read-from primary)",
    );
  }
}

export class NoHostFitsError extends DatabaseUnreachableError {
  constructor(want: TargetSessionAttrs, attempts: Attempt[]) {
    const each = attempts.map((a) => `${hostAddress(a.host)} ${a.outcome === 'does-not-fit' ? (a.standby ? 'is a standby' : 'is not a standby') : a.outcome === 'login-refused' ? 'refused the login' : `failed: ${(a.error as Error)?.message ?? String(a.error)}`}`);
    super(`no host fits target_session_attrs=${want}: ${each.join('; ')}`, 'a failover may be under way (eos retries reads for database.retryWindow); otherwise check the host list and target_session_attrs (eos self secrets status)');
  }
}

/**
 * A session on the first host that fits, as libpq's `target_session_attrs` would choose it.
 * One host asked for `any`: a plain connection, its error unchanged (every existing caller's
 * classification stays as it was). Several: see the module comment.
 */
export async function connectToTarget(c: DbCredentials, options: LocateOptions): Promise<LocatedSession> {
  const hosts = hostsOf(c);
  const want = options.want ?? c.targetSessionAttrs ?? 'any';
  const clock = options.clock ?? systemClock;
  const started = clock.now();
  const waitMs = options.replayWaitMs ?? DEFAULT_REPLAY_WAIT_MS;
  for (;;) {
    const { found, fallback, attempts } = await tryHosts(c, hosts, want, options);
    if (found) {
      await fallback?.client.end().catch(() => undefined);
      return found;
    }
    const failed = attempts.filter((a) => a.outcome === 'failed' || a.outcome === 'login-refused');
    // One host, or every host refused or unreachable: the first error as PostgreSQL gave it, so
    // a wrong password stays a wrong password and a dead server stays unreachable.
    if (!fallback && !attempts.some((a) => a.outcome === 'does-not-fit') && failed.length === attempts.length) {
      throw (failed.find((a) => a.outcome === 'login-refused') ?? failed[0])?.error;
    }
    const lagging = attempts.filter((a) => a.outcome === 'login-refused').map((a) => a.host);
    // Lag only when the primary took the login: the role exists where Vault made it. A standby
    // that accepts a login the primary refuses is behind the other way (a dropped role).
    const accepting = attempts.find((a) => (a.outcome === 'does-not-fit' || a.outcome === 'fits') && a.standby === false)?.host;
    if (lagging.length > 0 && !accepting) {
      await fallback?.client.end().catch(() => undefined);
      throw (attempts.find((a) => a.outcome === 'login-refused') as Attempt).error;
    }
    if (lagging.length > 0 && accepting) {
      if (clock.now() - started + REPLAY_POLL_MS <= waitMs) {
        await fallback?.client.end().catch(() => undefined);
        options.log?.debug({ lagging: describeHosts(lagging) }, 'waiting for a standby to replay the login');
        await sleep(clock, REPLAY_POLL_MS);
        continue;
      }
      if (!fallback) throw new ReplicationLagError(lagging, accepting, c.user, clock.now() - started);
      options.log?.warn({ lagging: describeHosts(lagging), using: hostAddress(accepting) }, 'standby has not replayed the login: reading from the primary');
    }
    if (fallback) return fallback;
    throw new NoHostFitsError(want, attempts);
  }
}

/**
 * One pass over the hosts. For prefer-standby, the first session that is not a standby is kept
 * as the fallback (libpq's second pass) instead of being closed.
 */
async function tryHosts(c: DbCredentials, hosts: HostPort[], want: TargetSessionAttrs, options: LocateOptions): Promise<{ found?: LocatedSession; fallback?: LocatedSession; attempts: Attempt[] }> {
  const attempts: Attempt[] = [];
  let fallback: LocatedSession | undefined;
  for (const host of hosts) {
    const credentials = await settleTls(atHost(c, host));
    const client = new pg.Client({ ...toPgConfig(credentials), application_name: options.application, connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000 });
    // An error after connect (the server going away) must not crash the process.
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      attempts.push({ host, outcome: (err as { code?: string }).code === NOT_REPLAYED_YET ? 'login-refused' : 'failed', error: err });
      continue;
    }
    if (hosts.length === 1 && want === 'any') return { found: { client, credentials, standby: false }, attempts };
    let state: { standby: boolean; readOnly: boolean };
    try {
      const { rows } = await client.query<{ standby: boolean; ro: string }>("SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS ro");
      state = { standby: rows[0]?.standby === true, readOnly: rows[0]?.ro === 'on' };
    } catch (err) {
      await client.end().catch(() => undefined);
      attempts.push({ host, outcome: 'failed', error: err });
      continue;
    }
    const session = { client, credentials, standby: state.standby };
    if (fits(want, state)) {
      attempts.push({ host, outcome: 'fits', standby: state.standby });
      return { found: session, ...(fallback ? { fallback } : {}), attempts };
    }
    attempts.push({ host, outcome: 'does-not-fit', standby: state.standby });
    if (want === 'prefer-standby' && !fallback) fallback = session;
    else await client.end().catch(() => undefined);
  }
  return { ...(fallback ? { fallback } : {}), attempts };
}
