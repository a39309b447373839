import { randomUUID } from 'node:crypto';
import { base62 } from '../random.js';

/**
 * OpenBao's namespaces, one level deep: each has its own mounts, policies and tokens (tokens
 * made in it carry its id, `s.….ab12C`), reached by `X-Vault-Namespace` or a path that starts
 * with its name. The server keeps one core (state and router) per namespace; how a core is
 * made is dev-vault.ts's, handed in as `makeCore`, so this file knows nothing of backends.
 */
export interface NamespaceInfo {
  /** `ns1/`, with its slash, as OpenBao shows it. */
  path: string;
  /** The short id OpenBao appends to the namespace's tokens and accessors. */
  id: string;
  uuid: string;
}

export class NamespaceStore<Core> {
  private readonly namespaces = new Map<string, { info: NamespaceInfo; core: Core }>();

  constructor(
    private readonly makeCore: (info: NamespaceInfo) => Core,
    private readonly dropCore: (info: NamespaceInfo, core: Core) => Promise<void>,
  ) {}

  /** Creates one (idempotent, as OpenBao: the same namespace again is the one there). */
  create(name: string): NamespaceInfo {
    const path = `${name}/`;
    const existing = this.namespaces.get(path);
    if (existing) return existing.info;
    const info: NamespaceInfo = { path, id: base62(5).replace(/^./, (c) => c.toUpperCase()) + base62(1), uuid: randomUUID() };
    this.namespaces.set(path, { info, core: this.makeCore(info) });
    return info;
  }

  get(path: string): { info: NamespaceInfo; core: Core } | undefined {
    return this.namespaces.get(path.endsWith('/') ? path : `${path}/`);
  }

  list(): NamespaceInfo[] {
    return [...this.namespaces.values()].map((n) => n.info).sort((a, b) => a.path.localeCompare(b.path));
  }

  /** Deletes one with everything in it: its tokens, its mounts (and what they issued). */
  async delete(name: string): Promise<boolean> {
    const found = this.get(name);
    if (!found) return false;
    this.namespaces.delete(found.info.path);
    await this.dropCore(found.info, found.core);
    return true;
  }
}

/** What sys/namespaces shows of one. */
export function describeNamespace(info: NamespaceInfo) {
  return { custom_metadata: {}, id: info.id, locked: false, path: info.path, tainted: false, uuid: info.uuid };
}
