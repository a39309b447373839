import { classifyDatabaseError } from '../db/errors.js';
import { RotatingPool, type RotatingPoolOptions } from '../db/rotating-pool.js';
import { EosError } from '../errors.js';
import { systemClock } from '../util/clock.js';
import { parseDurationSeconds } from '../util/duration.js';
import type { ChainOptions } from './build-chain.js';
import { fallbackFailed } from './chain.js';
import type { DbCredentials } from '../db/credentials.js';
import type { LeaseKeeper } from '../vault/lease-keeper.js';
import type { LeaseWatch } from '../vault/lease-watch.js';
import { credentialState, type CredentialState } from './credential-state.js';
import { holdCredentials } from './hold.js';

/**
 * The Delphi database as a command uses it: queries over credentials that rotate under them, what
 * those credentials are, and a failure turned into what the user should read. The chain, the
 * keeper and the Vault session behind it stay inside. `close` ends the pool first and revokes
 * the lease after (docs/design.md §5).
 */
export interface Database {
  /** Queries, over credentials that rotate under it without a failed query. */
  readonly pool: RotatingPool;
  /** The credentials in use and how they are kept (the dashboard's Credentials view). */
  describeCredentials(now?: number): CredentialState;
  /** The lease's and token's expiry and the keeper's events, for metrics. */
  readonly watch: LeaseWatch;
  /**
   * A failure as the user should read it: a pg error as the user's error, with the exit code of
   * its kind, led by the source the chain had to skip, if it skipped one — a refused token that
   * ended on the defaults' ECONNREFUSED is the token's failure. eos's own errors pass unchanged.
   */
  userError(err: unknown): unknown;
  /** Ends the pool, then revokes the lease. */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions extends ChainOptions {
  pool?: RotatingPoolOptions['pool'];
  /** Which of several hosts the pool's sessions go to, over the target's target_session_attrs. */
  want?: RotatingPoolOptions['want'];
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  return (await openKeptDatabase(options)).database;
}

/**
 * The database with its keeper beside it, for the tests and benchmarks that act on the keeper
 * itself (rotate now, read its lease or its full event list); commands use `openDatabase`.
 */
export async function openKeptDatabase(options: OpenDatabaseOptions): Promise<{ database: Database; keeper: LeaseKeeper<DbCredentials> | undefined }> {
  // The hooks use the pool, which is built right after the credentials (and before any hook runs:
  // the keeper acts on timers).
  const held = await holdCredentials(options, {
    onRotate: (next, reason) => pool.switchTo(next, reason),
    onFallback: async (fallback) => {
      await pool.switchTo(fallback, `fallback to ${fallback.source}`);
      pool.emit('fallback', { source: fallback.source });
    },
    onNoFallback: (detail) => pool.markExpired(detail),
  });
  const window = options.config.database.retryWindow;
  const retryWindowMs = window === undefined ? undefined : (parseDurationSeconds(window) ?? 0) * 1000;
  const replay = options.config.database.replayWait;
  const replayWaitMs = replay === undefined ? undefined : (parseDurationSeconds(replay) ?? 0) * 1000;
  const pool = new RotatingPool({ credentials: held.credentials, guard: held.keeper, log: options.log, pool: options.pool, retryWindowMs, replayWaitMs, want: options.want, clock: options.clock });
  // Several hosts: find the one that fits before the first query. If none answers now, the first
  // query meets the failure and the pool's retries look again.
  if ((held.credentials.hosts?.length ?? 0) > 1) await pool.relocate().catch((err: unknown) => options.log?.warn({ err: (err as Error).message }, 'no database host fits yet'));
  // Where the pool's sessions go, for `status`: now, and whenever it moves.
  const noteHost = () => held.noteDatabase({ host: pool.stats().host, standby: (held.credentials.hosts?.length ?? 0) > 1 ? pool.stats().standby : null });
  noteHost();
  pool.on('switched', noteHost);
  const database: Database = {
    pool,
    watch: held.watch,
    describeCredentials: (now = (options.clock ?? systemClock).now()) => credentialState(pool, held.keeper, held.attempts, now),
    userError: (err) => (err instanceof EosError ? err : fallbackFailed(held.attempts, classifyDatabaseError(err))),
    async close() {
      await pool.end();
      await held.close();
    },
  };
  return { database, keeper: held.keeper };
}
