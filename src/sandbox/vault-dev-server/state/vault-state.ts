import { AuditDevices, type AuditDeviceOptions } from './audit-devices.js';
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../../util/clock.js';
import { serviceToken } from '../random.js';
import { LeaseManager } from './leases.js';
import { MountTable } from './mount-table.js';
import { PolicyStore } from './policies.js';
import { TokenStore } from './tokens.js';
import { WrappingStore } from './wrapping.js';
import type { NamespaceInfo } from './namespaces.js';

/** What sys/health, seal-status, leader and ha-status report; the control API changes it. */
export interface NodeStatus {
  readonly version: string;
  readonly clusterName: string;
  readonly clusterId: string;
  sealed: boolean;
  /** Standby mode: the active node requests are redirected to (set through the control API). */
  standbyRedirect: string | null;
}

/**
 * The state every backend may share, each part owning its maps: the mount tables, tokens,
 * leases and policies, on the injected clock. A token's revocation revokes its leases; a mount's
 * revokes what was issued through it.
 */
export class VaultState {
  readonly node: NodeStatus;
  readonly rootToken: string;
  readonly leases: LeaseManager;
  readonly tokens: TokenStore;
  readonly policies = new PolicyStore();
  readonly mounts: MountTable;
  readonly wrapping: WrappingStore;
  /** The audit devices declared at start (OpenBao declares them in its configuration). */
  readonly audit: AuditDevices;
  /** The namespace this state is ('' for the root; a namespace's view of the state has its path). */
  readonly namespacePath: string = '';
  /** The root's namespaces, for sys/namespaces (set once by dev-vault.ts; one level deep). */
  namespaces?: {
    create(name: string): NamespaceInfo;
    get(path: string): { info: NamespaceInfo } | undefined;
    list(): NamespaceInfo[];
    delete(name: string): Promise<boolean>;
  };

  constructor(
    readonly clock: Clock,
    options: { rootToken?: string; version?: string; audit?: AuditDeviceOptions[] } = {},
  ) {
    this.node = { version: options.version ?? '2.3.1', clusterName: 'eos-vault-dev-server', clusterId: randomUUID(), sealed: false, standbyRedirect: null };
    this.leases = new LeaseManager(clock);
    this.tokens = new TokenStore(clock, (token) => this.leases.revokeWhere((lease) => lease.tokenId === token.id).catch(() => undefined));
    this.rootToken = options.rootToken ?? serviceToken();
    this.tokens.createRoot(this.rootToken);
    this.mounts = new MountTable(this.leases, this.tokens);
    this.wrapping = new WrappingStore(clock);
    this.audit = new AuditDevices(options.audit);
  }

  /**
   * The state as a namespace sees it: its own mounts and policies, tokens made in it carrying
   * it, and the rest (node, clock, leases, wrapping) shared with the root.
   */
  forNamespace(namespace: { path: string; id: string }): VaultState {
    const view = Object.create(this) as VaultState;
    const tokens = this.tokens.inNamespace(namespace);
    Object.defineProperties(view, {
      namespacePath: { value: namespace.path },
      tokens: { value: tokens },
      policies: { value: new PolicyStore() },
      mounts: { value: new MountTable(this.leases, tokens) },
    });
    return view;
  }

  /** Stops timers; with revoke, first revokes every lease so no database role is left behind. */
  async shutdown(revoke: boolean): Promise<void> {
    if (revoke) await this.leases.revokeWhere(() => true).catch(() => undefined);
    this.leases.clearTimers();
    await this.tokens.revokeAll().catch(() => undefined);
    await this.mounts.closeAll();
  }
}
