import type { Clock } from '../../../../util/clock.js';
import type { NodeStatus } from '../../state/vault-state.js';
import { unsupportedOperation, unsupportedPath, VaultHttpError, withTopLevel, type VaultResponse } from '../../wire.js';
import type { BackendRequest } from '../backend.js';

/** The node's own status: sys/health, seal-status, leader, init, ha-status (§1). */
export function handleStatus(node: NodeStatus, clock: Clock, request: BackendRequest): VaultResponse {
  switch (request.subpath) {
    case 'health':
      return health(node, clock, request);
    case 'seal-status':
      return readOnly(request, sealStatus(node));
    case 'leader':
      return readOnly(request, leader(node));
    case 'init':
      // OpenBao checks the seal configuration asked for before it looks at whether it is initialised.
      if (request.operation === 'update') throw new VaultHttpError(400, ['invalid seal configuration: shares must be at least one']);
      return readOnly(request, { initialized: true });
    case 'ha-status':
      if (request.operation !== 'read') throw unsupportedOperation();
      return withTopLevel(haStatus(node));
    default:
      throw unsupportedPath();
  }
}

/** The raw HTTP handlers of OpenBao (seal-status, leader, init): GET only, 405 with no message. */
function readOnly(request: BackendRequest, body: unknown): VaultResponse {
  if (request.operation !== 'read') throw new VaultHttpError(405, []);
  return { status: 200, body };
}

/** sys/leader: a single node without HA says only that; put in standby, it names its leader. */
function leader(node: NodeStatus) {
  if (node.standbyRedirect === null) return { ha_enabled: false };
  return {
    ha_enabled: true,
    is_self: false,
    active_time: '0001-01-01T00:00:00Z',
    leader_address: node.standbyRedirect,
    leader_cluster_address: '',
    performance_standby: false,
    performance_standby_last_remote_wal: 0,
  };
}

function haStatus(node: NodeStatus) {
  return {
    nodes: [{ hostname: 'eos-vault-dev-server', api_address: '', cluster_address: '', active_node: node.standbyRedirect === null, last_echo: null, version: node.version }],
  };
}

/** The status-code parameters of sys/health; OpenBao answers 400 with no message when one is not a number. */
const HEALTH_CODES = ['activecode', 'standbycode', 'sealedcode', 'uninitcode', 'drsecondarycode', 'performancestandbycode', 'perfstandbyokcode', 'removedcode', 'haunhealthycode'];

function health(node: NodeStatus, clock: Clock, request: BackendRequest): VaultResponse {
  // OpenBao's own handler, outside the framework: GET and HEAD only, 405 with an empty list else.
  if (request.operation !== 'read') return { status: 405, body: { errors: [] } };
  if (HEALTH_CODES.some((name) => { const v = request.query.get(name); return v !== null && v !== '' && !/^-?\d+$/.test(v); })) return { status: 400, body: { errors: [] } };
  const code = (name: string, fallback: number) => {
    const value = request.query.get(name);
    return value === null || value === '' ? fallback : Number(value);
  };
  const standby = node.standbyRedirect !== null;
  let status = code('activecode', 200);
  if (node.sealed) status = code('sealedcode', 503);
  else if (standby && !truthy(request.query.get('standbyok'))) status = code('standbycode', 429);
  const body = {
    initialized: true,
    sealed: node.sealed,
    standby,
    replication_performance_mode: 'disabled',
    replication_dr_mode: 'disabled',
    server_time_utc: Math.floor(clock.now() / 1000),
    version: node.version,
    cluster_name: node.clusterName,
    cluster_id: node.clusterId,
  };
  return { status, body };
}

function sealStatus(node: NodeStatus) {
  return {
    type: 'shamir',
    initialized: true,
    sealed: node.sealed,
    t: 1,
    n: 1,
    progress: 0,
    nonce: '',
    version: node.version,
    commit_date: '',
    migration: false,
    cluster_name: node.clusterName,
    cluster_id: node.clusterId,
    recovery_seal: false,
    storage_type: 'inmem',
  };
}

function truthy(value: string | null): boolean {
  return value !== null && ['1', 't', 'true', 'True', 'TRUE', ''].includes(value);
}
