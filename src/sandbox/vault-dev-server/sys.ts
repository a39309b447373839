import type { VaultCore } from './core.js';
import { handleCapabilities, handlePolicies } from './sys-policies.js';
import { describeMount, findMount, mountTtls } from './mounts.js';
import {
  durationField,
  badRequest,
  goTime,
  listChildren,
  envelope,
  noContent,
  ok,
  stringField,
  unsupportedOperation,
  unsupportedPath,
  VaultHttpError,
  withTopLevel,
  type VaultRequest,
  type VaultResponse,
} from './wire.js';

/** The sys/ routes eos uses (reference §1, §3, §5). */
export async function handleSys(core: VaultCore, request: VaultRequest): Promise<VaultResponse> {
  const route = request.path.slice('sys/'.length);
  if (route === 'health') return health(core, request);
  if (route === 'seal-status') return { status: 200, body: sealStatus(core) };
  if (route === 'mounts') return listMounts(core, request);
  if (route.startsWith('mounts/')) return mountRoute(core, request, route.slice('mounts/'.length));
  if (route === 'auth') {
    if (request.operation !== 'read') throw unsupportedOperation();
    const data = Object.fromEntries([...core.authMounts.values()].map((m) => [m.path, describeMount(m)]));
    return { status: 200, body: { ...data, ...envelope({ data }) } };
  }
  if (route.startsWith('auth/')) return authRoute(core, request, route.slice('auth/'.length));
  if (route.startsWith('internal/ui/mounts/')) return uiMount(core, request, route.slice('internal/ui/mounts/'.length));
  if (route.startsWith('leases/')) return leaseRoute(core, request, route.slice('leases/'.length));
  if (route === 'policy' || route.startsWith('policy/') || route === 'policies/acl' || route.startsWith('policies/acl/')) return handlePolicies(core, request, route);
  if (route === 'capabilities' || route === 'capabilities-self' || route === 'capabilities-accessor') return handleCapabilities(core, request, route);
  if (route === 'leader') return readOnly(request, leader(core));
  if (route === 'init') return readOnly(request, { initialized: true });
  if (route === 'ha-status') {
    if (request.operation !== 'read') throw unsupportedOperation();
    return withTopLevel(haStatus(core));
  }
  throw unsupportedPath();
}

function readOnly(request: VaultRequest, body: unknown): VaultResponse {
  if (request.operation !== 'read') throw unsupportedOperation();
  return { status: 200, body };
}

/** sys/leader: a single node without HA says only that; put in standby, it names its leader. */
function leader(core: VaultCore) {
  if (core.standbyRedirect === null) return { ha_enabled: false };
  return {
    ha_enabled: true,
    is_self: false,
    active_time: '0001-01-01T00:00:00Z',
    leader_address: core.standbyRedirect,
    leader_cluster_address: '',
    performance_standby: false,
    performance_standby_last_remote_wal: 0,
  };
}

function haStatus(core: VaultCore) {
  return {
    nodes: [{ hostname: 'eos-vault-dev-server', api_address: '', cluster_address: '', active_node: core.standbyRedirect === null, last_echo: null, version: core.version }],
  };
}

function health(core: VaultCore, request: VaultRequest): VaultResponse {
  const code = (name: string, fallback: number) => {
    const value = request.query.get(name);
    return value === null || value === '' ? fallback : Number(value);
  };
  const standby = core.standbyRedirect !== null;
  let status = code('activecode', 200);
  if (core.sealed) status = code('sealedcode', 503);
  else if (standby && !truthy(request.query.get('standbyok'))) status = code('standbycode', 429);
  const body = {
    initialized: true,
    sealed: core.sealed,
    standby,
    performance_standby: false,
    replication_performance_mode: 'disabled',
    replication_dr_mode: 'disabled',
    server_time_utc: Math.floor(core.clock.now() / 1000),
    version: core.version,
    cluster_name: core.clusterName,
    cluster_id: core.clusterId,
  };
  return { status, body };
}

function sealStatus(core: VaultCore) {
  return {
    type: 'shamir',
    initialized: true,
    sealed: core.sealed,
    t: 1,
    n: 1,
    progress: 0,
    nonce: '',
    version: core.version,
    build_date: '2026-01-01T00:00:00Z',
    migration: false,
    cluster_name: core.clusterName,
    cluster_id: core.clusterId,
    recovery_seal: false,
    storage_type: 'inmem',
  };
}

function listMounts(core: VaultCore, request: VaultRequest): VaultResponse {
  if (request.operation !== 'read') throw unsupportedOperation();
  const data = Object.fromEntries([...core.mounts.values()].map((m) => [m.path, describeMount(m)]));
  // Vault copies the mount map to the top level of the body as well.
  return { status: 200, body: { ...data, ...envelope({ data }) } };
}

async function mountRoute(core: VaultCore, request: VaultRequest, rest: string): Promise<VaultResponse> {
  const tune = rest.endsWith('/tune');
  const path = tune ? rest.slice(0, -'/tune'.length) : rest;
  if (tune) {
    const mount = core.mounts.get(`${path.replace(/\/+$/, '')}/`);
    if (!mount) throw badRequest(`cannot fetch sysview for path "${path}/"`);
    if (request.operation === 'read') {
      const ttls = mountTtls(mount);
      return withTopLevel({ default_lease_ttl: ttls.defaultTtl, max_lease_ttl: ttls.maxTtl, force_no_cache: false, description: mount.description, options: mount.options });
    }
    if (request.operation !== 'update') throw unsupportedOperation();
    // "system" (vault secrets tune -default-lease-ttl=system) goes back to the system's value.
    const ttl = (field: string) => (request.body[field] === 'system' ? 0 : durationField(request.body, field));
    const def = ttl('default_lease_ttl');
    const max = ttl('max_lease_ttl');
    if (def !== undefined) mount.config.default_lease_ttl = def;
    if (max !== undefined) mount.config.max_lease_ttl = max;
    return noContent();
  }
  switch (request.operation) {
    case 'update': {
      const type = stringField(request.body, 'type');
      if (!type) throw badRequest('backend type must be specified as a string');
      const config = (request.body.config ?? {}) as Record<string, unknown>;
      const options = (request.body.options ?? null) as Record<string, string> | null;
      core.enableMount(
        path,
        type,
        { default_lease_ttl: durationField(config, 'default_lease_ttl') ?? 0, max_lease_ttl: durationField(config, 'max_lease_ttl') ?? 0 },
        options,
        stringField(request.body, 'description') ?? '',
      );
      return noContent();
    }
    case 'delete':
      await core.disableMount(path);
      return noContent();
    case 'read': {
      const mount = core.mounts.get(`${path.replace(/\/+$/, '')}/`);
      if (!mount) throw badRequest(`No secret engine mount at ${path}/`);
      return ok({ data: describeMount(mount) });
    }
    default:
      throw unsupportedOperation();
  }
}

function authRoute(core: VaultCore, request: VaultRequest, path: string): VaultResponse {
  if (request.operation === 'update') {
    const type = stringField(request.body, 'type');
    if (!type) throw badRequest('backend type must be specified as a string');
    core.enableAuth(path, type, stringField(request.body, 'description') ?? '');
    return noContent();
  }
  if (request.operation === 'delete') {
    core.authMounts.delete(`${path.replace(/\/+$/, '')}/`);
    return noContent();
  }
  throw unsupportedOperation();
}

function uiMount(core: VaultCore, request: VaultRequest, path: string): VaultResponse {
  if (request.operation !== 'read') throw unsupportedOperation();
  const mount = findMount(core.mounts, path);
  // Unknown mounts and mounts the token may not touch look the same, so neither can be probed.
  const denied = new VaultHttpError(403, [`preflight capability check returned 403, please ensure client's policies grant access to path "${path.replace(/\/*$/, '/')}"`]);
  if (!mount || !mount.engine) throw denied;
  if (!core.isRoot(request.token) && !core.aclOf(request.token).hasAccessUnder(mount.path)) throw denied;
  return ok({
    data: {
      path: mount.path,
      type: mount.type,
      description: mount.description,
      options: mount.options,
      config: { default_lease_ttl: mount.config.default_lease_ttl, max_lease_ttl: mount.config.max_lease_ttl, force_no_cache: false },
      accessor: mount.accessor,
      local: false,
      seal_wrap: false,
      external_entropy_access: false,
      uuid: mount.accessor,
    },
  });
}

async function leaseRoute(core: VaultCore, request: VaultRequest, route: string): Promise<VaultResponse> {
  const leaseIdFrom = (prefix: string) => stringField(request.body, 'lease_id') || route.slice(prefix.length).replace(/^\//, '') || '';
  if (route === 'renew' || route.startsWith('renew/')) {
    if (request.operation !== 'update') throw unsupportedOperation();
    const id = leaseIdFrom('renew');
    if (!id) throw badRequest('lease_id must be specified');
    const { lease, ttl, warnings } = await core.leases.renew(id, durationField(request.body, 'increment') ?? 0);
    return ok({ lease_id: lease.id, renewable: true, lease_duration: ttl, warnings });
  }
  if (route === 'revoke' || route.startsWith('revoke/')) {
    if (request.operation !== 'update') throw unsupportedOperation();
    const id = leaseIdFrom('revoke');
    if (!id) throw badRequest('lease_id must be specified');
    if (request.body.sync === false || request.body.sync === 'false') {
      void core.leases.revoke(id).catch(() => undefined);
      return { status: 202, body: envelope({}) };
    }
    await core.leases.revoke(id);
    return noContent();
  }
  if (route.startsWith('revoke-prefix/')) {
    if (request.operation !== 'update') throw unsupportedOperation();
    const prefix = route.slice('revoke-prefix/'.length);
    await core.leases.revokeWhere((lease) => lease.id.startsWith(prefix));
    return noContent();
  }
  if (route.startsWith('revoke-force/')) {
    // Revokes, and drops the leases whose engine fails to: whatever they created stays.
    if (request.operation !== 'update') throw unsupportedOperation();
    await core.leases.forceRevokeWhere((lease) => lease.id.startsWith(route.slice('revoke-force/'.length)));
    return noContent();
  }
  if (route === 'lookup' && request.operation === 'update') {
    const id = stringField(request.body, 'lease_id');
    if (!id) throw badRequest('lease_id must be specified');
    const lease = core.leases.get(id);
    if (!lease) throw badRequest('invalid lease');
    return ok({
      data: {
        id: lease.id,
        issue_time: goTime(lease.issueMs),
        expire_time: goTime(lease.expireMs),
        last_renewal: lease.lastRenewalMs === null ? null : goTime(lease.lastRenewalMs),
        renewable: lease.renewable,
        ttl: core.leases.remainingSeconds(lease),
        path: lease.path,
      },
    });
  }
  if (route.startsWith('lookup') && request.operation === 'list') {
    const prefix = route.slice('lookup'.length).replace(/^\//, '');
    return listChildren(core.leases.list().map((lease) => lease.id), prefix);
  }
  throw unsupportedPath();
}

function truthy(value: string | null): boolean {
  return value !== null && ['1', 't', 'true', 'True', 'TRUE', ''].includes(value);
}
