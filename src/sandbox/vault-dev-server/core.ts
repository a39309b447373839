import { randomUUID } from 'node:crypto';
import { AppRoleEngine } from './approle.js';
import { JwtAuthEngine } from './jwt-auth.js';
import type { Clock } from '../../util/clock.js';
import { DatabaseEngine } from './database.js';
import { kvEngineFor } from './kv.js';
import { LeaseManager } from './leases.js';
import { findMount, newMount, type Mount } from './mounts.js';
import { serviceToken } from './random.js';
import { handleSys } from './sys.js';
import { TokenStore } from './tokens.js';
import { Acl, DEFAULT_POLICY, parsePolicy, type Capability, type Policy } from './policy.js';
import { handleTokenRoutes } from './token-routes.js';
import { badRequest, noRoute, permissionDenied, policyDenied, unsupportedOperation, VaultHttpError, type Operation, type TokenEntry, type VaultRequest, type VaultResponse } from './wire.js';

export interface CoreOptions {
  clock: Clock;
  rootToken?: string;
  version?: string;
}

/** Paths answered without a token (Vault's unauthenticated paths that this server serves). */
function isUnauthenticated(path: string): boolean {
  return ['sys/health', 'sys/seal-status', 'sys/leader', 'sys/init'].includes(path) || /^auth\/[^/]+\/login$/.test(path);
}

/**
 * Paths that need `sudo` besides the operation's capability (Vault's root paths). A pattern
 * ending in `*` is a prefix.
 */
const SUDO_PATHS = [
  'sys/auth/*',
  'sys/leases/revoke-prefix/*',
  'sys/leases/revoke-force/*',
  'sys/leases/lookup/*',
  'sys/leases',
  'sys/revoke-prefix/*',
  'sys/revoke-force/*',
  'sys/audit*',
  'sys/raw*',
  'sys/rotate',
  'auth/token/revoke-orphan/*',
  'auth/token/accessors*',
];

function needsSudo(path: string): boolean {
  return SUDO_PATHS.some((pattern) => (pattern.endsWith('*') ? path.startsWith(pattern.slice(0, -1)) : path === pattern));
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
  /** ACL policies by name; `root` is built in and never stored. */
  readonly policies = new Map<string, Policy>([['default', parsePolicy('default', DEFAULT_POLICY)]]);

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
    // ?help=1 describes a path and does nothing else, whatever the policies say.
    const help = query.get('help');
    if (help !== null && help !== '') return helpFor(path);
    if (token) this.authorize(token, operation, path);
    const request: VaultRequest = { operation, path, query, body, token: token as TokenEntry };
    if (path.startsWith('sys/')) return handleSys(this, request);
    if (path.startsWith('auth/')) return this.auth(request);
    const mount = findMount(this.mounts, path);
    if (!mount || !mount.engine) throw noRoute(path);
    // PATCH is served by KV v2 only (vault kv patch, vault kv metadata patch).
    if (operation === 'patch' && !(mount.type === 'kv' && mount.options?.version === '2')) throw unsupportedOperation();
    const subpath = path === mount.path.slice(0, -1) ? '' : path.slice(mount.path.length);
    return mount.engine.handle(request, subpath, mount);
  }

  /** Whether a token is a root token: the root token itself, or one holding the root policy. */
  isRoot(token: TokenEntry): boolean {
    return token.isRoot || token.policies.includes('root');
  }

  aclOf(token: TokenEntry): Acl {
    return new Acl(token.policies.map((name) => this.policies.get(name)).filter((p): p is Policy => p !== undefined));
  }

  /** sys/capabilities: `root` for a root token, else the ACL's answer. */
  capabilitiesOf(token: TokenEntry, path: string): string[] {
    if (this.isRoot(token)) return ['root'];
    return this.aclOf(token).capabilities(path.replace(/^\/+/, ''));
  }

  /**
   * Vault's ACL check: the capability the operation needs on the path (create or update for a
   * write, by whether the target exists), and sudo on root paths. A refusal is the policy
   * 403, which differs from the bad-token one.
   */
  private authorize(token: TokenEntry, operation: Operation, path: string): void {
    if (this.isRoot(token)) return;
    // Unauthenticated in Vault; the route checks the token's access below the mount itself.
    if (path.startsWith('sys/internal/ui/mounts/')) return;
    const listing = operation === 'list';
    const checked = listing && !path.endsWith('/') ? `${path}/` : path;
    const rule = this.aclOf(token).rule(checked, listing);
    if (rule.has('deny')) throw policyDenied();
    const needed: Capability[] = operation === 'update' ? (this.exists(path) === false ? ['create'] : ['update']) : [operation];
    if (!needed.some((c) => rule.has(c))) throw policyDenied();
    if (needsSudo(path) && !rule.has('sudo')) throw policyDenied();
  }

  /** Whether a write would update (true) or create (false); undefined where Vault does not ask. */
  private exists(path: string): boolean | undefined {
    const mount = findMount(this.mounts, path);
    if (!mount?.engine?.exists) return undefined;
    return mount.engine.exists(path === mount.path.slice(0, -1) ? '' : path.slice(mount.path.length));
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
    const engine = type === 'approle' ? new AppRoleEngine(this.clock, this.tokens) : type === 'jwt' ? new JwtAuthEngine(this.clock, this.tokens) : null;
    if (!engine) throw badRequest(`plugin not found in the catalog: ${type}`);
    this.authMounts.set(normalized, newMount(normalized, type, { description, engine }));
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
    if (rest.startsWith('token/')) return handleTokenRoutes(this, request, rest.slice('token/'.length));
    const mount = findMount(this.authMounts, rest);
    if (!mount || !mount.engine) throw noRoute(request.path);
    return mount.engine.handle(request, rest.slice(mount.path.length), mount);
  }
}

/** What `?help=1` answers: a description, and nothing done. */
function helpFor(path: string): VaultResponse {
  return {
    status: 200,
    body: {
      help: `## PATH\n\n    ${path}\n\nThe eos Vault-API dev server serves this path as reference/vault-api.md describes it.\n`,
      openapi: { openapi: '3.0.2', info: { title: 'eos Vault-API dev server', version: '' }, paths: {} },
      see_also: null,
    },
  };
}
