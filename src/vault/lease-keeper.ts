import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { DbCredentials } from '../db/credentials.js';
import { shortLeaseId } from '../redact.js';
import type { Clock, Timer } from '../util/clock.js';
import type { LeaseInfo, LeaseRenewal, TokenInfo } from './client.js';
import { VaultBadRequestError, VaultError, VaultPermissionDeniedError, VaultServerError } from './errors.js';

/**
 * Keeps one lease — and the token behind it — alive (DESIGN §5), as a small loop you can read
 * top to bottom: renew at `renewAt` of the lease (minus up to 5 % jitter); when a renewal comes
 * back capped (max_ttl) or the lease is not renewable, issue new credentials at `renewAt` of
 * what is left, so they are live long before the old ones die; on a transient error back off
 * (1 s doubling to 30 s) but never past expiry minus a safety margin; on a permanent error
 * re-issue at once. Every step is timed by the injected clock.
 */

export type KeeperEventName =
  | 'issued'
  | 'renewed'
  | 'renew-failed'
  | 'rotating'
  | 'rotated'
  | 'expiring'
  | 'expired'
  | 'revoked'
  | 'token-renewed'
  | 'token-relogin'
  | 'warning';

export interface KeeperEvent {
  type: KeeperEventName;
  at: number;
  /** The lease concerned, shortened. */
  lease?: string;
  ttl?: number;
  detail?: string;
}

/** The part of the Vault client the keeper needs. */
export interface LeaseVault {
  renewLease(leaseId: string, incrementSeconds: number): Promise<LeaseRenewal>;
  revokeLease(leaseId: string): Promise<void>;
  lookupLease(leaseId: string): Promise<LeaseInfo>;
  lookupSelf(): Promise<TokenInfo>;
  renewSelf(incrementSeconds?: number): Promise<{ auth: { lease_duration: number; renewable: boolean }; warnings: string[] | null }>;
}

export interface LeaseKeeperOptions {
  vault: LeaseVault;
  clock: Clock;
  /** Issues new dynamic credentials (under the current token). */
  issue: () => Promise<DbCredentials>;
  /** Switches users to new credentials; the old lease is revoked only after it resolves. */
  onRotate?: (next: DbCredentials, previous: DbCredentials) => Promise<void>;
  /** The lease died and could not be replaced: move to a fallback. */
  onExpired?: (previous: DbCredentials) => Promise<void>;
  /** Logs in again (AppRole) when the token cannot be renewed further. */
  relogin?: () => Promise<void>;
  renewAt?: number;
  jitter?: number;
  random?: () => number;
  log?: Logger;
}

const MAX_BACKOFF_MS = 30_000;
/** Once on a fallback, dynamic credentials are tried again at least this often. */
const MAX_RECOVERY_BACKOFF_MS = 10_000;
/**
 * The keeper counts a lease dead this much before Vault does: Vault's clock started when it
 * issued the lease, ours when the answer arrived, and Vault revokes right at expiry.
 */
const EXPIRY_GUARD_MS = 250;
const MAX_EVENTS = 50;

/** Errors after which the lease cannot be renewed any more: re-issue at once. */
export function isPermanentLeaseError(err: unknown): boolean {
  if (err instanceof VaultPermissionDeniedError) return true;
  if (err instanceof VaultBadRequestError) return true;
  if (err instanceof VaultServerError) return err.status === 501;
  return !(err instanceof VaultError);
}

export class LeaseKeeper extends EventEmitter {
  private current: DbCredentials | undefined;
  private expiresAt = 0;
  private timer: Timer | undefined;
  private tokenTimer: Timer | undefined;
  private failures = 0;
  private warnedExpiring = false;
  private stopped = false;
  private expired = false;
  private work: Promise<void> = Promise.resolve();
  private readonly renewAt: number;
  private readonly jitter: number;
  private readonly random: () => number;
  /** Recent events, newest last, for status and the dashboard. */
  readonly events: KeeperEvent[] = [];
  rotations = 0;
  lastRenewalAt: number | null = null;
  nextActionAt: number | null = null;

  constructor(private readonly options: LeaseKeeperOptions) {
    super();
    this.renewAt = options.renewAt ?? 0.75;
    this.jitter = options.jitter ?? 0.05;
    this.random = options.random ?? Math.random;
  }

  get credentials(): DbCredentials | undefined {
    return this.current;
  }

  get expiry(): number {
    return this.expiresAt;
  }

  get isExpired(): boolean {
    return this.expired;
  }

  /** Takes over freshly issued credentials and starts the loop. */
  async start(initial: DbCredentials): Promise<void> {
    this.adopt(initial);
    this.record('issued', { lease: this.leaseName(), ttl: initial.lease?.duration });
    this.planNext(initial.lease?.duration ?? 0, initial.lease?.renewable ?? false);
    await this.watchToken();
  }

  /** Is the lease still valid in Vault? (The pool asks after an authentication error.) */
  async leaseValid(): Promise<boolean> {
    const id = this.current?.lease?.id;
    if (!id || this.expired) return false;
    try {
      const info = await this.options.vault.lookupLease(id);
      return info.ttl > 0;
    } catch (err) {
      return !isPermanentLeaseError(err);
    }
  }

  /** Resolves when the step in progress (a renewal, a rotation and its switch) is done. */
  idle(): Promise<void> {
    return this.work;
  }

  /** Replaces the credentials now (the pool found them dead). Joins a rotation already running. */
  rotateNow(reason: string): Promise<void> {
    return this.serial(() => this.rotate(reason));
  }

  /** Stops the loop; revokes the lease unless told not to. Close the pool first. */
  async stop(options: { revoke?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.tokenTimer?.cancel();
    await this.work.catch(() => undefined);
    const id = this.current?.lease?.id;
    if ((options.revoke ?? true) && id && !this.expired) {
      try {
        await this.options.vault.revokeLease(id);
        this.record('revoked', { lease: shortLeaseId(id) });
      } catch (err) {
        this.record('warning', { lease: shortLeaseId(id), detail: `could not revoke the lease at shutdown: ${message(err)}; Vault revokes it at expiry` });
      }
    }
  }

  // --- the loop -------------------------------------------------------------------------------

  /** After an issue or a renewal of `ttl` seconds: renew, or (capped / not renewable) re-issue. */
  private planNext(ttl: number, renewable: boolean, capped = false): void {
    if (ttl <= 0) return; // no lease (or one that never expires)
    const fraction = this.renewAt - this.jitter * this.random();
    const delay = ttl * 1000 * fraction;
    if (renewable && !capped) this.schedule(delay, () => this.renew());
    else this.schedule(delay, () => this.rotate(capped ? 'max_ttl reached' : 'lease not renewable'));
  }

  private async renew(): Promise<void> {
    const lease = this.current?.lease;
    if (!lease) return;
    const requested = lease.duration;
    const sentAt = this.options.clock.now();
    try {
      const result = await this.options.vault.renewLease(lease.id, requested);
      this.failures = 0;
      this.warnedExpiring = false;
      this.expiresAt = sentAt + result.lease_duration * 1000 - EXPIRY_GUARD_MS;
      this.lastRenewalAt = this.options.clock.now();
      const capped = result.lease_duration < requested || !result.renewable;
      this.record('renewed', { lease: this.leaseName(), ttl: result.lease_duration, detail: capped ? 'capped by max_ttl: new credentials will be issued' : undefined });
      this.planNext(result.lease_duration, result.renewable, capped);
    } catch (err) {
      if (isPermanentLeaseError(err)) {
        this.record('renew-failed', { lease: this.leaseName(), detail: `${message(err)}; issuing new credentials now` });
        await this.rotate('renewal refused');
      } else {
        this.retryLater(err, () => this.renew());
      }
    }
  }

  private async rotate(reason: string): Promise<void> {
    if (this.stopped) return;
    this.record('rotating', { lease: this.leaseName(), detail: reason });
    const afterExpiry = this.expired;
    let next: DbCredentials;
    try {
      next = await this.options.issue();
    } catch (err) {
      if (afterExpiry) return this.retryRecovery();
      return this.retryLater(err, () => this.rotate(reason));
    }
    const previous = this.current;
    this.adopt(next);
    this.expired = false;
    this.rotations += 1;
    if (previous) await this.options.onRotate?.(next, previous);
    this.record('rotated', { lease: this.leaseName(), ttl: next.lease?.duration, detail: reason });
    this.planNext(next.lease?.duration ?? 0, next.lease?.renewable ?? false);
    // The old lease goes only now, after its users moved to the new credentials (an expired one
    // is gone already).
    const oldId = previous?.lease?.id;
    if (oldId && !afterExpiry) {
      await this.options.vault.revokeLease(oldId).then(
        () => this.record('revoked', { lease: shortLeaseId(oldId) }),
        (err: unknown) => this.record('warning', { lease: shortLeaseId(oldId), detail: `could not revoke the old lease: ${message(err)}` }),
      );
    }
  }

  /** A transient failure: back off, but act before the lease expires, and notice when it has. */
  private retryLater(err: unknown, again: () => Promise<void>): void {
    this.failures += 1;
    const now = this.options.clock.now();
    const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this.failures - 1)) * (0.8 + 0.4 * this.random());
    const margin = this.safetyMarginMs();
    const deadline = this.expiresAt - margin;
    if (now >= this.expiresAt) {
      this.expire(err);
      return;
    }
    let delay = backoff;
    if (now + backoff > deadline) {
      if (now < deadline) delay = deadline - now;
      else {
        // Inside the safety margin: try again at half the time left (a few attempts, ≥ 100 ms
        // apart) until the last 200 ms; then it is gone.
        if (!this.warnedExpiring) {
          this.warnedExpiring = true;
          this.record('expiring', { lease: this.leaseName(), detail: `expires in ${Math.round((this.expiresAt - now) / 1000)} s; Vault still failing: ${message(err)}` });
        }
        const left = this.expiresAt - now;
        if (left <= 200) {
          this.schedule(left, () => Promise.resolve(this.expire(err)));
          return;
        }
        delay = Math.max(100, left / 2);
      }
    }
    this.record('renew-failed', { lease: this.leaseName(), detail: `${message(err)}; retrying in ${Math.round(delay)} ms` });
    this.schedule(delay, again);
  }

  private expire(err: unknown): void {
    if (this.expired) return;
    this.expired = true;
    this.record('expired', { lease: this.leaseName(), detail: `could not renew or replace it: ${message(err)}` });
    const previous = this.current;
    this.work = this.work.then(async () => {
      if (previous) await this.options.onExpired?.(previous);
    });
    this.failures = 0;
    this.retryRecovery();
  }

  /** After expiry, keep trying to get dynamic credentials back (every 1 s doubling to 10 s). */
  private retryRecovery(): void {
    this.failures += 1;
    const delay = Math.min(MAX_RECOVERY_BACKOFF_MS, 1000 * 2 ** Math.min(this.failures - 1, 4)) * (0.8 + 0.4 * this.random());
    this.schedule(delay, () => this.rotate('recovering after expiry'));
  }

  // --- the token ------------------------------------------------------------------------------

  /**
   * Vault revokes a token's leases when the token dies, so the token is kept alive too: renewed
   * at 75 % of its TTL, or replaced by an AppRole login — after which the lease is re-issued
   * under the new token, because the old token's death would take the lease with it.
   */
  private async watchToken(): Promise<void> {
    let info: TokenInfo;
    try {
      info = await this.options.vault.lookupSelf();
    } catch (err) {
      this.record('warning', { detail: `cannot look up the token: ${message(err)}` });
      return;
    }
    if (info.ttl <= 0) return; // root or periodic without expiry: nothing to keep alive
    const leaseTtl = this.current?.lease?.duration ?? 0;
    if (!info.renewable && !this.options.relogin && info.ttl < leaseTtl) {
      this.record('warning', { detail: `the token expires in ${info.ttl} s, before the lease (${leaseTtl} s), and cannot be renewed: Vault will revoke the lease with it` });
    }
    this.scheduleToken(info.ttl, info.renewable, info.creation_ttl || info.ttl);
  }

  private scheduleToken(ttl: number, renewable: boolean, increment: number): void {
    this.tokenTimer?.cancel();
    this.tokenTimer = this.options.clock.setTimeout(() => {
      void this.serial(() => this.keepToken(renewable, increment));
    }, ttl * 1000 * this.renewAt);
  }

  private async keepToken(renewable: boolean, increment: number): Promise<void> {
    if (this.stopped) return;
    if (renewable) {
      try {
        const { auth } = await this.options.vault.renewSelf(increment);
        this.record('token-renewed', { ttl: auth.lease_duration });
        if (auth.lease_duration >= increment || !this.options.relogin) {
          this.scheduleToken(auth.lease_duration, auth.renewable && auth.lease_duration >= increment, increment);
          return;
        }
      } catch (err) {
        if (!this.options.relogin) {
          this.record('warning', { detail: `token renewal failed: ${message(err)}` });
          this.scheduleToken(Math.max(1, increment / 10), renewable, increment);
          return;
        }
      }
    }
    if (!this.options.relogin) return;
    try {
      await this.options.relogin();
      this.record('token-relogin', { detail: 'logged in again; re-issuing the lease under the new token' });
      await this.watchToken();
      await this.rotate('token replaced');
    } catch (err) {
      this.record('warning', { detail: `AppRole login failed: ${message(err)}` });
      this.scheduleToken(Math.max(1, increment / 10), false, increment);
    }
  }

  // --- plumbing -------------------------------------------------------------------------------

  private adopt(credentials: DbCredentials): void {
    this.current = credentials;
    const lease = credentials.lease;
    this.expiresAt = lease ? lease.issuedAt + lease.duration * 1000 - EXPIRY_GUARD_MS : Number.POSITIVE_INFINITY;
    this.failures = 0;
    this.warnedExpiring = false;
  }

  private safetyMarginMs(): number {
    const duration = (this.current?.lease?.duration ?? 0) * 1000;
    return Math.max(500, Math.min(30_000, duration * 0.1));
  }

  /** One operation at a time: timers and the pool's requests queue behind each other. */
  private serial(operation: () => Promise<void>): Promise<void> {
    const run = this.work.then(() => (this.stopped ? undefined : operation()));
    this.work = run.catch((err: unknown) => {
      this.record('warning', { detail: `keeper step failed: ${message(err)}` });
    });
    return run;
  }

  private schedule(delayMs: number, step: () => Promise<void>): void {
    this.timer?.cancel();
    if (this.stopped) return;
    this.nextActionAt = this.options.clock.now() + delayMs;
    this.timer = this.options.clock.setTimeout(() => {
      this.nextActionAt = null;
      void this.serial(step);
    }, delayMs);
  }

  private leaseName(): string | undefined {
    const id = this.current?.lease?.id;
    return id ? shortLeaseId(id) : undefined;
  }

  private record(type: KeeperEventName, fields: Omit<KeeperEvent, 'type' | 'at'>): void {
    const event: KeeperEvent = { type, at: this.options.clock.now(), ...fields };
    this.events.push(event);
    if (this.events.length > MAX_EVENTS) this.events.shift();
    const level = type === 'warning' || type === 'renew-failed' || type === 'expiring' ? 'warn' : type === 'expired' ? 'error' : 'info';
    this.options.log?.[level]({ event: type, lease: event.lease, ttl: event.ttl, detail: event.detail }, `lease ${type}`);
    this.emit(type, event);
    this.emit('event', event);
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
