import { SYSTEM_DEFAULT_TTL, SYSTEM_MAX_TTL } from './ttl.js';
import { base62 } from './random.js';
import type { VaultRequest, VaultResponse } from './wire.js';

/** A secrets engine behind a mount: it sees the path below the mount. */
export interface SecretEngine {
  handle(request: VaultRequest, subpath: string, mount: Mount): Promise<VaultResponse>;
  /** Closes connections; leases are revoked by the lease manager first. */
  close?(): Promise<void>;
  /**
   * For a write below the mount: whether its target exists (the ACL then asks for `update`)
   * or not (`create`); undefined where Vault runs no existence check (always `update`).
   */
  exists?(subpath: string): boolean | undefined;
}

export interface Mount {
  /** With a trailing slash, as Vault lists it: "secret/". */
  path: string;
  type: string;
  description: string;
  options: Record<string, string> | null;
  config: { default_lease_ttl: number; max_lease_ttl: number };
  accessor: string;
  engine: SecretEngine | null;
}

export function newMount(path: string, type: string, options: Partial<Omit<Mount, 'path' | 'type' | 'accessor'>> = {}): Mount {
  return {
    path,
    type,
    description: options.description ?? '',
    options: options.options ?? null,
    config: options.config ?? { default_lease_ttl: 0, max_lease_ttl: 0 },
    accessor: `${type}_${base62(8).toLowerCase()}`,
    engine: options.engine ?? null,
  };
}

/** The mount's effective TTLs: its tuned values, else the system's 768h. */
export function mountTtls(mount: Mount): { defaultTtl: number; maxTtl: number } {
  return {
    defaultTtl: mount.config.default_lease_ttl > 0 ? mount.config.default_lease_ttl : SYSTEM_DEFAULT_TTL,
    maxTtl: mount.config.max_lease_ttl > 0 ? mount.config.max_lease_ttl : SYSTEM_MAX_TTL,
  };
}

/** The mount table entry as sys/mounts shows it. */
export function describeMount(mount: Mount) {
  return {
    type: mount.type,
    description: mount.description,
    accessor: mount.accessor,
    config: { default_lease_ttl: mount.config.default_lease_ttl, max_lease_ttl: mount.config.max_lease_ttl, force_no_cache: false },
    options: mount.options,
    local: false,
    seal_wrap: false,
    external_entropy_access: false,
    plugin_version: '',
    running_plugin_version: '',
    running_sha256: '',
    uuid: mount.accessor,
  };
}

/** The mount that serves a path: the longest mount path that prefixes it. */
export function findMount(mounts: Map<string, Mount>, path: string): Mount | undefined {
  let best: Mount | undefined;
  for (const mount of mounts.values()) {
    if ((path === mount.path.slice(0, -1) || path.startsWith(mount.path)) && (!best || mount.path.length > best.path.length)) best = mount;
  }
  return best;
}
