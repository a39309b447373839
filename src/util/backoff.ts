/**
 * The one backoff rule of eos: after the n-th failure in a row, wait `firstMs` grown by
 * `growth` (doubling, or adding `firstMs` each time), capped at `capMs`, then spread by ±`spread`
 * of itself at random so that many clients that failed together do not retry together. The
 * random draw is injected, like the clock, so tests can pin it.
 */
export interface BackoffPolicy {
  /** The wait after the first failure, before spreading. */
  firstMs: number;
  /** The longest wait, before spreading. */
  capMs: number;
  /** `double`: firstMs · 2^(n−1); `linear`: firstMs · n. */
  growth: 'double' | 'linear';
  /** The fraction of the wait drawn at random either side of it (0.2: ±20 %). */
  spread: number;
}

/** Vault and the lease keeper's retries: 1 s doubling to 30 s, ±20 % (docs/design.md §5). */
export const LIFETIME_BACKOFF: BackoffPolicy = { firstMs: 1000, capMs: 30_000, growth: 'double', spread: 0.2 };

/** Vault's own client between retries of a request: n × 1–1.5 s (go-retryablehttp's linear jitter). */
export const VAULT_REQUEST_BACKOFF: BackoffPolicy = { firstMs: 1250, capMs: Number.POSITIVE_INFINITY, growth: 'linear', spread: 0.2 };

/** A query through a PostgreSQL restart or failover: 100 ms doubling to 1 s, ±20 %. */
export const QUERY_BACKOFF: BackoffPolicy = { firstMs: 100, capMs: 1000, growth: 'double', spread: 0.2 };

/** LISTEN's reconnection: 0.5 s doubling to 10 s, not spread (one connection per process). */
export const LISTEN_BACKOFF: BackoffPolicy = { firstMs: 500, capMs: 10_000, growth: 'double', spread: 0 };

/** How long to wait after the `failures`-th failure in a row (1 for the first). */
export function backoffDelay(policy: BackoffPolicy, failures: number, random: () => number): number {
  const n = Math.max(1, failures);
  // 2^30 is far past any cap; bounding the exponent keeps the arithmetic finite.
  const grown = policy.growth === 'double' ? policy.firstMs * 2 ** Math.min(n - 1, 30) : policy.firstMs * n;
  const base = Math.min(policy.capMs, grown);
  // Whole milliseconds: timers take no less, and the waits read as the documented figures.
  return Math.round(base * (1 - policy.spread + 2 * policy.spread * random()));
}
