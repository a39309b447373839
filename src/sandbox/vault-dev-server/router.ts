import { matchesAny, type BackendRequest } from './backends/backend.js';
import type { Resolved } from './state/mount-table.js';
import type { Capability } from './state/policy.js';
import type { TokenEntry } from './state/tokens.js';
import type { VaultState } from './state/vault-state.js';
import { noRoute, permissionDenied, policyDenied, VaultHttpError, type Operation, type VaultResponse } from './wire.js';

/** Answered even while sealed, as Vault's HTTP layer serves them before the core. */
const SEAL_EXEMPT = new Set(['sys/health', 'sys/seal-status']);

/**
 * A login at an auth path no method is mounted at is still a login: it wants no token and gets
 * the 404 `no handler for route`, which is how a client (eos configure) tells a missing mount.
 */
const LOGIN_PATH = /^auth\/[^/]+\/login$/;

/**
 * Vault's request path, free of HTTP: resolve the mount once, check the seal, the token and the
 * ACL once, then hand the request to the mount's backend with the path below the mount.
 * server.ts turns HTTP into calls of `route`.
 */
export class Router {
  constructor(private readonly state: VaultState) {}

  async route(operation: Operation, requested: string, query: URLSearchParams, body: Record<string, unknown>, tokenId: string | undefined): Promise<VaultResponse> {
    // Backends serve `x/` as `x` for everything but a LIST: the path is normalised once, here,
    // so that the ACL checks the very path the backend serves (`…/x/` slipped past an exact
    // `deny` on `…/x` before; OpenBao never serves the secret there either).
    const path = operation === 'list' ? requested : requested.replace(/\/+$/, '');
    const resolved = this.state.mounts.resolve(path);
    const backend = resolved?.mount.backend ?? null;
    const subpath = resolved?.subpath ?? '';
    if (this.state.node.sealed && !SEAL_EXEMPT.has(path)) throw new VaultHttpError(503, ['Vault is sealed']);
    let token: TokenEntry | undefined;
    const unauthenticated = backend ? matchesAny(backend.special?.unauthenticated, subpath) : LOGIN_PATH.test(path);
    if (!unauthenticated) {
      token = this.state.tokens.lookup(tokenId);
      if (!token) throw permissionDenied();
    }
    // A token limited to a number of uses: this request is one, refused or not (as OpenBao
    // counts it before the ACL); after its last, it is revoked.
    const spent = token ? this.state.tokens.use(token) : false;
    try {
      return await this.serve(operation, path, query, body, token, resolved);
    } finally {
      if (spent && token) await this.state.tokens.revoke(token);
    }
  }

  private async serve(operation: Operation, path: string, query: URLSearchParams, body: Record<string, unknown>, token: TokenEntry | undefined, resolved: Resolved | undefined): Promise<VaultResponse> {
    const backend = resolved?.mount.backend ?? null;
    const subpath = resolved?.subpath ?? '';
    // ?help=1 describes a path and does nothing else, whatever the policies say.
    const help = query.get('help');
    if (help !== null && help !== '') return helpFor(path);
    if (token && !(backend && matchesAny(backend.special?.selfChecked, subpath))) this.authorize(token, operation, path, resolved);
    if (!resolved || !backend) throw noRoute(path);
    const request: BackendRequest = { operation, path, subpath, query, body, token: token as TokenEntry };
    return backend.handle(request);
  }

  /**
   * Vault's ACL check: the capability the operation needs on the path (create or update for a
   * write, by whether the target exists), and sudo on the backend's root paths. A refusal is
   * the policy 403, which differs from the bad-token one.
   */
  private authorize(token: TokenEntry, operation: Operation, path: string, resolved: Resolved | undefined): void {
    if (this.state.policies.isRoot(token)) return;
    const listing = operation === 'list';
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
