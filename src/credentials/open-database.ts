import { classifyDatabaseError } from '../db/errors.js';
import { RotatingPool, type RotatingPoolOptions } from '../db/rotating-pool.js';
import { EosError } from '../errors.js';
import { parseDurationSeconds } from '../util/duration.js';
import type { ChainOptions } from './build-chain.js';
import { fallbackFailed } from './chain.js';
import { holdCredentials, type HeldCredentials } from './hold.js';

/**
 * Everything a command needs to use the Delphi database: the chain resolves credentials, a
 * keeper holds the lease (when they are dynamic), and a rotating pool serves queries. `close`
 * ends the pool first and revokes the lease after, as docs/design.md §5 asks.
 */
export interface Database extends Omit<HeldCredentials, 'credentials'> {
  pool: RotatingPool;
  /**
   * A failure of the database itself (a pg error, not one of eos's) as the user's error: with
   * the exit code of its kind, and led by the source the chain had to skip, if it skipped one —
   * a refused token that ended on the defaults' ECONNREFUSED is the token's failure.
   */
  explain(err: unknown): unknown;
  /** Ends the pool, then revokes the lease. */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions extends ChainOptions {
  pool?: RotatingPoolOptions['pool'];
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
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
  const pool = new RotatingPool({ credentials: held.credentials, guard: held.keeper, log: options.log, pool: options.pool, retryWindowMs, clock: options.clock });
  return {
    pool,
    keeper: held.keeper,
    chain: held.chain,
    attempts: held.attempts,
    target: held.target,
    vault: held.vault,
    explain: (err) => (err instanceof EosError ? err : fallbackFailed(held.attempts, classifyDatabaseError(err))),
    async close() {
      await pool.end();
      await held.close();
    },
  };
}
