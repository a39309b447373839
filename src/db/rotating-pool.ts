import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from 'pino';
import { DatabaseUnreachableError, EosError, ExitCode } from '../errors.js';
import { redactString } from '../redact.js';
import { backoffDelay, QUERY_BACKOFF } from '../util/backoff.js';
import { sleep, systemClock, type Clock, type Timer } from '../util/clock.js';
import { describeCredentials, toPgConfig, type DbCredentials } from './credentials.js';
import type { TargetSessionAttrs } from '../config/constants.js';
import { connectToTarget, hostsOf } from './host-locator.js';
import { describeHosts, hostAddress } from './hosts.js';

/**
 * A pg.Pool façade whose credentials change under it without a failed query (docs/design.md §6). On a
 * rotation: build a pool with the new credentials, prove it (SELECT 1), send new queries to it,
 * let the old pool finish its checked-out clients, and only then let the keeper revoke the old
 * lease. When PostgreSQL refuses the credentials anyway (an outside revocation, an expiry), ask
 * the keeper whether the lease still lives, rotate at once if not, and retry the query once —
 * reads only: a write is never sent twice.
 */

/** Login refused, privileges gone, role gone: the credentials may be dead. */
const CREDENTIAL_ERRORS = new Set(['28P01', '28000', '42501', '42704']);
/**
 * The session was ended under us: a revocation terminating a dropped role's sessions, or the
 * server shutting down (a restart, a failover). Which one, the lease says.
 */
const SESSION_ENDED = new Set(['57P01', '57P02']);
/** No session could be made: the server is down or starting. Nothing was sent. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', '57P03', '08001', '08004', '08006']);

const DEFAULT_POOL_SIZE = 10;

/** How long reads are retried through a restart or failover, unless configured otherwise. */
export const DEFAULT_RETRY_WINDOW_MS = 15_000;

/**
 * The server is read-only: a demoted primary, or a standby, refusing a write. The statement did
 * not run, so it may go to the host that now accepts writes — a write included.
 */
const READ_ONLY_SERVER = '25006';

type FailureKind = 'credentials' | 'session-ended' | 'unreachable' | 'read-only' | 'pool-ended' | 'other';

function failureKind(err: unknown): FailureKind {
  const code = (err as { code?: string }).code ?? '';
  if (CREDENTIAL_ERRORS.has(code)) return 'credentials';
  if (code === READ_ONLY_SERVER) return 'read-only';
  if (SESSION_ENDED.has(code)) return 'session-ended';
  if (UNREACHABLE.has(code) || /timeout exceeded when trying to connect/i.test(errorMessage(err))) return 'unreachable';
  if (isPoolEnded(err)) return 'pool-ended';
  if (code.startsWith('08') || isConnectionLost(err)) return 'session-ended';
  return 'other';
}

export interface PoolStats {
  generation: number;
  rotations: number;
  source: string;
  user: string;
  total: number;
  idle: number;
  waiting: number;
  retried: number;
  /** Queries answered, queries that failed after every retry, and writes whose fate is unknown. */
  queries: { ok: number; failed: number; inDoubt: number };
  lastError: string | null;
  /** The host the pool's sessions go to, whether it is a standby, and how often it moved. */
  host: string;
  standby: boolean;
  hostMoves: number;
}

/**
 * Whoever keeps the pool's credentials alive (the lease keeper, wired in credentials/): the pool
 * asks it, after PostgreSQL refused the credentials, whether they still live and for new ones.
 */
export interface CredentialGuard {
  /** The credentials held now (ahead of the pool while a switch is under way). */
  readonly credentials: DbCredentials | undefined;
  leaseValid(): Promise<boolean>;
  rotateNow(reason: string): Promise<void>;
  /** Resolves when the step in progress (a rotation and its switch) is done. */
  idle(): Promise<void>;
}

export interface RotatingPoolOptions {
  credentials: DbCredentials;
  guard?: CredentialGuard | undefined;
  /**
   * How long a read is retried (jittered backoff from ~100 ms) while PostgreSQL restarts or fails
   * over; writes are retried only when they never reached the server.
   */
  retryWindowMs?: number | undefined;
  /** Size and timeouts of each generation's pg.Pool. */
  pool?: Pick<pg.PoolConfig, 'max' | 'idleTimeoutMillis' | 'connectionTimeoutMillis' | 'application_name'>;
  log?: Logger;
  /** Times the retry window, its waits and the drain; the system clock unless a test gives one. */
  clock?: Clock;
  /** Spreads the retries' waits. */
  random?: () => number;
  /**
   * Which of several hosts the sessions go to (libpq's target_session_attrs), over the
   * credentials' own: the dashboard reads from a standby with `prefer-standby`.
   */
  want?: TargetSessionAttrs | undefined;
  /** How long a standby's refusal of a freshly issued login is waited out (db/host-locator.ts). */
  replayWaitMs?: number | undefined;
}

/**
 * A write was sent and the session ended before PostgreSQL answered (a primary dying, a
 * failover): it may or may not have committed. Sending it again could apply it twice, so eos
 * does not; the caller decides (an idempotent write with a unique key can be checked and resent).
 */
export class WriteInDoubtError extends EosError {
  constructor(where: string, cause: unknown) {
    super(`a write was sent to ${where} and the session ended before an answer: it may or may not have committed (not retried)`, {
      exitCode: ExitCode.databaseUnreachable,
      hint: 'check whether it committed before sending it again (a unique key makes that a lookup)',
      cause,
    });
  }
}

/** The search for a host that fits took longer than what was left of a query's retry window. */
export class HostSearchTimeout extends DatabaseUnreachableError {
  constructor(hosts: string, ms: number) {
    super(`no host of ${hosts} was found to fit within the retry window (${Math.round(ms / 100) / 10} s)`, 'a failover may still be under way; raise database.retryWindow, or check that every listed host answers (a host that drops packets costs a connect timeout)');
  }
}

export class CredentialsExpiredError extends EosError {
  constructor(detail: string) {
    super(`database credentials expired and no allowed source could replace them: ${detail}`, {
      exitCode: ExitCode.databaseUnreachable,
      hint: 'check Vault (eos self secrets status); allow a fallback with credentials.sources if you want one',
    });
  }
}

interface Generation {
  pool: pg.Pool;
  /** Pointed at the one host this generation's sessions go to. */
  credentials: DbCredentials;
  standby: boolean;
  number: number;
  /** Queries and checkouts sent to this pool and not yet settled. */
  pending: Set<Promise<unknown>>;
}

/** How long an old pool may take to hand out the clients its queued queries wait for. */
const DRAIN_LIMIT_MS = 30_000;

/** A statement that only reads, and so may be sent again after a failure. */
export function isReadOnlyStatement(text: string): boolean {
  const sql = text.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, '').trim();
  if (!/^(select|with|show|explain|values|table)\b/i.test(sql)) return false;
  return !/\b(insert|update|delete|merge|truncate|copy|create|alter|drop|grant|revoke|nextval|setval|pg_notify|lock)\b/i.test(sql);
}

export class RotatingPool extends EventEmitter {
  private active: Generation;
  private rotations = 0;
  private retried = 0;
  private answered = 0;
  private failedQueries = 0;
  private inDoubt = 0;
  private hostMoves = 0;
  private relocating: Promise<void> | undefined;
  /** Whether the pool's host was found to fit (always, for one host). */
  private placed: boolean;
  private lastError: string | null = null;
  /** Set while the lease is dead and nothing replaced it: what a query needing a new login meets. */
  private expiredError: CredentialsExpiredError | null = null;
  private recovering: Promise<boolean> | undefined;
  private ended = false;
  /** A server never reached is a wrong target, not a restart: fail at once instead of waiting. */
  private everServed = false;
  private readonly draining = new Set<Promise<void>>();
  private readonly clock: Clock;
  private readonly random: () => number;

  constructor(private readonly options: RotatingPoolOptions) {
    super();
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.active = { pool: this.buildPool(options.credentials), credentials: options.credentials, standby: false, number: 1, pending: new Set() };
    this.placed = hostsOf(options.credentials).length < 2;
  }

  /** Whether the target lists several hosts, so a failure may mean the primary moved. */
  private get multiHost(): boolean {
    return hostsOf(this.active.credentials).length > 1;
  }

  get credentials(): DbCredentials {
    return this.active.credentials;
  }

  get generation(): number {
    return this.active.number;
  }

  /**
   * Runs a query on the current generation. Dead credentials: rotate and retry a read once (see
   * the class comment). A server restarting or failing over: retry reads with backoff until the
   * retry window closes, and writes only when they never reached the server — without rotating
   * credentials the lease says are alive.
   */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[], options: { retryable?: boolean } = {}): Promise<pg.QueryResult<R>> {
    const readOnly = options.retryable ?? isReadOnlyStatement(text);
    const deadline = this.clock.now() + (this.options.retryWindowMs ?? DEFAULT_RETRY_WINDOW_MS);
    let failures = 0;
    for (;;) {
      // Several hosts and none found to fit yet (every host was down at start, or a standby
      // still lagging): look before sending anything to the first host of the list.
      if (!this.placed) {
        try {
          await this.relocateWithin(this.active, 'start', deadline);
        } catch (err) {
          failures += 1;
          const wait = backoffDelay(QUERY_BACKOFF, failures, this.random);
          if (this.clock.now() + wait >= deadline) throw this.noted(err);
          this.retried += 1;
          await sleep(this.clock, wait);
          continue;
        }
      }
      const generation = this.active;
      try {
        const result = await this.track(generation, generation.pool.query<R>(text, values));
        this.everServed = true;
        this.answered += 1;
        return result;
      } catch (err) {
        const kind = failureKind(err);
        if (kind === 'other') throw this.noted(err);
        if (kind === 'read-only') {
          // A demoted primary or a standby refused a statement that did not run: find the host
          // that accepts it now, and send it there (a write too), within the retry window.
          // Only a pool that wants the writable server follows: a reader on a standby has nowhere to go.
          const want = this.options.want ?? generation.credentials.targetSessionAttrs ?? 'any';
          if (!this.multiHost || (want !== 'read-write' && want !== 'primary')) throw this.noted(err);
          failures += 1;
          const wait = backoffDelay(QUERY_BACKOFF, failures, this.random);
          if (this.clock.now() + wait >= deadline) throw this.noted(err);
          // Always the backoff too: a 25006 that is no failover (relayed from a read-only foreign
          // server) must not turn into a loop of logins.
          const searched = await this.relocateWithin(generation, 'the server became read-only', deadline).catch((e: unknown) => e);
          if (searched instanceof HostSearchTimeout) throw this.noted(err);
          await sleep(this.clock, wait);
          if (this.clock.now() >= deadline) throw this.noted(err);
          this.retried += 1;
          continue;
        }
        // The pool was rotated under the query before it was sent: send it to the new one.
        if (kind === 'pool-ended' && generation !== this.active) continue;
        if (kind === 'credentials' || kind === 'pool-ended' || (kind === 'session-ended' && !(await this.leaseAlive(generation)))) {
          return this.afterDeadCredentials<R>(err, generation, text, values, readOnly);
        }
        // The server, not the credentials: a restart, a failover, the network.
        // One host that never answered is a wrong target, not a restart; several may be mid-failover.
        if (!this.everServed && !this.multiHost) throw this.noted(err);
        if (kind !== 'unreachable' && !readOnly) {
          // It may have run: never twice.
          this.inDoubt += 1;
          throw this.noted(new WriteInDoubtError(hostAddress(generation.credentials), err));
        }
        failures += 1;
        const wait = backoffDelay(QUERY_BACKOFF, failures, this.random);
        if (this.clock.now() + wait >= deadline) throw this.noted(err);
        this.retried += 1;
        // Several hosts: the primary may have moved; look for the host that fits now. A search
        // that ran out of the window leaves the query where it failed: not sent there again.
        if (this.multiHost) {
          const searched = await this.relocateWithin(generation, 'the server went away', deadline).catch((e: unknown) => e);
          if (searched instanceof HostSearchTimeout) throw this.noted(err);
        }
        await sleep(this.clock, wait);
        if (this.clock.now() >= deadline) throw this.noted(err);
      }
    }
  }

  /** The credentials were refused or their session killed: ask the keeper, rotate, retry a read once. */
  private async afterDeadCredentials<R extends pg.QueryResultRow>(err: unknown, generation: Generation, text: string, values: unknown[] | undefined, readOnly: boolean): Promise<pg.QueryResult<R>> {
    const code = (err as { code?: string }).code;
    const stillValid = await this.recover(generation, code);
    // A refused privilege on live credentials on an unchanged pool is a real permission error.
    if (code === '42501' && stillValid && generation === this.active) throw this.noted(err);
    if (!readOnly && !isPoolEnded(err)) throw this.noted(err);
    if (this.expiredError) throw this.expiredError;
    this.retried += 1;
    try {
      const result = await this.track(this.active, this.active.pool.query<R>(text, values));
      this.answered += 1;
      return result;
    } catch (retryErr) {
      throw this.noted(retryErr);
    }
  }

  /**
   * Whether the lease behind a generation still lives: true for credentials nobody keeps (static
   * ones end only with the server), false once the keeper has moved on to new ones.
   */
  private async leaseAlive(generation: Generation): Promise<boolean> {
    const guard = this.options.guard;
    if (!guard) return true;
    if (guard.credentials?.lease?.id !== generation.credentials.lease?.id) return false;
    return guard.leaseValid();
  }

  /** A client for a transaction; release it as with pg.Pool. It belongs to the current generation. */
  async connect(): Promise<pg.PoolClient> {
    return this.track(this.active, this.active.pool.connect()).catch((err: unknown) => {
      throw this.expiredError && failureKind(err) === 'credentials' ? this.expiredError : err;
    });
  }

  /**
   * Switches to new credentials: the new pool must answer SELECT 1 before any query goes to it;
   * resolves once the old pool has finished its work and closed.
   */
  async switchTo(next: DbCredentials, reason: string): Promise<void> {
    if (this.ended) return;
    // Several hosts: the new login goes to the host that fits now (waiting out a standby that
    // has not replayed the new role yet); the located session is the first proof.
    let credentials = next;
    let standby = false;
    if (hostsOf(next).length > 1) {
      const located = await connectToTarget(next, this.locateOptions());
      await located.client.end().catch(() => undefined);
      ({ credentials, standby } = located);
    }
    const candidate = this.buildPool(credentials);
    const old = this.active;
    try {
      // Log in as many sessions as the old pool has busy or idle before any query moves over:
      // logins (SCRAM) cost milliseconds of CPU each, and paid here they stay off the queries.
      const sessions = Math.max(1, Math.min(old.pool.totalCount, this.poolSize()));
      const logins = await Promise.allSettled(Array.from({ length: sessions }, () => candidate.connect()));
      const clients = logins.flatMap((l) => (l.status === 'fulfilled' ? [l.value] : []));
      try {
        // Every client goes back before anything throws: end() would wait for one kept out.
        const refused = logins.find((l) => l.status === 'rejected');
        if (refused) throw refused.reason;
        await clients[0]?.query('SELECT 1');
      } finally {
        for (const client of clients) client.release();
      }
    } catch (err) {
      await candidate.end().catch(() => undefined);
      throw err;
    }
    // What is active now: a relocation may have replaced `old` while the logins ran (it drained
    // `old` itself); the generation replaced here is the one to drain.
    const replaced = this.active;
    this.active = { pool: candidate, credentials, standby, number: replaced.number + 1, pending: new Set() };
    if (hostsOf(next).length > 1) this.placed = true;
    this.rotations += 1;
    this.expiredError = null;
    this.options.log?.info({ generation: this.active.number, to: describeCredentials(credentials), reason }, 'pool switched to new credentials');
    this.emit('switched', { generation: this.active.number, source: credentials.source, reason });
    await this.drain(replaced);
  }

  /**
   * Points the pool at the host that fits now, with the same credentials: at start, and when
   * the host in use went away or turned read-only (a failover). One search at a time for however
   * many queries failed together; nothing changes when the same host still fits. The old pool
   * drains in the background (the query that called this is not among what it waits for).
   */
  relocate(from: { credentials: DbCredentials } = this.active, reason = 'start', connectionTimeoutMs?: number): Promise<void> {
    if (this.ended || from !== this.active) return Promise.resolve();
    this.relocating ??= (async () => {
      const old = this.active;
      const located = await connectToTarget(old.credentials, this.locateOptions(connectionTimeoutMs));
      await located.client.end().catch(() => undefined);
      if (this.active !== old || this.ended) return;
      this.placed = true;
      const same = located.credentials.host === old.credentials.host && located.credentials.port === old.credentials.port;
      if (same) {
        old.standby = located.standby;
        return;
      }
      this.active = { pool: this.buildPool(located.credentials), credentials: located.credentials, standby: located.standby, number: old.number + 1, pending: new Set() };
      if (reason !== 'start') this.hostMoves += 1;
      const to = hostAddress(located.credentials);
      this.options.log?.info({ generation: this.active.number, from: hostAddress(old.credentials), to, standby: located.standby, reason }, 'pool moved to another host');
      this.emit('switched', { generation: this.active.number, source: located.credentials.source, reason: `moved to ${to}: ${reason}` });
      void this.drain(old);
    })().finally(() => {
      this.relocating = undefined;
    });
    return this.relocating;
  }

  /**
   * relocate(), waited for no longer than the query's retry window: a host that swallows
   * packets costs a connect timeout per search, which must not hold every query past its window.
   * The search goes on in the background and serves the next query.
   */
  private async relocateWithin(from: { credentials: DbCredentials }, reason: string, deadline: number): Promise<void> {
    let timer: Timer | undefined;
    const remaining = Math.max(0, deadline - this.clock.now());
    const late = new Promise<void>((_, reject) => {
      timer = this.clock.setTimeout(() => reject(new HostSearchTimeout(describeHosts(hostsOf(from.credentials)), remaining)), remaining);
    });
    // Each host's connect given its share of what is left, so one search can try them all in time.
    const search = this.relocate(from, reason, Math.max(1000, Math.min(10_000, Math.floor(remaining / hostsOf(from.credentials).length))));
    search.catch(() => undefined);
    try {
      await Promise.race([search, late]);
    } finally {
      timer?.cancel();
    }
  }

  private locateOptions(connectionTimeoutMs?: number) {
    return { want: this.options.want, application: this.options.pool?.application_name ?? 'eos', replayWaitMs: this.options.replayWaitMs, connectionTimeoutMs, clock: this.clock, log: this.options.log };
  }

  /**
   * The lease died and no fallback could serve. The sessions already open still work (PostgreSQL
   * checks VALID UNTIL only at login), so queries keep going to them; a query that needs a new
   * login fails with this clear error instead of PostgreSQL's, until new credentials arrive.
   */
  markExpired(detail: string): void {
    this.expiredError = new CredentialsExpiredError(detail);
    this.emit('expired', { detail });
  }

  stats(): PoolStats {
    const pool = this.active.pool;
    return {
      generation: this.active.number,
      rotations: this.rotations,
      source: this.active.credentials.source,
      user: this.active.credentials.user,
      total: pool.totalCount,
      idle: pool.idleCount,
      waiting: pool.waitingCount,
      retried: this.retried,
      queries: { ok: this.answered, failed: this.failedQueries, inDoubt: this.inDoubt },
      lastError: this.lastError,
      host: hostAddress(this.active.credentials),
      standby: this.active.standby,
      hostMoves: this.hostMoves,
    };
  }

  /** Closes every generation (checked-out clients finish first). Revoke the lease after this. */
  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await Promise.all([...this.draining]);
    await this.active.pool.end().catch(() => undefined);
  }

  // ---------------------------------------------------------------------------------------------

  private poolSize(): number {
    return this.options.pool?.max ?? DEFAULT_POOL_SIZE;
  }

  private buildPool(credentials: DbCredentials): pg.Pool {
    // No maxLifetime: a session on live credentials is never cut (rotations end old pools, a
    // revocation ends its role's sessions), so open sessions can serve through a Vault outage.
    const pool = new pg.Pool({
      ...toPgConfig(credentials),
      max: DEFAULT_POOL_SIZE,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 10_000,
      application_name: 'eos',
      ...this.options.pool,
    });
    // An idle client whose session was ended (revocation, restart) must not crash the process.
    pool.on('error', (err) => this.noteError(err));
    return pool;
  }

  /** Remembers a query or checkout of a generation until it settles (the drain waits for them). */
  private track<T>(generation: Generation, work: Promise<T>): Promise<T> {
    generation.pending.add(work);
    const forget = () => generation.pending.delete(work);
    work.then(forget, forget);
    return work;
  }

  /**
   * Closes an old generation once what was sent to it has settled: pg.Pool.end() would strand
   * queries still queued for a client. Waits on those very promises (no polling), at most
   * DRAIN_LIMIT_MS; end() itself then waits for checked-out clients to come back.
   */
  private drain(generation: Generation): Promise<void> {
    const done = (async () => {
      let timer: Timer | undefined;
      // Not awaited by anyone but the drain: it must not keep the process alive.
      const limit = new Promise<void>((resolve) => {
        timer = this.clock.setTimeout(resolve, DRAIN_LIMIT_MS);
      });
      await Promise.race([Promise.allSettled([...generation.pending]), limit]);
      timer?.cancel();
      await generation.pool.end().catch(() => undefined);
    })();
    this.draining.add(done);
    return done.finally(() => this.draining.delete(done));
  }

  /**
   * One recovery at a time for however many queries failed together: ask the keeper whether the
   * lease lives; if not, rotate now. Returns whether the credentials were still valid.
   */
  private async recover(generation: Generation, code: string | undefined): Promise<boolean> {
    if (generation !== this.active) return true; // already switched by someone else
    const guard = this.options.guard;
    if (!guard) return true;
    // The keeper has already moved to new credentials and is switching the pool: wait for it.
    if (guard.credentials?.lease?.id !== generation.credentials.lease?.id) {
      await guard.idle();
      return false;
    }
    this.recovering ??= (async () => {
      const valid = await guard.leaseValid();
      // Only a refused privilege can be innocent; a refused login or an ended session on these
      // credentials means they are dead whatever Vault still says (or cannot say) about the lease.
      if ((!valid || code !== '42501') && generation === this.active) {
        await guard.rotateNow('credentials refused by PostgreSQL');
        // A rotation that found no new lease falls back (or fails) in a step of its own: wait for it too.
        await guard.idle();
      }
      return valid;
    })().finally(() => {
      this.recovering = undefined;
    });
    return this.recovering;
  }

  private noteError(err: unknown): void {
    this.lastError = redactString(errorMessage(err));
  }

  /** Notes the error for stats and hands it back to be thrown. */
  private noted(err: unknown): unknown {
    this.noteError(err);
    this.failedQueries += 1;
    return err;
  }
}

function isPoolEnded(err: unknown): boolean {
  return err instanceof Error && /Cannot use a pool after calling end on the pool/.test(err.message);
}

function isConnectionLost(err: unknown): boolean {
  return err instanceof Error && /Connection terminated|ECONNRESET|EPIPE|Client has encountered a connection error/i.test(err.message);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
