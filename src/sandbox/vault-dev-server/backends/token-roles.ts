import { badRequest, boolField, durationField, listField, noContent, ok, stringField, unsupportedOperation, VaultHttpError, type VaultResponse } from '../wire.js';
import type { BackendRequest } from './backend.js';

/**
 * auth/token/roles/<name>: what a token made through `auth/token/create/<name>` may be — its
 * allowed and disallowed policies, whether it is an orphan, its period, whether it renews. A
 * role lets a token hand out policies it does not hold itself, within the role's list only.
 */
export interface TokenRole {
  name: string;
  allowedPolicies: string[];
  disallowedPolicies: string[];
  orphan: boolean;
  period: number;
  renewable: boolean;
  explicitMaxTtl: number;
  noDefaultPolicy: boolean;
}

export class TokenRoles {
  private readonly roles = new Map<string, TokenRole>();

  get(name: string): TokenRole | undefined {
    return this.roles.get(name);
  }

  /** roles (LIST) and roles/<name> (read, write, delete). */
  handle(request: BackendRequest, name: string): VaultResponse {
    if (name === '') {
      if (request.operation !== 'list') throw unsupportedOperation();
      const keys = [...this.roles.keys()].sort();
      if (keys.length === 0) throw new VaultHttpError(404, []);
      return ok({ data: { keys } });
    }
    switch (request.operation) {
      case 'read': {
        const role = this.roles.get(name);
        if (!role) throw new VaultHttpError(404, []);
        return ok({ data: describe(role) });
      }
      case 'update': {
        const body = request.body;
        if (stringField(body, 'token_type') === 'batch') throw badRequest('the dev server makes service tokens only through roles');
        const was = this.roles.get(name);
        this.roles.set(name, {
          name,
          allowedPolicies: listField(body, 'allowed_policies') ?? was?.allowedPolicies ?? [],
          disallowedPolicies: listField(body, 'disallowed_policies') ?? was?.disallowedPolicies ?? [],
          orphan: boolField(body, 'orphan', was?.orphan ?? false),
          period: durationField(body, 'token_period') ?? durationField(body, 'period') ?? was?.period ?? 0,
          renewable: boolField(body, 'renewable', was?.renewable ?? true),
          explicitMaxTtl: durationField(body, 'token_explicit_max_ttl') ?? durationField(body, 'explicit_max_ttl') ?? was?.explicitMaxTtl ?? 0,
          noDefaultPolicy: boolField(body, 'token_no_default_policy', was?.noDefaultPolicy ?? false),
        });
        return noContent();
      }
      case 'delete':
        this.roles.delete(name);
        return noContent();
      default:
        throw unsupportedOperation();
    }
  }
}

function describe(role: TokenRole) {
  return {
    allowed_entity_aliases: null,
    allowed_policies: role.allowedPolicies,
    allowed_policies_glob: [],
    disallowed_policies: role.disallowedPolicies,
    disallowed_policies_glob: [],
    explicit_max_ttl: role.explicitMaxTtl,
    name: role.name,
    orphan: role.orphan,
    path_suffix: '',
    period: 0,
    renewable: role.renewable,
    token_explicit_max_ttl: role.explicitMaxTtl,
    token_no_default_policy: role.noDefaultPolicy,
    token_period: role.period,
    token_type: 'default-service',
  };
}

/** Go's %q of a list, as OpenBao's messages print policy lists: ["a" "b"]. */
function quotedList(list: string[]): string {
  return `[${list.map((p) => JSON.stringify(p)).join(' ')}]`;
}

/**
 * The policies a token made through a role gets: those asked for (else the role's allowed ones),
 * with `default` unless the role says otherwise — refused when they leave the role's list.
 */
export function rolePolicies(role: TokenRole, requested: string[] | undefined): string[] {
  const base = requested ?? role.allowedPolicies;
  // A root token carries `root` alone: no `default` beside it.
  const policies = [...new Set([...base, ...(role.noDefaultPolicy || base.includes('root') ? [] : ['default'])])].sort();
  if (role.allowedPolicies.length > 0) {
    const allowed = [...new Set([...role.allowedPolicies, 'default'])].sort();
    if (policies.some((p) => !allowed.includes(p))) {
      throw badRequest(`token policies (${quotedList(policies)}) must be subset of the role's allowed policies (${quotedList(allowed)}) or glob policies ([])`);
    }
  }
  const refused = policies.filter((p) => role.disallowedPolicies.includes(p));
  if (refused.length > 0) throw badRequest(`token policies (${quotedList(refused)}) must not be in the role's disallowed policies`);
  return policies;
}
