import type { Backend, MountInfo, MountKind } from '../backends/backend.js';
import { base62 } from '../random.js';
import { badRequest } from '../wire.js';
import type { LeaseManager } from './leases.js';
import type { TokenStore } from './tokens.js';

/** A secrets engine or auth method mounted at a path, as sys/mounts and sys/auth list it. */
export interface Mount extends MountInfo {
  /** With a trailing slash, as Vault lists it: "secret/" (an auth mount without its `auth/`). */
  readonly path: string;
  readonly type: string;
  description: string;
  options: Record<string, string> | null;
  config: { default_lease_ttl: number; max_lease_ttl: number };
  readonly accessor: string;
  /** null for the built-in mount this server lists but does not serve (identity/). */
  backend: Backend | null;
  /** sys/, cubbyhole/, identity/ and auth/token/: listed, never disabled. */
  readonly builtin: boolean;
}

/** What sys/mounts/<path> or sys/auth/<path> gives to enable a mount. */
export interface MountFields {
  path: string;
  type: string;
  description?: string;
  options?: Record<string, string> | null;
  config?: Mount['config'];
  builtin?: boolean;
}

/** Where a request lands: the mount, and the path below it. */
export interface Resolved {
  mount: Mount;
  subpath: string;
}

/**
 * The two mount tables — secrets engines, and auth methods under `auth/` — and the one way a
 * mount leaves them: disabling it revokes what was issued through it, leases and tokens alike
 * (Vault's revoke-prefix on the mount's path), before its backend closes.
 */
export class MountTable {
  private readonly tables: Record<MountKind, Map<string, Mount>> = { secret: new Map(), auth: new Map() };

  constructor(
    private readonly leases: LeaseManager,
    private readonly tokens: TokenStore,
  ) {}

  list(kind: MountKind): Mount[] {
    return [...this.tables[kind].values()];
  }

  get(kind: MountKind, path: string): Mount | undefined {
    return this.tables[kind].get(normalize(path));
  }

  /** The mount of a table that serves a path: the longest mount path that prefixes it. */
  find(kind: MountKind, path: string): Mount | undefined {
    let best: Mount | undefined;
    for (const mount of this.tables[kind].values()) {
      if ((path === mount.path.slice(0, -1) || path.startsWith(mount.path)) && (!best || mount.path.length > best.path.length)) best = mount;
    }
    return best;
  }

  /** Where a logical path lands: `auth/…` in the auth methods' table, the rest in the secrets engines'. */
  resolve(path: string): Resolved | undefined {
    const kind: MountKind = path.startsWith('auth/') ? 'auth' : 'secret';
    const rest = kind === 'auth' ? path.slice('auth/'.length) : path;
    const mount = this.find(kind, rest);
    if (!mount) return undefined;
    return { mount, subpath: rest === mount.path.slice(0, -1) ? '' : rest.slice(mount.path.length) };
  }

  /** Adds a mount; refuses a path that is, contains or lies inside one in use. */
  enable(kind: MountKind, fields: MountFields, makeBackend: (mount: Mount) => Backend | null): Mount {
    const path = normalize(fields.path);
    const table = this.tables[kind];
    for (const existing of table.keys()) {
      if (path.startsWith(existing) || existing.startsWith(path)) throw badRequest(`path is already in use at ${existing}`);
    }
    const mount: Mount = {
      path,
      type: fields.type,
      description: fields.description ?? '',
      options: fields.options ?? null,
      config: fields.config ?? { default_lease_ttl: 0, max_lease_ttl: 0 },
      accessor: `${fields.type}_${base62(8).toLowerCase()}`,
      backend: null,
      builtin: fields.builtin ?? false,
    };
    mount.backend = makeBackend(mount);
    table.set(path, mount);
    return mount;
  }

  /**
   * Disables a mount: revokes every lease and token issued through it (a token's revocation
   * takes its child tokens and leases with it), closes its backend, drops it. An absent or
   * built-in mount is left as it is, and that is no error.
   */
  async disable(kind: MountKind, path: string): Promise<void> {
    const table = this.tables[kind];
    const mount = table.get(normalize(path));
    if (!mount || mount.builtin) return;
    const prefix = `${kind === 'auth' ? 'auth/' : ''}${mount.path}`;
    await this.leases.revokeWhere((lease) => lease.path.startsWith(prefix));
    await this.tokens.revokeUnder(prefix);
    await mount.backend?.close?.();
    table.delete(mount.path);
  }

  /** Closes every backend (server shutdown). */
  async closeAll(): Promise<void> {
    for (const table of Object.values(this.tables)) for (const mount of table.values()) await mount.backend?.close?.();
  }
}

/** `/a/b/` or `a/b` → `a/b/`. */
function normalize(path: string): string {
  return `${path.replace(/^\/+|\/+$/g, '')}/`;
}
