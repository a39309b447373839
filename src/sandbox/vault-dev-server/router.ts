import { matchesAny, type BackendRequest } from './backends/backend.js';
import type { Resolved } from './state/mount-table.js';
import type { Capability } from './state/policy.js';
import type { TokenEntry } from './state/tokens.js';
import type { VaultState } from './state/vault-state.js';
import { multierror, noRoute, permissionDenied, policyDenied, unsupportedPath, VaultHttpError, type Operation, type VaultResponse } from './wire.js';

/** What a token asks of itself, wherever it was made. */
const SELF_PATHS = /^auth\/token\/(lookup|renew|revoke)-self$/;

/** Answered even while sealed, as Vault's HTTP layer serves them before the core. */
const SEAL_EXEMPT = new Set(['sys/health', 'sys/seal-status']);


/**
 * Vault's request path, free of HTTP: resolve the mount once, check the seal, the token and the
 * ACL once, then hand the request to the mount's backend with the path below the mount.
 * server.ts turns HTTP into calls of `route`.
 */
export class Router {
  constructor(private readonly state: VaultState) {}

  async route(operation: Operation, requested: string, query: URLSearchParams, body: Record<string, unknown>, tokenId: string | undefined): Promise<VaultResponse> {
    // OpenBao refuses a write to `x/` outright; anything else keeps its slash, for the ACL
    // (an exact rule on `x` does not cover `x/`) and the route (which then does not match).
    if ((operation === 'update' || operation === 'patch') && requested.endsWith('/')) throw new VaultHttpError(400, ["cannot write to a path ending in '/'"]);
    const path = requested;
    const resolved = this.state.mounts.resolve(path);
    const backend = resolved?.mount.backend ?? null;
    const subpath = resolved?.subpath ?? '';
    if (this.state.node.sealed && !SEAL_EXEMPT.has(path)) throw new VaultHttpError(503, ['Vault is sealed']);
    // A path no mount serves wants a token like any other (a login there included): without
    // one it is the 403 of a missing token, with one the 404 `no handler for route`.
    const unauthenticated = backend ? matchesAny(backend.special?.unauthenticated, subpath) : false;
    let token: TokenEntry | undefined;
    if (unauthenticated) {
      // Given anyway, it only tells the route who asks (sys/internal/ui/mounts shows its mounts).
      token = this.state.tokens.lookup(tokenId) ?? undefined;
      return this.serve(operation, path, query, body, token, resolved, true);
    }
    token = this.state.tokens.lookup(tokenId);
    if (!token) {
      // A wrapping token opens only sys/wrapping: elsewhere the policy refuses it, and the try
      // spends its one use (an unauthenticated path above never looks at it).
      if (this.state.wrapping.spendIfWrapping(tokenId)) throw policyDenied();
      throw permissionDenied();
    }
    // A token of another namespace has no policies here (a root token is root everywhere), but
    // may still look after itself (lookup-self, renew-self, revoke-self), as on OpenBao.
    if (!this.state.policies.isRoot(token) && (token.namespace ?? '') !== this.state.namespacePath && !SELF_PATHS.test(path)) throw policyDenied();
    // A token limited to a number of uses: this request is one, refused or not (as OpenBao
    // counts it before the ACL); after its last, it is revoked.
    const spent = this.state.tokens.use(token);
    try {
      return await this.serve(operation, path, query, body, token, resolved, false);
    } finally {
      if (spent) await this.state.tokens.revoke(token);
    }
  }

  /**
   * sys/wrapping/wrap, rewrap, and unwrap with the wrapping token in the body: the request's own
   * token must be valid, is used as any request uses it, and must be allowed the path.
   */
  checkCaller(tokenId: string | undefined, path: string): void {
    if (this.state.node.sealed) throw new VaultHttpError(503, ['Vault is sealed']);
    const token = this.state.tokens.lookup(tokenId);
    if (!token) throw permissionDenied();
    if (this.state.tokens.use(token)) void this.state.tokens.revoke(token);
    this.authorize(token, 'update', path, this.state.mounts.resolve(path));
  }

  /** The operation as Vault names it in its audit log: a write to what does not exist yet is `create`. */
  auditedOperation(operation: Operation, path: string): string {
    if (operation !== 'update') return operation;
    const resolved = this.state.mounts.resolve(path);
    return resolved?.mount.backend?.exists?.(resolved.subpath) === false ? 'create' : 'update';
  }

  /** A HEAD request: 403 without a valid token where one is needed, 404 where nothing is mounted, else 405. */
  refuseHead(path: string, tokenId: string | undefined): never {
    const resolved = this.state.mounts.resolve(path);
    const backend = resolved?.mount.backend ?? null;
    if (!(backend && matchesAny(backend.special?.unauthenticated, resolved?.subpath ?? ''))) {
      if (!this.state.tokens.lookup(tokenId)) throw permissionDenied();
      if (!backend) throw noRoute(path);
    }
    throw new VaultHttpError(405, []);
  }

  private async serve(
    operation: Operation,
    path: string,
    query: URLSearchParams,
    body: Record<string, unknown>,
    token: TokenEntry | undefined,
    resolved: Resolved | undefined,
    unauthenticated: boolean,
  ): Promise<VaultResponse> {
    const backend = resolved?.mount.backend ?? null;
    const subpath = resolved?.subpath ?? '';
    // ?help=1 describes a path and does nothing else, whatever the policies say.
    const help = query.get('help');
    if (help !== null && help !== '') return helpFor(path);
    if (token && !unauthenticated && !(backend && matchesAny(backend.special?.selfChecked, subpath))) this.authorize(token, operation, path, resolved);
    // A LIST is routed with a trailing slash, which the 404 names.
    if (!resolved || !backend) throw noRoute((operation === 'list' || operation === 'scan') && !path.endsWith('/') ? `${path}/` : path);
    const request: BackendRequest = { operation, path, subpath, query, body, token: token as TokenEntry };
    try {
      return await backend.handle(request);
    } catch (err) {
      // A LIST is routed to `x/`, which a path without a list operation does not match: OpenBao
      // answers it as a path it does not know, not as an operation the path does not support.
      if ((operation === 'list' || operation === 'scan') && err instanceof VaultHttpError && err.status === 405 && err.errors.length === 1 && err.errors[0] === multierror('unsupported operation')) throw unsupportedPath();
      throw err;
    }
  }

  /**
   * Vault's ACL check: the capability the operation needs on the path (create or update for a
   * write, by whether the target exists), and sudo on the backend's root paths. A refusal is
   * the policy 403, which differs from the bad-token one.
   */
  private authorize(token: TokenEntry, operation: Operation, path: string, resolved: Resolved | undefined): void {
    if (this.state.policies.isRoot(token)) return;
    const listing = operation === 'list' || operation === 'scan';
    // A read or delete of `x/` is checked as `x/` (OpenBao's ACL sees the slash) and as `x`
    // too: most routes serve `x/` as `x`, and an exact deny on `x` must hold for both.
    if (!listing && path.endsWith('/')) this.authorizeOne(token, operation, path.replace(/\/+$/, ''), resolved);
    this.authorizeOne(token, operation, path, resolved);
  }

  private authorizeOne(token: TokenEntry, operation: Operation, path: string, resolved: Resolved | undefined): void {
    const listing = operation === 'list' || operation === 'scan';
    const checked = listing && !path.endsWith('/') ? `${path}/` : path;
    const rule = this.state.policies.aclOf(token).rule(checked, listing);
    if (rule.has('deny')) throw policyDenied();
    const backend = resolved?.mount.backend;
    const exists = operation === 'update' ? backend?.exists?.(resolved?.subpath ?? '') : undefined;
    const needed: Capability[] = operation === 'update' ? (exists === false ? ['create'] : ['update']) : [operation];
    if (!needed.some((c) => rule.has(c))) throw policyDenied();
    if (backend && resolved && matchesAny(backend.special?.root, resolved.subpath) && !rule.has('sudo')) throw policyDenied();
  }
}

/** What `?help=1` answers: a description, and nothing done. */
function helpFor(path: string): VaultResponse {
  return {
    status: 200,
    body: {
      help: `## PATH\n\n    ${path}\n\nThe eos Vault-API dev server serves this path as docs/design.md#9-the-vault-api-eos-relies-on describes it.\n`,
      openapi: { openapi: '3.0.2', info: { title: 'eos Vault-API dev server', version: '' }, paths: {} },
      see_also: null,
    },
  };
}
