import { randomUUID } from 'node:crypto';
import { AppRoleEngine } from './approle.js';
import type { Clock } from '../../util/clock.js';
import { DatabaseEngine } from './database.js';
import { kvEngineFor } from './kv.js';
import { LeaseManager } from './leases.js';
import { findMount, newMount, type Mount } from './mounts.js';
import { serviceToken } from './random.js';
import { handleSys } from './sys.js';
import { authBlock, lookupData, TokenStore } from './tokens.js';
import {
  durationField,
  type TokenEntry,
  badRequest,
  boolField,
  listField,
  noContent,
  noRoute,
  ok,
  permissionDenied,
  unsupportedOperation,
  unsupportedPath,
  VaultHttpError,
  type Operation,
  type VaultRequest,
  type VaultResponse,
} from './wire.js';

export interface CoreOptions {
  clock: Clock;
  rootToken?: string;
  version?: string;
}

/** Paths answered without a token. */
function isUnauthenticated(path: string): boolean {
  return path === 'sys/health' || path === 'sys/seal-status' || /^auth\/[^/]+\/login$/.test(path);
}

/**
 * The dev server's state and its request dispatch, free of HTTP: sealed or not, the mount
 * tables, tokens and leases. server.ts turns HTTP into calls of `dispatch`.
 */
export class VaultCore {
  readonly clock: Clock;
  readonly rootToken: string;
  readonly version: string;
  readonly clusterName = 'eos-vault-dev-server';
  readonly clusterId = randomUUID();
  sealed = false;
  /** Standby mode: the active node requests are redirected to (set through the control API). */
  standbyRedirect: string | null = null;
  readonly mounts = new Map<string, Mount>();
  readonly authMounts = new Map<string, Mount>();
  readonly leases: LeaseManager;
  readonly tokens: TokenStore;

  constructor(options: CoreOptions) {
    this.clock = options.clock;
    this.version = options.version ?? '2.3.1';
    this.leases = new LeaseManager(this.clock);
    this.tokens = new TokenStore(this.clock, (token) => this.leases.revokeWhere((lease) => lease.tokenId === token.id).catch(() => undefined));
    this.rootToken = options.rootToken ?? serviceToken();
    this.tokens.createRoot(this.rootToken);
    for (const [path, type] of [['sys/', 'system'], ['cubbyhole/', 'cubbyhole'], ['identity/', 'identity']] as const) {
      this.mounts.set(path, newMount(path, type));
    }
    this.authMounts.set('token/', newMount('token/', 'token'));
  }

  async dispatch(operation: Operation, path: string, query: URLSearchParams, body: Record<string, unknown>, tokenId: string | undefined): Promise<VaultResponse> {
    if (path === 'sys/health' || path === 'sys/seal-status') {
      return handleSys(this, { operation, path, query, body } as VaultRequest);
    }
    if (this.sealed) throw new VaultHttpError(503, ['Vault is sealed']);
    let token: TokenEntry | undefined;
    if (!isUnauthenticated(path)) {
      token = this.tokens.lookup(tokenId);
      if (!token) throw permissionDenied();
    }
    const request: VaultRequest = { operation, path, query, body, token: token as TokenEntry };
    if (path.startsWith('sys/')) return handleSys(this, request);
    if (path.startsWith('auth/')) return this.auth(request);
    const mount = findMount(this.mounts, path);
    if (!mount || !mount.engine) throw noRoute(path);
    const subpath = path === mount.path.slice(0, -1) ? '' : path.slice(mount.path.length);
    return mount.engine.handle(request, subpath, mount);
  }

  /** Enables a secrets engine (sys/mounts/<path>). */
  enableMount(path: string, type: string, config: Mount['config'], options: Record<string, string> | null, description: string): void {
    const normalized = `${path.replace(/^\/+|\/+$/g, '')}/`;
    for (const existing of this.mounts.keys()) {
      if (normalized.startsWith(existing) || existing.startsWith(normalized)) throw badRequest(`path is already in use at ${existing}`);
    }
    let effectiveType = type;
    let effectiveOptions = options;
    if (type === 'kv-v2') {
      effectiveType = 'kv';
      effectiveOptions = { ...(options ?? {}), version: '2' };
    }
    const mount = newMount(normalized, effectiveType, { config, options: effectiveOptions, description });
    switch (effectiveType) {
      case 'kv':
        mount.options = { version: effectiveOptions?.version ?? '1', ...effectiveOptions };
        mount.engine = kvEngineFor(mount, this.clock);
        break;
      case 'database':
        mount.engine = new DatabaseEngine(this.clock, this.leases);
        break;
      default:
        throw badRequest(`plugin not found in the catalog: ${type}`);
    }
    this.mounts.set(normalized, mount);
  }

  async disableMount(path: string): Promise<void> {
    const normalized = `${path.replace(/^\/+|\/+$/g, '')}/`;
    const mount = this.mounts.get(normalized);
    if (!mount || !mount.engine) return;
    await this.leases.revokeWhere((lease) => lease.mount === normalized);
    await mount.engine.close?.();
    this.mounts.delete(normalized);
  }

  enableAuth(path: string, type: string, description: string): void {
    const normalized = `${path.replace(/^\/+|\/+$/g, '')}/`;
    if (this.authMounts.has(normalized)) throw badRequest(`path is already in use at auth/${normalized}`);
    if (type !== 'approle') throw badRequest(`plugin not found in the catalog: ${type}`);
    this.authMounts.set(normalized, newMount(normalized, type, { description, engine: new AppRoleEngine(this.clock, this.tokens) }));
  }

  /** Stops timers; with revoke, first revokes every lease so no database role is left behind. */
  async shutdown(revoke: boolean): Promise<void> {
    if (revoke) await this.leases.revokeWhere(() => true).catch(() => undefined);
    this.leases.clearTimers();
    await this.tokens.revokeAll().catch(() => undefined);
    for (const mount of this.mounts.values()) await mount.engine?.close?.();
  }

  private async auth(request: VaultRequest): Promise<VaultResponse> {
    const rest = request.path.slice('auth/'.length);
    if (rest.startsWith('token/')) return this.tokenRoutes(request, rest.slice('token/'.length));
    const mount = findMount(this.authMounts, rest);
    if (!mount || !mount.engine) throw noRoute(request.path);
    return mount.engine.handle(request, rest.slice(mount.path.length), mount);
  }

  private async tokenRoutes(request: VaultRequest, route: string): Promise<VaultResponse> {
    const token = request.token;
    switch (route) {
      case 'lookup-self':
        if (request.operation !== 'read') throw unsupportedOperation();
        return ok({ data: lookupData(token, this.tokens.remainingSeconds(token)) });
      case 'renew-self': {
        if (request.operation !== 'update') throw unsupportedOperation();
        const increment = durationField(request.body, 'increment') ?? 0;
        const { ttl, warnings } = this.tokens.renew(token, increment);
        return ok({ auth: authBlock(token, ttl), warnings });
      }
      case 'revoke-self':
        if (request.operation !== 'update') throw unsupportedOperation();
        await this.tokens.revoke(token);
        return noContent();
      case 'create':
      case 'create-orphan': {
        if (request.operation !== 'update') throw unsupportedOperation();
        const body = request.body;
        const requested = listField(body, 'policies') ?? token.policies;
        if (!token.isRoot && requested.some((p) => !token.policies.includes(p) && p !== 'default')) {
          throw badRequest('child policies must be subset of parent');
        }
        const noDefault = boolField(body, 'no_default_policy', false);
        const policies = requested.includes('root') ? ['root'] : [...(noDefault ? [] : ['default']), ...requested];
        const displayName = typeof body.display_name === 'string' && body.display_name !== '' ? `token-${body.display_name}` : 'token';
        const created = this.tokens.create({
          policies,
          displayName,
          path: `auth/token/${route}`,
          ttl: durationField(body, 'ttl') ?? 0,
          explicitMaxTtl: durationField(body, 'explicit_max_ttl') ?? 0,
          renewable: boolField(body, 'renewable', true),
          meta: (body.meta as Record<string, string> | undefined) ?? null,
          orphan: route === 'create-orphan' || boolField(body, 'no_parent', false),
          parent: token.id,
        });
        return ok({ auth: authBlock(created, created.creationTtl) });
      }
      default:
        throw unsupportedPath();
    }
  }
}
