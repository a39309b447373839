import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { shortLeaseId } from '../redact.js';
import type { Clock } from '../util/clock.js';
import type { LeaseInfo, LeaseRenewal, TokenInfo } from './client.js';
import { VaultBadRequestError, VaultError, VaultPermissionDeniedError, VaultServerError, VaultTokenExpiredError } from './errors.js';
import { explainDenied } from './auth.js';
import { backoffDelay, LIFETIME_BACKOFF, type BackoffPolicy } from '../util/backoff.js';
import { Lifetime } from './lifetime.js';

/**
 * Keeps one lease — and the token behind it — alive (docs/design.md §5), as a small loop you can read
 * top to bottom: renew at `renewAt` of the lease (minus up to 5 % jitter); when a renewal comes
 * back capped (max_ttl) or the lease is not renewable, issue a new secret at `renewAt` of what
 * is left, so it is live long before the old one dies; on a transient error back off (1 s
 * doubling to 30 s) but never past expiry minus a safety margin; on a permanent error re-issue
 * at once. The lease and the token follow the same timing rule (`Lifetime`); every step is
 * timed by the injected clock.
 *
 * It knows nothing of what the lease is for: it keeps any secret `T` that carries a lease
 * (database credentials, in eos), issued by the `issue` function it is given.
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
  | 'token-expired'
  | 'warning';

export interface KeeperEvent {
  type: KeeperEventName;
  at: number;
  /** The lease concerned, shortened. */
  lease?: string;
  ttl?: number;
  detail?: string;
}

/** The lease a kept secret carries. */
export interface KeptLease {
  id: string;
  /** Seconds granted at issue. */
  duration: number;
  renewable: boolean;
  /** When it was issued (ms, by the keeper's clock). */
  issuedAt: number;
}

/** Anything with a lease. */
export interface Leased {
  lease?: KeptLease | undefined;
}

/** The part of the Vault client the keeper needs. */
export interface LeaseVault {
  renewLease(leaseId: string, incrementSeconds: number): Promise<LeaseRenewal>;
  revokeLease(leaseId: string): Promise<void>;
  lookupLease(leaseId: string): Promise<LeaseInfo>;
  lookupSelf(): Promise<TokenInfo>;
  renewSelf(incrementSeconds?: number): Promise<{ auth: { lease_duration: number; renewable: boolean }; warnings: string[] | null }>;
}

export interface LeaseKeeperOptions<T extends Leased> {
  vault: LeaseVault;
  clock: Clock;
  /** Issues a new secret (under the current token). */
  issue: () => Promise<T>;
  /** Switches users to the new secret; the old lease is revoked only after it resolves. */
  onRotate?: (next: T, previous: T) => Promise<void>;
  /** The lease died and could not be replaced: move to a fallback. */
  onExpired?: (previous: T) => Promise<void>;
  /** Logs in again (AppRole, or a token file read afresh) when the token cannot be renewed further. */
  relogin?: () => Promise<void>;
  /** Told what the user must see besides the log: a token that will die first, or has died. */
  warn?: (message: string) => void;
  renewAt?: number;
  jitter?: number;
  random?: () => number;
  log?: Logger;
}

/**
 * Past expiry, Vault is asked again at least this often (jittered): as soon as it answers, new
 * credentials replace the dead ones, while the pool's open sessions bridge the gap.
 */
const RECOVERY_BACKOFF: BackoffPolicy = { ...LIFETIME_BACKOFF, capMs: 2_000 };
const MAX_EVENTS = 50;

/** Errors after which the lease cannot be renewed any more: re-issue at once. */
export function isPermanentLeaseError(err: unknown): boolean {
  if (err instanceof VaultPermissionDeniedError) return true;
  if (err instanceof VaultBadRequestError) return true;
  if (err instanceof VaultServerError) return err.status === 501;
  return !(err instanceof VaultError);
}

export class LeaseKeeper<T extends Leased = Leased> extends EventEmitter {
  private current: T | undefined;
  private readonly lease: Lifetime;
  private readonly token: Lifetime;
  private warnedExpiring = false;
  private stopped = false;
  private expired = false;
  private recoveries = 0;
  /** When the token dies for good by our clock (no renewal can pass it); infinite when unknown. */
  private tokenEnd = Number.POSITIVE_INFINITY;
  private tokenIncrement = 0;
  private tokenDead = false;
  private plannedAction: string | null = null;
  private work: Promise<void> = Promise.resolve();
  private readonly random: () => number;
  /** Recent events, newest last, for status and the dashboard. */
  readonly events: KeeperEvent[] = [];
  rotations = 0;
  lastRenewalAt: number | null = null;

  constructor(private readonly options: LeaseKeeperOptions<T>) {
    super();
    this.random = options.random ?? Math.random;
    const timing = { clock: options.clock, renewAt: options.renewAt, jitter: options.jitter, random: this.random };
    this.lease = new Lifetime(timing);
    this.token = new Lifetime(timing);
  }

  /** The secret kept now. */
  get credentials(): T | undefined {
    return this.current;
  }

  get expiry(): number {
    return this.lease.expiresAt;
  }

  get isExpired(): boolean {
    return this.expired;
  }

  /** When the next lease step (renewal, replacement, retry) is due. */
  get nextActionAt(): number | null {
    return this.lease.nextActionAt;
  }

  /** When the token dies by our count, unless renewed (infinite for a token without expiry). */
  get tokenExpiry(): number {
    return this.token.expiresAt;
  }

  /** What that step is, in words (`renew`, `issue new credentials (max_ttl reached)`, …). */
  get nextAction(): string | null {
    return this.lease.nextActionAt === null ? null : this.plannedAction;
  }

  /** Takes over a freshly issued secret and starts the loop. */
  async start(initial: T): Promise<void> {
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

  /** Replaces the secret now (its user found it dead). Joins a rotation already running. */
  rotateNow(reason: string): Promise<void> {
    return this.serial(() => this.rotate(reason));
  }

  /** Stops the loop; revokes the lease unless told not to. Close the secret's users first. */
  async stop(options: { revoke?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.lease.cancel();
    this.token.cancel();
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

  // --- the lease ------------------------------------------------------------------------------

  /** After an issue or a renewal of `ttl` seconds: renew, or (capped / not renewable) re-issue. */
  private planNext(ttl: number, renewable: boolean, capped = false): void {
    if (ttl <= 0) return; // no lease (or one that never expires)
    const delay = this.lease.renewDelay(ttl);
    const reason = capped ? 'max_ttl reached' : 'lease not renewable';
    if (renewable && !capped) this.schedule(delay, () => this.renew(), 'renew');
    else this.schedule(delay, () => this.rotate(reason), `issue new credentials (${reason})`);
  }

  private async renew(): Promise<void> {
    const lease = this.current?.lease;
    if (!lease) return;
    const requested = lease.duration;
    const sentAt = this.options.clock.now();
    try {
      const result = await this.options.vault.renewLease(lease.id, requested);
      this.lease.grant(result.lease_duration, sentAt);
      this.warnedExpiring = false;
      this.lastRenewalAt = this.options.clock.now();
      const capped = result.lease_duration < requested || !result.renewable;
      this.record('renewed', { lease: this.leaseName(), ttl: result.lease_duration, detail: capped ? 'capped by max_ttl: new credentials will be issued' : undefined });
      this.planNext(result.lease_duration, result.renewable, capped);
    } catch (err) {
      if (await this.tokenGone(err)) return this.tokenDied(err);
      if (isPermanentLeaseError(err)) {
        this.record('renew-failed', { lease: this.leaseName(), detail: `${message(err)}; issuing new credentials now` });
        await this.rotate('renewal refused');
      } else {
        this.retryLater(err, () => this.renew(), 'retry the renewal');
      }
    }
  }

  private async rotate(reason: string): Promise<void> {
    if (this.stopped) return;
    this.record('rotating', { lease: this.leaseName(), detail: reason });
    const afterExpiry = this.expired;
    let next: T;
    try {
      next = await this.options.issue();
    } catch (err) {
      if (await this.tokenGone(err)) return this.tokenDied(err);
      if (afterExpiry) return this.retryRecovery();
      return this.retryLater(err, () => this.rotate(reason), 'retry issuing new credentials');
    }
    const previous = this.current;
    this.adopt(next);
    this.expired = false;
    this.recoveries = 0;
    this.rotations += 1;
    if (previous) await this.options.onRotate?.(next, previous);
    this.record('rotated', { lease: this.leaseName(), ttl: next.lease?.duration, detail: reason });
    this.planNext(next.lease?.duration ?? 0, next.lease?.renewable ?? false);
    // The old lease goes only now, after its users moved to the new secret (an expired one is
    // gone already).
    const oldId = previous?.lease?.id;
    if (oldId && !afterExpiry) {
      await this.options.vault.revokeLease(oldId).then(
        () => this.record('revoked', { lease: shortLeaseId(oldId) }),
        (err: unknown) => this.record('warning', { lease: shortLeaseId(oldId), detail: `could not revoke the old lease: ${message(err)}` }),
      );
    }
  }

  /** A transient failure: back off, but act before the lease expires, and notice when it has. */
  private retryLater(err: unknown, again: () => Promise<void>, what: string): void {
    const plan = this.lease.planRetry();
    if (plan.action === 'expire') {
      if (plan.delayMs <= 0) this.expire(err);
      else this.schedule(plan.delayMs, () => Promise.resolve(this.expire(err)), 'count the lease expired');
      return;
    }
    if (plan.expiring && !this.warnedExpiring) {
      this.warnedExpiring = true;
      const left = this.lease.expiresAt - this.options.clock.now();
      this.record('expiring', { lease: this.leaseName(), detail: `expires in ${Math.round(left / 1000)} s; Vault still failing: ${message(err)}` });
    }
    this.record('renew-failed', { lease: this.leaseName(), detail: `${message(err)}; retrying in ${Math.round(plan.delayMs)} ms` });
    this.schedule(plan.delayMs, again, what);
  }

  private expire(err: unknown): void {
    if (this.expired) return;
    this.record('expired', { lease: this.leaseName(), detail: `could not renew or replace it: ${message(err)}` });
    this.handOver();
    this.recoveries = 0;
    this.retryRecovery();
  }

  /** The lease is dead: its users move to a fallback, in a step of its own after this one. */
  private handOver(): void {
    if (this.expired) return;
    this.expired = true;
    const previous = this.current;
    this.work = this.work.then(async () => {
      if (previous) await this.options.onExpired?.(previous);
    });
  }

  /** After expiry, keep trying to get a lease back (every 1 s, then 2 s). */
  private retryRecovery(): void {
    this.recoveries += 1;
    this.schedule(backoffDelay(RECOVERY_BACKOFF, this.recoveries, this.random), () => this.rotate('recovering after expiry'), 'try dynamic credentials again');
  }

  // --- the token ------------------------------------------------------------------------------

  /**
   * Vault revokes a token's leases when the token dies, so the token is kept alive by the same
   * rule as the lease: renewed at `renewAt` of its TTL, or replaced by a login — after which the
   * lease is re-issued under the new token, because the old token's death would take it along.
   */
  private async watchToken(): Promise<void> {
    let info: TokenInfo;
    const sentAt = this.options.clock.now();
    try {
      info = await this.options.vault.lookupSelf();
    } catch (err) {
      this.record('warning', { detail: `cannot look up the token: ${message(err)}` });
      return;
    }
    this.tokenDead = false;
    if (info.ttl <= 0) return; // root or periodic without expiry: nothing to keep alive
    this.token.grant(info.ttl, sentAt);
    this.tokenIncrement = info.creation_ttl || info.ttl;
    // The most it can live: its TTL if it cannot be renewed, else what explicit_max_ttl leaves.
    const maxLeft = info.explicit_max_ttl > 0 && info.issue_time ? info.explicit_max_ttl - (this.options.clock.now() - Date.parse(info.issue_time)) / 1000 : Number.POSITIVE_INFINITY;
    const lifeLeft = Math.min(info.renewable ? Number.POSITIVE_INFINITY : info.ttl, maxLeft);
    this.tokenEnd = sentAt + lifeLeft * 1000;
    const leaseTtl = this.current?.lease?.duration ?? 0;
    if (!this.options.relogin && this.tokenEnd < this.lease.expiresAt) {
      const detail = `the token expires in ${Math.round(lifeLeft)} s, before the lease (${leaseTtl} s), and cannot be renewed: Vault will revoke the lease with it (at ${new Date(this.options.clock.now() + lifeLeft * 1000).toISOString()})`;
      this.record('warning', { detail });
      this.options.warn?.(detail);
    }
    this.planToken(info.ttl, info.renewable, this.tokenIncrement);
  }

  /** After a 403: is it the token that is gone (past its end, or refused even its own lookup)? */
  private async tokenGone(err: unknown): Promise<boolean> {
    if (!(err instanceof VaultPermissionDeniedError)) return false;
    if (err instanceof VaultTokenExpiredError || this.options.clock.now() >= this.tokenEnd) return true;
    return (await explainDenied(this.options.vault, err)) instanceof VaultTokenExpiredError;
  }

  /**
   * The token died (or was revoked), and the lease with it: one event, no loop of renew → issue
   * → permission denied. The users move to a fallback source if one is allowed; with a way to
   * log in again, that is tried on a backoff, and the lease is re-issued after it.
   */
  private tokenDied(err: unknown): void {
    if (this.tokenDead) return;
    this.tokenDead = true;
    const detail = `Vault token expired (or was revoked): ${message(err)}; its leases died with it`;
    this.record('token-expired', { lease: this.leaseName(), detail });
    this.options.warn?.(detail);
    this.lease.cancel();
    this.token.cancel();
    this.handOver();
    if (this.options.relogin) {
      this.token.failures = 0;
      this.scheduleLogin();
    }
  }

  /** A login can be tried again after the old token died: plain backoff, no deadline. */
  private scheduleLogin(): void {
    this.token.failures += 1;
    this.token.schedule(backoffDelay(LIFETIME_BACKOFF, this.token.failures, this.random), () => void this.serial(() => this.keepToken(false, this.tokenIncrement)));
  }

  private planToken(ttl: number, renewable: boolean, increment: number): void {
    if (this.stopped) return;
    this.token.schedule(this.token.renewDelay(ttl), () => void this.serial(() => this.keepToken(renewable, increment)));
  }

  private async keepToken(renewable: boolean, increment: number): Promise<void> {
    if (renewable) {
      const sentAt = this.options.clock.now();
      try {
        const { auth } = await this.options.vault.renewSelf(increment);
        this.token.grant(auth.lease_duration, sentAt);
        this.record('token-renewed', { ttl: auth.lease_duration });
        if (auth.lease_duration >= increment || !this.options.relogin) {
          this.planToken(auth.lease_duration, auth.renewable && auth.lease_duration >= increment, increment);
          return;
        }
      } catch (err) {
        if (!this.options.relogin) return this.retryToken(err, () => this.keepToken(renewable, increment));
      }
    }
    if (!this.options.relogin) return;
    try {
      await this.options.relogin();
      this.record('token-relogin', { detail: 'logged in again; re-issuing the lease under the new token' });
      await this.watchToken();
      await this.rotate('token replaced');
    } catch (err) {
      this.record('warning', { detail: `login failed: ${message(err)}` });
      this.scheduleLogin();
    }
  }

  /** A failed token renewal with no way to log in again: retry until the token is gone. */
  private retryToken(err: unknown, again: () => Promise<void>): void {
    const plan = this.token.planRetry();
    if (plan.action === 'expire') {
      this.record('warning', { detail: `the Vault token expired: ${message(err)}; its leases die with it` });
      return;
    }
    this.record('warning', { detail: `token renewal failed: ${message(err)}; retrying in ${Math.round(plan.delayMs)} ms` });
    this.token.schedule(plan.delayMs, () => void this.serial(again));
  }

  // --- plumbing -------------------------------------------------------------------------------

  private adopt(secret: T): void {
    this.current = secret;
    const lease = secret.lease;
    if (lease) this.lease.grant(lease.duration, lease.issuedAt);
    else this.lease.grant(0, 0);
    this.warnedExpiring = false;
  }

  /** One operation at a time: timers and the users' requests queue behind each other. */
  private serial(operation: () => Promise<void>): Promise<void> {
    const run = this.work.then(() => (this.stopped ? undefined : operation()));
    this.work = run.catch((err: unknown) => {
      this.record('warning', { detail: `keeper step failed: ${message(err)}` });
    });
    return run;
  }

  private schedule(delayMs: number, step: () => Promise<void>, what: string): void {
    if (this.stopped) return;
    this.plannedAction = what;
    this.lease.schedule(delayMs, () => void this.serial(step));
  }

  private leaseName(): string | undefined {
    const id = this.current?.lease?.id;
    return id ? shortLeaseId(id) : undefined;
  }

  private record(type: KeeperEventName, fields: Omit<KeeperEvent, 'type' | 'at'>): void {
    const event: KeeperEvent = { type, at: this.options.clock.now(), ...fields };
    this.events.push(event);
    if (this.events.length > MAX_EVENTS) this.events.shift();
    const level = type === 'warning' || type === 'renew-failed' || type === 'expiring' ? 'warn' : type === 'expired' || type === 'token-expired' ? 'error' : 'info';
    this.options.log?.[level]({ event: type, lease: event.lease, ttl: event.ttl, detail: event.detail }, `lease ${type}`);
    this.emit(type, event);
    this.emit('event', event);
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
