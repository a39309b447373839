import type { TokenEntry, TokenStore } from '../state/tokens.js';
import { formatVaultDuration } from '../../../util/duration.js';
import {
  badRequest,
  boolField,
  durationField,
  listField,
  multierror,
  noContent,
  ok,
  stringField,
  unsupportedOperation,
  unsupportedPath,
  VaultHttpError,
  type VaultResponse,
} from '../wire.js';
import type { Backend, BackendRequest, SpecialPaths } from './backend.js';
import { authBlock, lookupData } from './token-fields.js';
import { rolePolicies, TokenRoles, type TokenRole } from './token-roles.js';

/** The token store, mounted at auth/token/: its routes over the shared tokens (§2). */
export class TokenStoreBackend implements Backend {
  readonly special: SpecialPaths = { root: ['revoke-orphan/*', 'accessors*'] };

  private readonly roles = new TokenRoles();

  constructor(private readonly tokens: TokenStore) {}

  async handle(request: BackendRequest): Promise<VaultResponse> {
    if (request.subpath === 'roles' || request.subpath.startsWith('roles/')) return this.roles.handle(request, request.subpath.slice('roles/'.length));
    return handleTokenRoutes(this.tokens, request, this.roles);
  }
}

async function handleTokenRoutes(tokens: TokenStore, request: BackendRequest, roles: TokenRoles): Promise<VaultResponse> {
  const { token, body, operation, subpath: route } = request;
  const update = () => {
    if (operation !== 'update') throw unsupportedOperation();
  };
  // The token a by-token route names: in the body, or (deprecated) in the path.
  const named = (prefix: string): string => {
    const id = stringField(body, 'token') || route.slice(prefix.length).replace(/^\//, '');
    if (!id) throw badRequest('missing token ID');
    return id;
  };
  const accessorEntry = (): TokenEntry | undefined => {
    const accessor = stringField(body, 'accessor') || route.replace(/^[a-z-]+\/?/, '');
    if (!accessor) throw badRequest(multierror('missing accessor'));
    return tokens.byAccessor(accessor);
  };
  const base = route.split('/')[0];
  switch (base) {
    case 'lookup-self':
      // OpenBao serves it as read and as update (the Vault CLI's `token lookup` sends either).
      if (operation !== 'read' && operation !== 'update') throw unsupportedOperation();
      return ok({ data: lookupData(token, tokens.remainingSeconds(token)) });
    case 'renew-self': {
      update();
      const { ttl, warnings } = tokens.renew(token, durationField(body, 'increment') ?? 0);
      return ok({ auth: authBlock(token, ttl), warnings });
    }
    case 'revoke-self':
      update();
      await tokens.revoke(token);
      return noContent();
    case 'lookup': {
      if (operation !== 'update' && operation !== 'read') throw unsupportedOperation();
      // Without a token named, lookup looks up the caller, as lookup-self.
      const id = stringField(body, 'token') || route.slice('lookup/'.length) || token.id;
      const found = tokens.lookup(id);
      if (!found) throw new VaultHttpError(403, ['bad token']);
      return ok({ data: lookupData(found, tokens.remainingSeconds(found)) });
    }
    case 'lookup-accessor': {
      update();
      const found = accessorEntry();
      if (!found) throw badRequest(multierror('invalid accessor'));
      return ok({ data: { ...lookupData(found, tokens.remainingSeconds(found)), id: '' } });
    }
    case 'renew': {
      update();
      const found = tokens.lookup(named('renew'));
      if (!found) throw badRequest('token not found');
      const { ttl, warnings } = tokens.renew(found, durationField(body, 'increment') ?? 0);
      return ok({ auth: authBlock(found, ttl), warnings });
    }
    case 'revoke': {
      update();
      const found = tokens.lookup(named('revoke'));
      if (found) await tokens.revoke(found);
      return noContent();
    }
    case 'revoke-accessor': {
      update();
      const found = accessorEntry();
      if (!found) return ok({ warnings: ['No token found with this accessor'] });
      await tokens.revoke(found);
      return noContent();
    }
    case 'create':
    case 'create-orphan':
      update();
      if (route.startsWith('create/')) {
        const name = route.slice('create/'.length);
        const role = roles.get(name);
        if (!role) throw badRequest(`unknown role ${name}`);
        return create(tokens, token, body, 'create', role);
      }
      return create(tokens, token, body, route);
    default:
      throw unsupportedPath();
  }
}

function create(tokens: TokenStore, parent: TokenEntry, body: Record<string, unknown>, route: string, role?: TokenRole): VaultResponse {
  const privileged = parent.isRoot || parent.policies.includes('root');
  // OpenBao's order (token_store.go): a token limited in uses, or a batch token, makes no tokens.
  if (parent.numUses !== 0) throw badRequest('restricted use token cannot generate child tokens');
  if (parent.type === 'batch') throw badRequest('batch tokens cannot create more tokens');
  // A string is one policy name, commas and all, as OpenBao reads it.
  const asked = typeof body.policies === 'string' ? [body.policies] : listField(body, 'policies');
  const requested = asked ?? parent.policies;
  // A role's list decides only where the role has one; else, as without a role, the parent's
  // policies bound the child's. Root comes only from root.
  const roleDecides = role !== undefined && (role.allowedPolicies.length > 0 || role.disallowedPolicies.length > 0);
  if (!roleDecides && !privileged && requested.some((p) => !parent.policies.includes(p) && p !== 'default')) {
    throw badRequest('child policies must be subset of parent');
  }
  const noDefault = boolField(body, 'no_default_policy', false);
  const policies = roleDecides ? rolePolicies(role as TokenRole, asked) : requested.includes('root') ? ['root'] : [...(noDefault ? [] : ['default']), ...requested];
  if (policies.includes('root') && !parent.policies.includes('root')) throw badRequest('root tokens may not be created without parent token being root');
  const displayName = typeof body.display_name === 'string' && body.display_name !== '' ? `token-${body.display_name}` : 'token';
  const orphan = role ? role.orphan : route === 'create-orphan' || boolField(body, 'no_parent', false);
  if (!role && orphan && route !== 'create-orphan' && !privileged) throw badRequest('root or sudo privileges required to create orphan token');
  const id = stringField(body, 'id');
  if (id && !privileged) throw badRequest('root or sudo privileges required to directly generate a token ID');
  const type = stringField(body, 'type') ?? 'service';
  if (type !== 'service' && type !== 'batch') throw badRequest(`invalid 'token_type' value ${JSON.stringify(type)}`);
  const numUses = Number(body.num_uses ?? 0);
  if (!Number.isInteger(numUses) || numUses < 0) throw badRequest('number of uses cannot be negative');
  const period = durationField(body, 'period') ?? 0;
  if (period > 0 && !role && !privileged) throw badRequest('root or sudo privileges required to create periodic token');
  if (type === 'batch' && numUses > 0) throw badRequest('batch tokens cannot have "num_uses" set');
  if (type === 'batch' && period > 0) throw badRequest('batch tokens cannot be periodic');
  if (id && id.includes('.')) throw badRequest("custom token ID cannot have a '.' in the value");
  // The token store reads its TTLs itself: a bad one is Go's own parse error, not the field parser's.
  const ttlOf = (field: string) => {
    try {
      return durationField(body, field);
    } catch {
      throw badRequest(`time: invalid duration ${JSON.stringify(String(body[field]))}`);
    }
  };
  const askedTtl = ttlOf('ttl') ?? 0;
  const created = tokens.create({
    policies,
    displayName,
    path: `auth/token/${route}`,
    ttl: askedTtl,
    explicitMaxTtl: role && role.explicitMaxTtl > 0 ? role.explicitMaxTtl : (ttlOf('explicit_max_ttl') ?? 0),
    renewable: role ? role.renewable : boolField(body, 'renewable', true),
    meta: (body.meta as Record<string, string> | undefined) ?? null,
    orphan,
    parent: parent.id,
    numUses,
    period: role && role.period > 0 ? (period > 0 ? Math.min(period, role.period) : role.period) : period,
    type,
    ...(id ? { id } : {}),
  });
  const warnings: string[] = [];
  if (id) {
    warnings.push('Supplying a custom ID for the token uses the weaker SHA1 hashing instead of the more secure SHA2-256 HMAC for token obfuscation. SHA1 hashed tokens on the wire leads to less secure lookups.');
  }
  if (created.period === 0 && askedTtl > created.creationTtl) {
    warnings.push(`TTL of "${formatVaultDuration(askedTtl)}" exceeded the effective max_ttl of "${formatVaultDuration(created.creationTtl)}"; TTL value is capped accordingly`);
  }
  return ok({ auth: authBlock(created, created.creationTtl), ...(warnings.length > 0 ? { warnings } : {}) });
}
