import { listChildren, multierror, noContent, notFound, ok, unsupportedOperation, unsupportedPath, VaultHttpError, type VaultResponse } from '../wire.js';
import type { Backend, BackendRequest } from './backend.js';

/**
 * cubbyhole/: a KV store of each token's own, which no other token (root included) can see,
 * answered without a lease duration. Vault's default policy grants it, so clients use it.
 * What a revoked token kept is unreachable: no one holds that token, nor one issued at its time.
 */
export class CubbyholeBackend implements Backend {
  private readonly byToken = new Map<string, Map<string, Record<string, unknown>>>();

  async handle(request: BackendRequest): Promise<VaultResponse> {
    // A batch token has no cubbyhole. A store belongs to one token's life: a token made again
    // later with the same chosen id does not find what the revoked one kept.
    if (request.token.type === 'batch') throw new VaultHttpError(403, ['1 error occurred:\n\t* permission denied\n\n']);
    const owner = `${request.token.id}@${request.token.issueMs}`;
    const own = this.byToken.get(owner) ?? new Map<string, Record<string, unknown>>();
    this.byToken.set(owner, own);
    const key = request.subpath.replace(/\/+$/, '');
    switch (request.operation) {
      case 'read': {
        const value = own.get(key);
        if (!value) throw notFound();
        return ok({ data: value });
      }
      case 'list':
        return listChildren([...own.keys()], request.subpath);
      case 'update':
        if (key === '') throw unsupportedPath();
        // OpenBao's cubbyhole answers this with a 500, its error wrapped as a multierror.
        if (Object.keys(request.body).length === 0) throw new VaultHttpError(500, [multierror('missing data fields')]);
        own.set(key, { ...request.body });
        return noContent();
      case 'delete':
        own.delete(key);
        return noContent();
      default:
        throw unsupportedOperation();
    }
  }
}
