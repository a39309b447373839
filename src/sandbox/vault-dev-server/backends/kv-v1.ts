import { SYSTEM_DEFAULT_TTL } from '../ttl.js';
import { badRequest, listChildren, scanKeys, noContent, notFound, ok, unsupportedOperation, unsupportedPath, type VaultResponse } from '../wire.js';
import type { Backend, BackendRequest } from './backend.js';

/** KV version 1: one object per path, no versions (§3). */
export class KvV1Backend implements Backend {
  private readonly secrets = new Map<string, Record<string, unknown>>();

  exists(subpath: string): boolean {
    return this.secrets.has(subpath);
  }

  async handle(request: BackendRequest): Promise<VaultResponse> {
    const { subpath } = request;
    // The path as asked: `x/` is another key than `x` (OpenBao's passthrough backend reads it
    // so), and a write to it never gets here (the router refuses a path ending in `/`).
    const key = subpath;
    switch (request.operation) {
      case 'read': {
        const value = this.secrets.get(key);
        if (!value) throw notFound();
        // KV v1 answers with its refresh interval as the lease duration (768h by default).
        return ok({ data: value, lease_duration: SYSTEM_DEFAULT_TTL });
      }
      case 'list':
        return listChildren([...this.secrets.keys()], subpath);
      case 'scan':
        return scanKeys([...this.secrets.keys()], subpath);
      case 'update':
        if (key === '') throw unsupportedPath();
        if (Object.keys(request.body).length === 0) throw badRequest('missing data fields');
        this.secrets.set(key, { ...request.body });
        return noContent();
      case 'delete':
        this.secrets.delete(key);
        return noContent();
      default:
        throw unsupportedOperation();
    }
  }
}
