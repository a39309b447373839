import { backoffDelay, LIFETIME_BACKOFF } from '../util/backoff.js';
import type { Clock, Timer } from '../util/clock.js';

/**
 * The timing of one thing Vault lets live for a while — a lease or a token — shared by both so
 * they follow one rule (docs/design.md §5): act at `renewAt` of what was granted, made earlier by up to
 * `jitter` of it so that many clients do not act together; after a transient failure back off
 * from 1 s doubling to 30 s, but never past the deadline (expiry less a safety margin); inside
 * the margin try at half the time left until the last 200 ms; then it is gone.
 *
 * It holds one timer, so scheduling a step replaces the one planned before.
 */

export interface LifetimeOptions {
  clock: Clock;
  renewAt?: number;
  jitter?: number;
  random?: () => number;
}

/** What to do after a transient failure. */
export type RetryPlan =
  | { action: 'retry'; delayMs: number; /** true once inside the safety margin */ expiring: boolean }
  | { action: 'expire'; delayMs: number };

/**
 * A lifetime is counted dead this much before Vault counts it: Vault's clock started when it
 * granted it, ours when the answer arrived, and Vault revokes right at expiry.
 */
export const EXPIRY_GUARD_MS = 250;

export class Lifetime {
  /** When it dies by our count (ms on the clock); infinite when nothing expires. */
  expiresAt = Number.POSITIVE_INFINITY;
  /** Seconds last granted. */
  grantedSeconds = 0;
  /** Transient failures since the last success. */
  failures = 0;
  /** When the planned step runs, for status and the dashboard. */
  nextActionAt: number | null = null;
  private timer: Timer | undefined;
  private readonly renewAt: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(private readonly options: LifetimeOptions) {
    this.renewAt = options.renewAt ?? 0.75;
    this.jitter = options.jitter ?? 0.05;
    this.random = options.random ?? Math.random;
  }

  /** Vault granted `seconds` counted from `since` (ms; when the request was sent). */
  grant(seconds: number, since: number): void {
    this.grantedSeconds = seconds;
    this.expiresAt = seconds > 0 ? since + seconds * 1000 - EXPIRY_GUARD_MS : Number.POSITIVE_INFINITY;
    this.failures = 0;
  }

  /** How long after a grant of `seconds` the next renewal (or replacement) is due. */
  renewDelay(seconds: number): number {
    return seconds * 1000 * (this.renewAt - this.jitter * this.random());
  }

  /** After a transient failure: when to try again, or that it will be dead by then. */
  planRetry(): RetryPlan {
    this.failures += 1;
    const now = this.options.clock.now();
    if (now >= this.expiresAt) return { action: 'expire', delayMs: 0 };
    const backoff = backoffDelay(LIFETIME_BACKOFF, this.failures, this.random);
    const deadline = this.expiresAt - this.safetyMarginMs();
    if (now + backoff <= deadline) return { action: 'retry', delayMs: backoff, expiring: false };
    if (now < deadline) return { action: 'retry', delayMs: deadline - now, expiring: false };
    const left = this.expiresAt - now;
    if (left <= 200) return { action: 'expire', delayMs: left };
    // A few attempts, at least 100 ms apart, each at half the time left.
    return { action: 'retry', delayMs: Math.max(100, left / 2), expiring: true };
  }

  /** Runs `step` after `delayMs`, replacing whatever was planned. */
  schedule(delayMs: number, step: () => void): void {
    this.timer?.cancel();
    this.nextActionAt = this.options.clock.now() + delayMs;
    this.timer = this.options.clock.setTimeout(() => {
      this.nextActionAt = null;
      step();
    }, delayMs);
  }

  cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.nextActionAt = null;
  }

  /** 10 % of what was granted, at least 0.5 s and at most 30 s. */
  private safetyMarginMs(): number {
    return Math.max(500, Math.min(30_000, this.grantedSeconds * 100));
  }
}
