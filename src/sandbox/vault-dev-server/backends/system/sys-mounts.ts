import type { Mount, MountFields, MountTable } from '../../state/mount-table.js';
import type { PolicyStore } from '../../state/policies.js';
import { mountTtls } from '../../ttl.js';
import { badRequest, durationField, envelope, noContent, ok, stringField, unsupportedOperation, VaultHttpError, withTopLevel, type VaultResponse } from '../../wire.js';
import type { BackendFactory, BackendRequest, MountKind } from '../backend.js';

/**
 * sys/mounts (secrets engines), sys/auth (auth methods) and sys/internal/ui/mounts (§1): list,
 * enable through the backend catalog, tune, disable — which revokes what the mount issued.
 */
export class MountRoutes {
  constructor(
    private readonly mounts: MountTable,
    private readonly catalog: BackendFactory,
    private readonly policies: PolicyStore,
  ) {}

  list(kind: MountKind, request: BackendRequest): VaultResponse {
    if (request.operation !== 'read') throw unsupportedOperation();
    const data = Object.fromEntries(this.mounts.list(kind).map((m) => [m.path, describeMount(m, kind)]));
    // Vault copies the mount map to the top level of the body as well.
    return { status: 200, body: { ...data, ...envelope({ data }) } };
  }

  /** sys/mounts/<path> and sys/mounts/<path>/tune. */
  async secretMount(request: BackendRequest, rest: string): Promise<VaultResponse> {
    if (rest.endsWith('/tune')) return this.tune(request, rest.slice(0, -'/tune'.length));
    const path = rest;
    switch (request.operation) {
      case 'update': {
        const type = stringField(request.body, 'type');
        if (!type) throw badRequest('backend type must be specified as a string');
        // auth/ is the auth methods' namespace (and sys/, cubbyhole/, identity/ are taken).
        if (path === 'auth' || path.startsWith('auth/')) throw badRequest(`cannot mount "${path.replace(/\/*$/, '/')}"`);
        const config = (request.body.config ?? {}) as Record<string, unknown>;
        // `kv-v2` is sys/mounts' alias for kv with version 2.
        const kind = type === 'kv-v2' ? 'kv' : type;
        const given = (request.body.options ?? null) as Record<string, string> | null;
        const options = type === 'kv-v2' ? { ...(given ?? {}), version: '2' } : given;
        this.enable('secret', {
          path,
          type: kind,
          description: stringField(request.body, 'description') ?? '',
          options: kind === 'kv' ? { version: options?.version ?? '1', ...options } : options,
          config: { default_lease_ttl: durationField(config, 'default_lease_ttl') ?? 0, max_lease_ttl: durationField(config, 'max_lease_ttl') ?? 0 },
        });
        return noContent();
      }
      case 'delete':
        // What OpenBao never unmounts: its own system, per-token and identity stores.
        if (['sys', 'cubbyhole', 'identity'].includes(path.replace(/\/+$/, ''))) throw badRequest(`cannot unmount "${path.replace(/\/+$/, '')}/"`);
        await this.mounts.disable('secret', path);
        return noContent();
      case 'read': {
        const mount = this.mounts.get('secret', path);
        if (!mount) throw badRequest(`No secret engine mount at ${path}/`);
        // As sys/mounts' own answers: the data copied to the top level too.
        return withTopLevel(describeMount(mount, 'secret'));
      }
      default:
        throw unsupportedOperation();
    }
  }

  /** sys/auth/<path>: enable, disable. */
  async authMount(request: BackendRequest, path: string): Promise<VaultResponse> {
    if (request.operation === 'update') {
      const type = stringField(request.body, 'type');
      if (!type) throw badRequest('backend type must be specified as a string');
      this.enable('auth', { path, type, description: stringField(request.body, 'description') ?? '' });
      return noContent();
    }
    if (request.operation === 'delete') {
      if (path.replace(/\/+$/, '') === 'token') throw badRequest('token credential backend cannot be disabled');
      await this.mounts.disable('auth', path);
      return noContent();
    }
    throw unsupportedOperation();
  }

  /**
   * sys/internal/ui/mounts: the mounts the caller may see (some access below each), with or
   * without a token (then none). Its own texts: `unsupported operation`, `unsupported path`.
   */
  uiMounts(request: BackendRequest): VaultResponse {
    if (request.operation === 'list') throw new VaultHttpError(404, ['unsupported path']);
    if (request.operation !== 'read') throw new VaultHttpError(405, ['unsupported operation']);
    const token = request.token as BackendRequest['token'] | undefined;
    const visible = (mount: Mount) => !!token && (this.policies.isRoot(token) || this.policies.aclOf(token).hasAccessUnder(mount.path));
    const table = (kind: MountKind) => Object.fromEntries(this.mounts.list(kind).filter(visible).map((m) => [m.path, describeMount(m, kind)]));
    return ok({ data: { auth: table('auth'), secret: table('secret') } });
  }

  /** sys/internal/ui/mounts/<path>: a token may see a mount it has some access below. */
  uiMount(request: BackendRequest, path: string): VaultResponse {
    if (request.operation !== 'read') throw unsupportedOperation();
    const mount = this.mounts.find('secret', path);
    // Unknown mounts and mounts the token may not touch look the same, so neither can be probed.
    const denied = new VaultHttpError(403, [`preflight capability check returned 403, please ensure client's policies grant access to path "${path.replace(/\/*$/, '/')}"`]);
    if (!mount || !mount.backend || mount.builtin) throw denied;
    if (!this.policies.isRoot(request.token) && !this.policies.aclOf(request.token).hasAccessUnder(mount.path)) throw denied;
    return ok({ data: { ...describeMount(mount, 'secret'), path: mount.path } });
  }

  private enable(kind: MountKind, fields: MountFields): void {
    this.mounts.enable(kind, fields, (mount) => {
      const backend = this.catalog(kind, fields.type, mount);
      if (!backend) throw badRequest(`plugin not found in the catalog: ${fields.type}`);
      return backend;
    });
  }

  private tune(request: BackendRequest, path: string): VaultResponse {
    const mount = this.mounts.get('secret', path);
    if (!mount) throw badRequest(`cannot fetch sysview for path "${path}/"`);
    if (request.operation === 'read') {
      const ttls = mountTtls(mount.config);
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
}

/** The mount table entry as sys/mounts shows it. */
/** What OpenBao says of its built-in mounts, which no one enables. */
const BUILTIN: Record<string, { description: string; local?: boolean; sealWrap?: boolean; passthrough?: string[] }> = {
  cubbyhole: { description: 'per-token private secret storage', local: true },
  identity: { description: 'identity store', passthrough: ['Authorization'] },
  system: { description: 'system endpoints used for control, policy and debugging', sealWrap: true, passthrough: ['Accept'] },
  token: { description: 'token based credentials' },
};

/** The mount table entry as sys/mounts, sys/auth and sys/internal/ui/mounts show it. */
function describeMount(mount: Mount, kind: MountKind) {
  const builtin = mount.builtin ? BUILTIN[mount.type] : undefined;
  return {
    type: mount.type,
    description: builtin && mount.description === '' ? builtin.description : mount.description,
    accessor: mount.accessor,
    config: {
      default_lease_ttl: mount.config.default_lease_ttl,
      max_lease_ttl: mount.config.max_lease_ttl,
      force_no_cache: false,
      ...(builtin?.passthrough ? { passthrough_request_headers: builtin.passthrough } : {}),
      ...(kind === 'auth' ? { token_type: 'default-service' } : {}),
    },
    // An enabled mount has options ({} when none were given); the built-in ones have none.
    options: mount.builtin ? mount.options : (mount.options ?? {}),
    local: builtin?.local ?? false,
    seal_wrap: builtin?.sealWrap ?? false,
    external_entropy_access: false,
    plugin_version: '',
    running_plugin_version: `v2.0.0+builtin${mount.builtin ? '' : '.bao'}`,
    running_sha256: '',
    uuid: mount.accessor,
    // Plugins report their deprecation status; the built-in mounts are no plugins.
    ...(mount.builtin ? {} : { deprecation_status: 'supported' }),
  };
}
