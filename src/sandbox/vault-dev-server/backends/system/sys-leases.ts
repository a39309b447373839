import type { LeaseManager } from '../../state/leases.js';
import { badRequest, durationField, envelope, goTime, listChildren, noContent, ok, stringField, unsupportedOperation, unsupportedPath, type VaultResponse } from '../../wire.js';
import type { BackendRequest } from '../backend.js';

/** sys/leases/…: renew, revoke (sync or not), revoke-prefix, revoke-force, lookup (§5). */
export async function handleLeases(leases: LeaseManager, request: BackendRequest, route: string): Promise<VaultResponse> {
  const leaseIdFrom = (prefix: string) => stringField(request.body, 'lease_id') || route.slice(prefix.length).replace(/^\//, '') || '';
  if (route === 'renew' || route.startsWith('renew/')) {
    if (request.operation !== 'update') throw unsupportedOperation();
    const id = leaseIdFrom('renew');
    if (!id) throw badRequest('lease_id must be specified');
    const { lease, ttl, warnings } = await leases.renew(id, durationField(request.body, 'increment') ?? 0);
    return ok({ lease_id: lease.id, renewable: true, lease_duration: ttl, warnings });
  }
  if (route === 'revoke' || route.startsWith('revoke/')) {
    if (request.operation !== 'update') throw unsupportedOperation();
    const id = leaseIdFrom('revoke');
    if (!id) throw badRequest('lease_id must be specified');
    if (request.body.sync === false || request.body.sync === 'false') {
      void leases.revoke(id).catch(() => undefined);
      return { status: 202, body: envelope({}) };
    }
    await leases.revoke(id);
    return noContent();
  }
  if (route.startsWith('revoke-prefix/')) {
    if (request.operation !== 'update') throw unsupportedOperation();
    const prefix = route.slice('revoke-prefix/'.length);
    await leases.revokeWhere((lease) => lease.id.startsWith(prefix));
    return noContent();
  }
  if (route.startsWith('revoke-force/')) {
    // Revokes, and drops the leases whose engine fails to: whatever they created stays.
    if (request.operation !== 'update') throw unsupportedOperation();
    await leases.forceRevokeWhere((lease) => lease.id.startsWith(route.slice('revoke-force/'.length)));
    return noContent();
  }
  if (route === 'lookup' && request.operation === 'update') {
    const id = stringField(request.body, 'lease_id');
    if (!id) throw badRequest('lease_id must be specified');
    const lease = leases.get(id);
    if (!lease) throw badRequest('invalid lease');
    return ok({
      data: {
        id: lease.id,
        issue_time: goTime(lease.issueMs),
        expire_time: goTime(lease.expireMs),
        last_renewal: lease.lastRenewalMs === null ? null : goTime(lease.lastRenewalMs),
        renewable: lease.renewable,
        ttl: leases.remainingSeconds(lease),
        path: lease.path,
        // OpenBao names the last failed revocation's error, when there was one.
        ...(lease.revokeError ? { revoke_error: lease.revokeError } : {}),
      },
    });
  }
  if (route.startsWith('lookup') && request.operation === 'list') {
    const prefix = route.slice('lookup'.length).replace(/^\//, '');
    return listChildren(leases.list().map((lease) => lease.id), prefix);
  }
  throw unsupportedPath();
}
