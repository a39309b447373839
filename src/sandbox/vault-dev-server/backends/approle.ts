import { randomUUID } from 'node:crypto';
import type { Clock } from '../../../util/clock.js';
import type { TokenStore } from '../state/tokens.js';
import {
  durationField,
  badRequest,
  goTime,
  internalError,
  boolField,
  listField,
  noContent,
  notFound,
  ok,
  unsupportedOperation,
  unsupportedPath,
  VaultHttpError,
  type VaultResponse,
} from '../wire.js';
import type { Backend, BackendRequest, MountInfo, SpecialPaths } from './backend.js';
import { authBlock, tokenParamsData } from './token-fields.js';

interface AppRole {
  name: string;
  roleId: string;
  bindSecretId: boolean;
  tokenTtl: number;
  tokenMaxTtl: number;
  tokenPolicies: string[];
  secretIdTtl: number;
  secretIdNumUses: number;
}

interface SecretId {
  role: string;
  accessor: string;
  createdMs: number;
  ttl: number;
  numUses: number;
  expireMs: number | null;
  usesLeft: number | null;
}

/** The AppRole auth method (§2): roles, role-id, secret-id, login. */
export class AppRoleBackend implements Backend {
  readonly special: SpecialPaths = { unauthenticated: ['login'] };
  private readonly roles = new Map<string, AppRole>();
  private readonly secretIds = new Map<string, SecretId>();

  constructor(
    private readonly mount: MountInfo,
    private readonly clock: Clock,
    private readonly tokens: TokenStore,
  ) {}

  async handle(request: BackendRequest): Promise<VaultResponse> {
    const { subpath } = request;
    if (subpath === 'login') {
      if (request.operation !== 'update') throw unsupportedOperation();
      return this.login(request.body);
    }
    const parts = subpath.replace(/\/+$/, '').split('/');
    if (parts[0] !== 'role') throw unsupportedPath();
    const name = parts[1];
    if (!name) {
      if (request.operation !== 'list' && request.operation !== 'read') throw unsupportedOperation();
      if (this.roles.size === 0) throw notFound();
      return ok({ data: { keys: [...this.roles.keys()].sort() } });
    }
    const action = parts.slice(2).join('/');
    if (action === '') return this.role(request, name);
    const role = this.roles.get(name);
    if (action === 'role-id') {
      if (!role) throw badRequest(`role "${name}" does not exist`);
      if (request.operation === 'read') return ok({ data: { role_id: role.roleId } });
      if (request.operation === 'update') {
        role.roleId = String(request.body.role_id ?? role.roleId);
        return noContent();
      }
      throw unsupportedOperation();
    }
    if (action === 'secret-id/lookup') {
      if (request.operation !== 'update') throw unsupportedOperation();
      const secretId = typeof request.body.secret_id === 'string' ? request.body.secret_id.trim() : '';
      if (secretId === '') throw badRequest('missing secret_id');
      if (!role) throw internalError(`role "${name}" does not exist`);
      const entry = this.secretIds.get(secretId);
      // An unknown secret ID is an empty success, as Vault answers a write that found nothing.
      if (!entry || entry.role !== name || this.expired(entry)) return noContent();
      return ok({
        data: {
          cidr_list: [],
          creation_time: goTime(entry.createdMs),
          expiration_time: entry.expireMs === null ? '0001-01-01T00:00:00Z' : goTime(entry.expireMs),
          last_updated_time: goTime(entry.createdMs),
          metadata: {},
          secret_id_accessor: entry.accessor,
          secret_id_num_uses: entry.numUses,
          secret_id_ttl: entry.ttl,
          token_bound_cidrs: [],
        },
      });
    }
    if (action === 'secret-id') {
      if (request.operation !== 'update') throw unsupportedOperation();
      if (!role) throw badRequest(`role "${name}" does not exist`);
      const secretId = randomUUID();
      const accessor = randomUUID();
      const now = this.clock.now();
      this.secretIds.set(secretId, {
        role: name,
        accessor,
        createdMs: now,
        ttl: role.secretIdTtl,
        numUses: role.secretIdNumUses,
        expireMs: role.secretIdTtl > 0 ? now + role.secretIdTtl * 1000 : null,
        usesLeft: role.secretIdNumUses > 0 ? role.secretIdNumUses : null,
      });
      return ok({ data: { secret_id: secretId, secret_id_accessor: accessor, secret_id_ttl: role.secretIdTtl, secret_id_num_uses: role.secretIdNumUses } });
    }
    throw unsupportedPath();
  }

  private role(request: BackendRequest, name: string): VaultResponse {
    const existing = this.roles.get(name);
    switch (request.operation) {
      case 'read':
        if (!existing) throw notFound();
        return ok({
          data: {
            bind_secret_id: existing.bindSecretId,
            local_secret_ids: false,
            secret_id_bound_cidrs: null,
            secret_id_num_uses: existing.secretIdNumUses,
            secret_id_ttl: existing.secretIdTtl,
            ...tokenParamsData({ ttl: existing.tokenTtl, maxTtl: existing.tokenMaxTtl, policies: existing.tokenPolicies }),
          },
        });
      case 'update': {
        const body = request.body;
        const seconds = (field: string, fallback: number) => durationField(body, field) ?? fallback;
        const role: AppRole = {
          name,
          roleId: existing?.roleId ?? randomUUID(),
          bindSecretId: boolField(body, 'bind_secret_id', existing?.bindSecretId ?? true),
          tokenTtl: seconds('token_ttl', existing?.tokenTtl ?? 0),
          tokenMaxTtl: seconds('token_max_ttl', existing?.tokenMaxTtl ?? 0),
          tokenPolicies: listField(body, 'token_policies') ?? listField(body, 'policies') ?? existing?.tokenPolicies ?? [],
          secretIdTtl: seconds('secret_id_ttl', existing?.secretIdTtl ?? 0),
          secretIdNumUses: Number(body.secret_id_num_uses ?? existing?.secretIdNumUses ?? 0),
        };
        if (role.tokenMaxTtl > 0 && role.tokenTtl > role.tokenMaxTtl) throw badRequest('"token_ttl" cannot be greater than "token_max_ttl"');
        this.roles.set(name, role);
        return noContent();
      }
      case 'delete':
        this.roles.delete(name);
        return noContent();
      default:
        throw unsupportedOperation();
    }
  }

  private expired(entry: SecretId): boolean {
    return entry.expireMs !== null && entry.expireMs <= this.clock.now();
  }

  private login(body: Record<string, unknown>): VaultResponse {
    const roleId = typeof body.role_id === 'string' ? body.role_id.trim() : '';
    // OpenBao's alias look-ahead fails first, as a bare internal error: a 500.
    if (roleId === '') throw new VaultHttpError(500, ['missing role_id']);
    const role = [...this.roles.values()].find((r) => r.roleId === roleId);
    if (!role) throw badRequest('invalid role or secret ID');
    if (role.bindSecretId) {
      const secretId = typeof body.secret_id === 'string' ? body.secret_id.trim() : '';
      if (secretId === '') throw badRequest('missing secret_id');
      const entry = this.secretIds.get(secretId);
      if (!entry || entry.role !== role.name || this.expired(entry)) throw badRequest('invalid role or secret ID');
      if (entry.usesLeft !== null) {
        entry.usesLeft -= 1;
        if (entry.usesLeft <= 0) this.secretIds.delete(secretId);
      }
    }
    const token = this.tokens.create({
      policies: ['default', ...role.tokenPolicies],
      displayName: this.mount.path.replace(/\/$/, ''),
      path: `auth/${this.mount.path}login`,
      ttl: role.tokenTtl,
      maxTtl: role.tokenMaxTtl,
      meta: { role_name: role.name },
      orphan: true,
    });
    return ok({ auth: authBlock(token, token.creationTtl) });
  }
}
