import type { VaultState } from '../../state/vault-state.js';
import { unsupportedPath, type VaultResponse } from '../../wire.js';
import type { Backend, BackendFactory, BackendRequest, SpecialPaths } from '../backend.js';
import { handleLeases } from './sys-leases.js';
import { MountRoutes } from './sys-mounts.js';
import { handleCapabilities, handlePolicies } from './sys-policies.js';
import { handleStatus } from './sys-status.js';
import { handleNamespaces } from './sys-namespaces.js';
import { handleAudit } from './sys-audit.js';

/**
 * The system backend, mounted at sys/: the node's status, the mount tables, leases, policies
 * and capabilities. It manages the shared state, so it is given all of it, and the catalog to
 * make the backends of new mounts with.
 */
export class SystemBackend implements Backend {
  readonly special: SpecialPaths = {
    unauthenticated: ['health', 'seal-status', 'leader', 'init', 'internal/ui/mounts'],
    // Vault's root paths of the system backend that this server serves or refuses.
    root: ['auth/*', 'leases/revoke-prefix/*', 'leases/revoke-force/*', 'leases/lookup/*', 'leases', 'revoke-prefix/*', 'revoke-force/*', 'audit*', 'raw*', 'rotate'],
    // Unauthenticated in Vault; the route checks the token's access below the mount itself.
    selfChecked: ['internal/ui/mounts/*', 'internal/ui/mounts'],
  };
  private readonly mountRoutes: MountRoutes;

  constructor(
    private readonly state: VaultState,
    catalog: BackendFactory,
  ) {
    this.mountRoutes = new MountRoutes(state.mounts, catalog, state.policies);
  }

  async handle(request: BackendRequest): Promise<VaultResponse> {
    const route = request.subpath;
    const { state } = this;
    if (['health', 'seal-status', 'leader', 'init', 'ha-status'].includes(route)) return handleStatus(state.node, state.clock, request);
    if (route === 'mounts') return this.mountRoutes.list('secret', request);
    if (route.startsWith('mounts/')) return this.mountRoutes.secretMount(request, route.slice('mounts/'.length));
    if (route === 'auth') return this.mountRoutes.list('auth', request);
    if (route.startsWith('auth/')) return this.mountRoutes.authMount(request, route.slice('auth/'.length));
    if (route.startsWith('internal/ui/mounts/')) return this.mountRoutes.uiMount(request, route.slice('internal/ui/mounts/'.length));
    if (route === 'internal/ui/mounts') return this.mountRoutes.uiMounts(request);
    if (route.startsWith('leases/')) return handleLeases(state.leases, request, route.slice('leases/'.length));
    if (route === 'policy' || route.startsWith('policy/') || route === 'policies/acl' || route.startsWith('policies/acl/')) {
      return handlePolicies(state.policies, state.clock, request, route);
    }
    if (route === 'capabilities' || route === 'capabilities-self' || route === 'capabilities-accessor') return handleCapabilities(state.policies, state.tokens, request, route);
    if (route === 'audit' || route.startsWith('audit/') || route.startsWith('audit-hash/')) return handleAudit(state.audit, request, route);
    if ((route === 'namespaces' || route.startsWith('namespaces/')) && state.namespaces) return handleNamespaces(state.namespaces, request, route.slice('namespaces'.length).replace(/^\/+|\/+$/g, ''));
    throw unsupportedPath();
  }
}
