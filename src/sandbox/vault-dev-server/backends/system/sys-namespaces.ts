import { describeNamespace } from '../../state/namespaces.js';
import type { VaultState } from '../../state/vault-state.js';
import { badRequest, notFound, ok, unsupportedOperation, type VaultResponse } from '../../wire.js';
import type { BackendRequest } from '../backend.js';

/**
 * sys/namespaces (the root namespace's): LIST, and create (idempotent), read and delete one.
 * A deletion answers OpenBao's `{"status":"in-progress"}`; here it is done when it answers.
 */
export async function handleNamespaces(namespaces: NonNullable<VaultState['namespaces']>, request: BackendRequest, name: string): Promise<VaultResponse> {
  if (name === '') {
    if (request.operation !== 'list') throw unsupportedOperation();
    const all = namespaces.list();
    if (all.length === 0) throw notFound();
    return ok({ data: { key_info: Object.fromEntries(all.map((n) => [n.path, describeNamespace(n)])), keys: all.map((n) => n.path) } });
  }
  // One level deep, with Vault's own naming rule for a path segment.
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw badRequest(`invalid namespace name "${name}"`);
  switch (request.operation) {
    case 'update':
      return ok({ data: describeNamespace(namespaces.create(name)) });
    case 'read': {
      const found = namespaces.get(name);
      if (!found) throw notFound();
      return ok({ data: describeNamespace(found.info) });
    }
    case 'delete':
      if (!(await namespaces.delete(name))) return ok({ data: { status: 'in-progress' } });
      return ok({ data: { status: 'in-progress' } });
    default:
      throw unsupportedOperation();
  }
}
