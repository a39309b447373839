import type { Clock } from '../../../util/clock.js';
import { base62 } from '../random.js';
import { badRequest } from '../wire.js';

/** What the secrets engine that issued a lease does on renewal and revocation. */
export interface LeaseBackend {
  /** Returns the granted TTL (seconds) and any warnings; throws VaultHttpError to refuse. */
  renew(lease: LeaseEntry, increment: number): Promise<{ ttl: number; warnings: string[] }>;
  revoke(lease: LeaseEntry): Promise<void>;
}

export interface LeaseEntry {
  id: string;
  /** The request path that created it, e.g. database/creds/readonly: it starts with its mount's. */
  path: string;
  issueMs: number;
  expireMs: number;
  lastRenewalMs: number | null;
  renewable: boolean;
  /** The token that created it: its revocation revokes the lease. */
  tokenId: string;
  /** Engine data kept with the lease (the database username, the role). */
  internal: Record<string, string>;
  backend: LeaseBackend;
  /** The last revocation error, while the lease could not be revoked. */
  revokeError: string | null;
  revokeAttempts: number;
}

/** Vault gives up on automatic revocation after this many failures (the lease is irrevocable). */
const MAX_REVOKE_ATTEMPTS = 6;

/**
 * Vault's expiration manager, reduced to what eos meets: renew with capping, revoke (sync),
 * revoke by prefix, lookup, and a timer that revokes each lease at its expiry, retrying with
 * backoff when the engine's revocation fails — the lease stays until it succeeds.
 */
export class LeaseManager {
  private readonly leases = new Map<string, LeaseEntry>();
  private readonly timers = new Map<string, { cancel(): void }>();

  constructor(private readonly clock: Clock) {}

  register(options: {
    path: string;
    ttl: number;
    renewable: boolean;
    tokenId: string;
    internal: Record<string, string>;
    backend: LeaseBackend;
  }): LeaseEntry {
    const now = this.clock.now();
    const lease: LeaseEntry = {
      id: `${options.path}/${base62(24)}`,
      path: options.path,
      issueMs: now,
      expireMs: now + options.ttl * 1000,
      lastRenewalMs: null,
      renewable: options.renewable,
      tokenId: options.tokenId,
      internal: options.internal,
      backend: options.backend,
      revokeError: null,
      revokeAttempts: 0,
    };
    this.leases.set(lease.id, lease);
    this.schedule(lease, lease.expireMs - now);
    return lease;
  }

  get(id: string): LeaseEntry | undefined {
    return this.leases.get(id);
  }

  list(): LeaseEntry[] {
    return [...this.leases.values()];
  }

  async renew(id: string, increment: number): Promise<{ lease: LeaseEntry; ttl: number; warnings: string[] }> {
    const lease = this.leases.get(id);
    if (!lease) throw badRequest('lease not found');
    const now = this.clock.now();
    if (lease.expireMs <= now) throw badRequest('lease expired');
    if (!lease.renewable) throw badRequest('lease is not renewable');
    const { ttl, warnings } = await lease.backend.renew(lease, increment);
    lease.expireMs = this.clock.now() + ttl * 1000;
    lease.lastRenewalMs = this.clock.now();
    this.schedule(lease, ttl * 1000);
    return { lease, ttl, warnings };
  }

  /** Revokes one lease now. An unknown lease is a success, as in Vault. */
  async revoke(id: string): Promise<void> {
    const lease = this.leases.get(id);
    if (!lease) return;
    try {
      await lease.backend.revoke(lease);
    } catch (err) {
      lease.revokeError = errorText(err);
      throw badRequest(`failed to revoke entry: resp: (*logical.Response)(nil) err: ${lease.revokeError}`);
    }
    this.forget(lease);
  }

  async revokeWhere(match: (lease: LeaseEntry) => boolean): Promise<void> {
    const failures: string[] = [];
    for (const lease of this.list().filter(match)) {
      await this.revoke(lease.id).catch((err: unknown) => failures.push(errorText(err)));
    }
    if (failures.length > 0) throw badRequest(failures[0] as string);
  }

  /**
   * sys/leases/revoke-force: revokes as usual but drops each lease even when its engine fails
   * to revoke it (whatever that engine made is then left behind).
   */
  async forceRevokeWhere(match: (lease: LeaseEntry) => boolean): Promise<void> {
    for (const lease of this.list().filter(match)) {
      await lease.backend.revoke(lease).catch(() => undefined);
      this.forget(lease);
    }
  }

  /** Drops every lease without revoking it (server shutdown when revocation is not wanted). */
  clearTimers(): void {
    for (const timer of this.timers.values()) timer.cancel();
    this.timers.clear();
  }

  remainingSeconds(lease: LeaseEntry): number {
    return Math.max(0, Math.floor((lease.expireMs - this.clock.now()) / 1000));
  }

  private forget(lease: LeaseEntry): void {
    this.leases.delete(lease.id);
    this.timers.get(lease.id)?.cancel();
    this.timers.delete(lease.id);
  }

  private schedule(lease: LeaseEntry, delayMs: number): void {
    this.timers.get(lease.id)?.cancel();
    const timer = this.clock.setTimeout(() => void this.expire(lease), delayMs);
    this.timers.set(lease.id, timer);
  }

  private async expire(lease: LeaseEntry): Promise<void> {
    if (this.leases.get(lease.id) !== lease) return;
    try {
      await lease.backend.revoke(lease);
      this.forget(lease);
    } catch (err) {
      lease.revokeError = errorText(err);
      lease.revokeAttempts += 1;
      if (lease.revokeAttempts < MAX_REVOKE_ATTEMPTS) {
        this.schedule(lease, 1000 * 2 ** (lease.revokeAttempts - 1));
      } else {
        this.timers.delete(lease.id);
      }
    }
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const errors = (err as { errors?: string[] }).errors;
    return errors && errors.length > 0 ? errors.join('; ') : err.message;
  }
  return String(err);
}
