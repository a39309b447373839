import type { KeeperEvent, LeaseKeeper, Leased } from './lease-keeper.js';

/**
 * The live side of a kept lease, for whoever watches it (the metrics, a dashboard) without
 * holding the keeper: its expiry, its token's, and its events as they happen.
 */
export interface LeaseWatch {
  /** When the lease expires by eos's count (ms), or undefined when no lease is kept. */
  leaseExpiry(): number | undefined;
  /** When the Vault token expires (ms), or undefined when nothing is known of it. */
  tokenExpiry(): number | undefined;
  /** Calls `listener` with each keeper event (renewed, rotated, token-relogin, …); returns how to stop. */
  onEvent(listener: (event: KeeperEvent) => void): () => void;
}

/** A watch on `keeper`; with none (static credentials) nothing expires and nothing happens. */
export function watchLease<T extends Leased>(keeper: LeaseKeeper<T> | undefined): LeaseWatch {
  return {
    leaseExpiry: () => keeper?.expiry,
    tokenExpiry: () => keeper?.tokenExpiry,
    onEvent(listener) {
      keeper?.on('event', listener);
      return () => void keeper?.off('event', listener);
    },
  };
}
