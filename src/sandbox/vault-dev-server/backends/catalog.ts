import type { Clock } from '../../../util/clock.js';
import type { LeaseManager } from '../state/leases.js';
import type { TokenStore } from '../state/tokens.js';
import { AppRoleBackend } from './approle.js';
import type { BackendFactory } from './backend.js';
import { DatabaseBackend } from './database.js';
import { JwtAuthBackend } from './jwt-auth.js';
import { KvV1Backend } from './kv-v1.js';
import { KvV2Backend } from './kv-v2.js';

/**
 * The plugin catalog: the secrets engines sys/mounts can enable and the auth methods sys/auth
 * can, each given only the shared state it uses.
 */
export function backendCatalog(shared: { clock: Clock; leases: LeaseManager; tokens: TokenStore }): BackendFactory {
  const { clock, leases, tokens } = shared;
  return (kind, type, mount) => {
    if (kind === 'secret' && type === 'kv') return mount.options?.version === '2' ? new KvV2Backend(clock) : new KvV1Backend();
    if (kind === 'secret' && type === 'database') return new DatabaseBackend(mount, clock, leases);
    if (kind === 'auth' && type === 'approle') return new AppRoleBackend(mount, clock, tokens);
    if (kind === 'auth' && type === 'jwt') return new JwtAuthBackend(mount, clock, tokens);
    return undefined;
  };
}
