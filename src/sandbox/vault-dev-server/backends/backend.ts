import type { TokenEntry } from '../state/tokens.js';
import type { Operation, VaultResponse } from '../wire.js';

/**
 * What every backend — the system backend, the token store, KV, database, AppRole, JWT — is to
 * the router: its routes below its mount, and the state it owns. A backend is given the shared
 * state it needs (tokens, leases, …) when it is made; it never sees the router or other backends.
 */
export interface Backend {
  /** Paths of this backend that Vault treats specially (Vault's PathsSpecial), below the mount. */
  readonly special?: SpecialPaths;
  handle(request: BackendRequest): Promise<VaultResponse>;
  /**
   * For a write below the mount: whether its target exists (the ACL then asks for `update`)
   * or not (`create`); undefined where Vault runs no existence check (always `update`).
   */
  exists?(subpath: string): boolean | undefined;
  /** Closes connections, once its mount is gone and what it issued revoked. */
  close?(): Promise<void>;
}

/**
 * Path patterns relative to the mount; one ending in `*` is a prefix.
 */
export interface SpecialPaths {
  /** Answered without a token. */
  unauthenticated?: string[];
  /** Need `sudo` besides the operation's capability (Vault's root paths). */
  root?: string[];
  /** Need a valid token, but no ACL check: the route asks the token's access itself. */
  selfChecked?: string[];
}

export interface BackendRequest {
  operation: Operation;
  /** The logical path after /v1/, without a leading slash. */
  path: string;
  /** The path below the mount: `''` for the mount itself. */
  subpath: string;
  query: URLSearchParams;
  body: Record<string, unknown>;
  /** The caller's token, checked by the router; undefined only on unauthenticated paths. */
  token: TokenEntry;
}

/** Whether a subpath matches one of the patterns of a SpecialPaths list. */
export function matchesAny(patterns: string[] | undefined, subpath: string): boolean {
  return (patterns ?? []).some((pattern) => (pattern.endsWith('*') ? subpath.startsWith(pattern.slice(0, -1)) : subpath === pattern));
}

/** Which table a mount is in: secrets engines, or auth methods (under `auth/`). */
export type MountKind = 'secret' | 'auth';

/** Makes the backend of a newly enabled mount (Vault's plugin catalog); undefined for an unknown type. */
export type BackendFactory = (kind: MountKind, type: string, mount: MountInfo) => Backend | undefined;

/**
 * What a backend may know of its own mount: its path, and the config sys/mounts/<path>/tune
 * changes while it runs (read at each use, so a tune takes effect at once).
 */
export interface MountInfo {
  readonly path: string;
  readonly options: Record<string, string> | null;
  readonly config: { default_lease_ttl: number; max_lease_ttl: number };
}
