import type { AuditDevices } from '../../state/audit-devices.js';
import { badRequest, noContent, stringField, unsupportedPath, withTopLevel, type VaultResponse } from '../../wire.js';
import type { BackendRequest } from '../backend.js';

/**
 * sys/audit and sys/audit-hash, as OpenBao answers them: devices are declared when the server
 * starts (OpenBao: in its configuration), so enabling one through the API is refused, and so is
 * disabling one of them; the hash is the device's HMAC of the input.
 */
export function handleAudit(devices: AuditDevices, request: BackendRequest, route: string): VaultResponse {
  if (route === 'audit') {
    if (request.operation !== 'read') throw unsupportedPath();
    return withTopLevel(devices.table());
  }
  if (route.startsWith('audit-hash/')) {
    if (request.operation !== 'update') throw unsupportedPath();
    const input = stringField(request.body, 'input') ?? '';
    if (input === '') throw badRequest('the "input" parameter is empty');
    const path = route.slice('audit-hash/'.length);
    const hash = devices.hash(path, input);
    if (hash === undefined) throw badRequest(`unknown audit backend "${path.endsWith('/') ? path : `${path}/`}"`);
    return withTopLevel({ hash });
  }
  const path = route.slice('audit/'.length);
  if (request.operation === 'delete') {
    if (devices.has(path)) throw badRequest('cannot disable configuration-managed audit device');
    return noContent();
  }
  if (request.operation === 'update') {
    throw badRequest('cannot enable audit device via API; use declarative, config-based audit device management instead');
  }
  throw unsupportedPath();
}
