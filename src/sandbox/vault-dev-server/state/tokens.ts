import type { Clock } from '../../../util/clock.js';
import { base62, batchToken, serviceToken } from '../random.js';
import { calculateTtl, SYSTEM_DEFAULT_TTL, SYSTEM_MAX_TTL } from '../ttl.js';
import { badRequest } from '../wire.js';

/**
 * Service tokens: the root token, child tokens from auth/token/create, and auth method logins.
 * When a token expires or is revoked, its children and every lease it created are revoked:
 * that is the Vault behaviour a lease keeper must survive (§2).
 */

/** A token as the server keeps it; the request's token once checked. */
export interface TokenEntry {
  id: string;
  accessor: string;
  policies: string[];
  displayName: string;
  /** The path that created it: `auth/token/create`, `auth/<mount>/login`. */
  path: string;
  meta: Record<string, string> | null;
  issueMs: number;
  /** null: never expires (root). */
  expireMs: number | null;
  creationTtl: number;
  explicitMaxTtl: number;
  /** The most this token may live from issue, from its role or the system. */
  maxTtl: number;
  renewable: boolean;
  orphan: boolean;
  parent: string | null;
  isRoot: boolean;
  /** Uses left; 0: unlimited; -1: spent (its last request is being served, then it is revoked). */
  numUses: number;
  /** A periodic token's period in seconds: each renewal gives it this TTL again, with no max. 0: none. */
  period: number;
  /** A batch token: not renewable, no accessor. */
  type: 'service' | 'batch';
  /** The namespace it was made in (`ns1/`), '' for the root namespace. */
  namespace?: string;
}

export interface CreateTokenOptions {
  policies: string[];
  displayName: string;
  path: string;
  ttl: number;
  maxTtl?: number;
  explicitMaxTtl?: number;
  renewable?: boolean;
  meta?: Record<string, string> | null;
  orphan?: boolean;
  parent?: string | null;
  numUses?: number;
  period?: number;
  type?: 'service' | 'batch';
  /** A token id the creator chose (root only). */
  id?: string;
  /** Made inside a namespace: its path, and its id, which OpenBao appends to the token (`s.….ab12C`). */
  namespace?: { path: string; id: string };
}

/** Where tokens are made inside one namespace: the store's own, with every new token the namespace's. */
export type NamespacedTokens = TokenStore;

export class TokenStore {
  private readonly tokens = new Map<string, TokenEntry>();
  private readonly timers = new Map<string, { cancel(): void }>();

  constructor(
    private readonly clock: Clock,
    /** Revokes what the token created (its leases); called before the token disappears. */
    private readonly onRevoke: (token: TokenEntry) => Promise<void>,
  ) {}

  createRoot(id: string): TokenEntry {
    const entry: TokenEntry = {
      id,
      accessor: base62(24),
      policies: ['root'],
      displayName: 'root',
      path: 'auth/token/root',
      meta: null,
      issueMs: this.clock.now(),
      expireMs: null,
      creationTtl: 0,
      explicitMaxTtl: 0,
      maxTtl: 0,
      renewable: false,
      orphan: true,
      parent: null,
      isRoot: true,
      numUses: 0,
      period: 0,
      type: 'service',
    };
    this.tokens.set(id, entry);
    return entry;
  }

  create(options: CreateTokenOptions): TokenEntry {
    const now = this.clock.now();
    const maxTtl = options.maxTtl && options.maxTtl > 0 ? Math.min(options.maxTtl, SYSTEM_MAX_TTL) : SYSTEM_MAX_TTL;
    const { ttl } = calculateTtl({
      nowMs: now,
      increment: 0,
      backendTtl: options.ttl,
      backendMaxTtl: maxTtl,
      mountDefaultTtl: SYSTEM_DEFAULT_TTL,
      mountMaxTtl: SYSTEM_MAX_TTL,
      explicitMaxTtl: options.explicitMaxTtl ?? 0,
    });
    const policies = [...new Set(options.policies)].sort();
    const period = options.period ?? 0;
    const type = options.type ?? 'service';
    if (options.id !== undefined && this.tokens.has(options.id)) throw badRequest('cannot create a token with a duplicate ID');
    const lifetime = period > 0 ? (options.explicitMaxTtl ? Math.min(period, options.explicitMaxTtl) : period) : ttl;
    const suffix = options.namespace ? `.${options.namespace.id}` : '';
    const entry: TokenEntry = {
      id: options.id ?? `${type === 'batch' ? batchToken() : serviceToken()}${suffix}`,
      accessor: type === 'batch' ? '' : `${base62(24)}${suffix}`,
      policies,
      displayName: options.displayName,
      path: options.path,
      meta: options.meta ?? null,
      issueMs: now,
      expireMs: now + lifetime * 1000,
      creationTtl: lifetime,
      explicitMaxTtl: options.explicitMaxTtl ?? 0,
      maxTtl,
      renewable: type === 'batch' ? false : (options.renewable ?? true),
      orphan: options.orphan ?? false,
      parent: options.parent ?? null,
      isRoot: false,
      numUses: options.numUses ?? 0,
      period,
      type,
      ...(options.namespace ? { namespace: options.namespace.path } : {}),
    };
    this.tokens.set(entry.id, entry);
    this.schedule(entry);
    return entry;
  }

  /** A live token, or undefined for an unknown, revoked or expired one. */
  lookup(id: string | undefined): TokenEntry | undefined {
    if (!id) return undefined;
    const entry = this.tokens.get(id);
    if (!entry) return undefined;
    if (entry.expireMs !== null && entry.expireMs <= this.clock.now()) return undefined;
    if (entry.numUses < 0) return undefined;
    return entry;
  }

  /** The live token an accessor names. */
  byAccessor(accessor: string): TokenEntry | undefined {
    for (const entry of this.tokens.values()) if (entry.accessor === accessor) return this.lookup(entry.id);
    return undefined;
  }

  renew(entry: TokenEntry, increment: number): { ttl: number; warnings: string[] } {
    if (entry.type === 'batch') throw badRequest('batch tokens cannot be renewed');
    if (entry.isRoot || entry.expireMs === null) throw badRequest('invalid lease ID');
    if (!entry.renewable) throw badRequest('lease is not renewable');
    const now = this.clock.now();
    if (entry.expireMs <= now) throw badRequest('lease expired');
    if (entry.period > 0) {
      // A periodic token: its period again, whatever was asked, up to an explicit max only.
      const limit = entry.explicitMaxTtl > 0 ? Math.max(0, Math.floor((entry.issueMs + entry.explicitMaxTtl * 1000 - now) / 1000)) : entry.period;
      const ttl = Math.min(entry.period, limit);
      entry.expireMs = now + ttl * 1000;
      this.schedule(entry);
      return { ttl, warnings: [] };
    }
    const result = calculateTtl({
      nowMs: now,
      increment,
      backendTtl: entry.creationTtl,
      backendMaxTtl: entry.maxTtl,
      mountDefaultTtl: SYSTEM_DEFAULT_TTL,
      mountMaxTtl: SYSTEM_MAX_TTL,
      startMs: entry.issueMs,
      explicitMaxTtl: entry.explicitMaxTtl,
    });
    entry.expireMs = now + result.ttl * 1000;
    this.schedule(entry);
    return result;
  }

  remainingSeconds(entry: TokenEntry): number {
    if (entry.expireMs === null) return 0;
    return Math.max(0, Math.floor((entry.expireMs - this.clock.now()) / 1000));
  }

  /**
   * Counts one use of a token limited to a number of uses; true when that was its last (the
   * request is served, then the token goes, as OpenBao does).
   */
  use(entry: TokenEntry): boolean {
    if (entry.numUses <= 0) return false;
    entry.numUses -= 1;
    if (entry.numUses > 0) return false;
    // OpenBao's sentinel: -1 is "spent" (0 would read as unlimited while the last request runs).
    entry.numUses = -1;
    return true;
  }

  /** Revokes the token, its child tokens, and (through onRevoke) everything they created. */
  async revoke(entry: TokenEntry): Promise<void> {
    for (const child of [...this.tokens.values()]) {
      if (child.parent === entry.id && !child.orphan) await this.revoke(child);
    }
    await this.onRevoke(entry);
    this.tokens.delete(entry.id);
    this.timers.get(entry.id)?.cancel();
    this.timers.delete(entry.id);
  }

  /**
   * Revokes every live token whose creating path starts with a prefix (Vault's revoke-prefix
   * on `auth/<mount>/`): what logged in through an auth mount goes with the mount.
   */
  async revokeUnder(prefix: string): Promise<void> {
    for (const entry of [...this.tokens.values()]) {
      // A child revoked with its parent earlier in this loop is gone already.
      if (entry.path.startsWith(prefix) && this.tokens.get(entry.id) === entry) await this.revoke(entry);
    }
  }

  /**
   * The store as a namespace's backends see it: the same tokens, but every token made through
   * it belongs to the namespace.
   */
  inNamespace(namespace: { path: string; id: string }): NamespacedTokens {
    const view = Object.create(this) as TokenStore;
    view.create = (options: CreateTokenOptions) => this.create({ ...options, namespace });
    return view;
  }

  /** Revokes every token of a namespace (the namespace is being deleted). */
  async revokeNamespace(path: string): Promise<void> {
    for (const entry of [...this.tokens.values()]) if (entry.namespace === path && this.tokens.get(entry.id) === entry) await this.revoke(entry);
  }

  async revokeAll(): Promise<void> {
    for (const entry of [...this.tokens.values()]) if (!entry.isRoot) await this.revoke(entry);
    for (const timer of this.timers.values()) timer.cancel();
    this.timers.clear();
  }

  private schedule(entry: TokenEntry): void {
    this.timers.get(entry.id)?.cancel();
    if (entry.expireMs === null) return;
    const timer = this.clock.setTimeout(() => {
      this.timers.delete(entry.id);
      if (this.tokens.get(entry.id) === entry) void this.revoke(entry).catch(() => undefined);
    }, entry.expireMs - this.clock.now());
    this.timers.set(entry.id, timer);
  }
}
