import type { Clock } from '../../util/clock.js';
import { CubbyholeBackend } from './backends/cubbyhole.js';
import { backendCatalog } from './backends/catalog.js';
import { SystemBackend } from './backends/system/system.js';
import { TokenStoreBackend } from './backends/token-store.js';
import { Router } from './router.js';
import { VaultState } from './state/vault-state.js';

export interface DevVault {
  state: VaultState;
  router: Router;
}

/**
 * Puts the dev server together, free of HTTP: the shared state, the built-in mounts (sys/ with
 * the system backend, auth/token/ with the token store, cubbyhole/ with each token's own store,
 * and identity/, listed but not served), and the router over them.
 */
export function createDevVault(options: { clock: Clock; rootToken?: string; version?: string }): DevVault {
  const state = new VaultState(options.clock, { rootToken: options.rootToken, version: options.version });
  const catalog = backendCatalog(state);
  state.mounts.enable('secret', { path: 'sys/', type: 'system', builtin: true }, () => new SystemBackend(state, catalog));
  state.mounts.enable('secret', { path: 'cubbyhole/', type: 'cubbyhole', builtin: true }, () => new CubbyholeBackend());
  state.mounts.enable('secret', { path: 'identity/', type: 'identity', builtin: true }, () => null);
  state.mounts.enable('auth', { path: 'token/', type: 'token', builtin: true }, () => new TokenStoreBackend(state.tokens));
  return { state, router: new Router(state) };
}
