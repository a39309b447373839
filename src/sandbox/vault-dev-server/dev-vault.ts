import type { AuditDeviceOptions } from './state/audit-devices.js';
import type { Clock } from '../../util/clock.js';
import { CubbyholeBackend } from './backends/cubbyhole.js';
import { backendCatalog } from './backends/catalog.js';
import { SystemBackend } from './backends/system/system.js';
import { TokenStoreBackend } from './backends/token-store.js';
import { Router } from './router.js';
import { NamespaceStore } from './state/namespaces.js';
import { VaultState } from './state/vault-state.js';

export interface DevVault {
  state: VaultState;
  router: Router;
  /** The root's namespaces, each a DevVault of its own (absent on a namespace's own core). */
  namespaces?: NamespaceStore<DevVault>;
}

/**
 * Puts the dev server together, free of HTTP: the shared state, the built-in mounts (sys/ with
 * the system backend, auth/token/ with the token store, cubbyhole/ with each token's own store,
 * and identity/, listed but not served), and the router over them.
 */
export function createDevVault(options: { clock: Clock; rootToken?: string; version?: string; audit?: AuditDeviceOptions[] }): DevVault {
  const state = new VaultState(options.clock, { rootToken: options.rootToken, version: options.version, audit: options.audit });
  const namespaces = new NamespaceStore<DevVault>(
    (info) => assemble(state.forNamespace(info)),
    async (info, core) => {
      // What the namespace issued goes with it: its mounts (and their leases), then its tokens.
      for (const kind of ['secret', 'auth'] as const) {
        for (const mount of core.state.mounts.list(kind)) if (!mount.builtin) await core.state.mounts.disable(kind, mount.path);
      }
      await state.tokens.revokeNamespace(info.path);
      await core.state.mounts.closeAll();
    },
  );
  state.namespaces = namespaces;
  return { ...assemble(state), namespaces };
}

/** The built-in mounts of one namespace (the root's, or another's) and the router over them. */
function assemble(state: VaultState): DevVault {
  const catalog = backendCatalog(state);
  state.mounts.enable('secret', { path: 'sys/', type: 'system', builtin: true }, () => new SystemBackend(state, catalog));
  state.mounts.enable('secret', { path: 'cubbyhole/', type: 'cubbyhole', builtin: true }, () => new CubbyholeBackend());
  state.mounts.enable('secret', { path: 'identity/', type: 'identity', builtin: true }, () => null);
  state.mounts.enable('auth', { path: 'token/', type: 'token', builtin: true }, () => new TokenStoreBackend(state.tokens));
  return { state, router: new Router(state) };
}
