import type { DbCredentials } from '../db/credentials.js';
import type { PoolStats, RotatingPool } from '../db/rotating-pool.js';
import { shortLeaseId } from '../redact.js';
import type { KeeperEvent, LeaseKeeper } from '../vault/lease-keeper.js';
import type { SourceAttempt } from './chain.js';

/**
 * What can be known of the credentials in use without touching the keeper or the chain: the
 * dashboard's Credentials view, `--json` and the metrics read this, never the keeper itself.
 */
export interface CredentialState {
  source: string;
  user: string;
  lease: string | null;
  ttlSeconds: number | null;
  nextActionAt: string | null;
  rotations: number;
  fallback: boolean;
  /** What the user must see at once, e.g. `Vault token expired`; null when all is well. */
  alert: string | null;
  pool: PoolStats;
  events: KeeperEvent[];
  attempts: SourceAttempt[];
}

/** The credential side of the dashboard's snapshot, from the pool and the keeper. */
export function credentialState(pool: RotatingPool, keeper: LeaseKeeper<DbCredentials> | undefined, attempts: SourceAttempt[], now: number): CredentialState {
  const c = pool.credentials;
  const stats = pool.stats();
  const lease = c.lease ? shortLeaseId(c.lease.id) : null;
  return {
    source: c.source,
    user: c.user,
    lease,
    ttlSeconds: keeper && c.source === 'dynamic' ? Math.max(0, Math.round((keeper.expiry - now) / 1000)) : null,
    nextActionAt: keeper?.nextActionAt ? new Date(keeper.nextActionAt).toISOString() : null,
    rotations: stats.rotations,
    fallback: c.source !== 'dynamic',
    alert: keeper?.isExpired ? (keeper.events.findLast((e) => e.type === 'token-expired') ? 'Vault token expired' : 'lease expired') : null,
    pool: stats,
    events: keeper ? keeper.events.slice(-10) : [],
    attempts,
  };
}
