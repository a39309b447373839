import type { VaultCore } from './core.js';
import { authBlock, lookupData } from './tokens.js';
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
  type TokenEntry,
  type VaultRequest,
  type VaultResponse,
} from './wire.js';

/** auth/token/…: the token store's own routes (reference §2). */
export async function handleTokenRoutes(core: VaultCore, request: VaultRequest, route: string): Promise<VaultResponse> {
  const { token, body, operation } = request;
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
    return core.tokens.byAccessor(accessor);
  };
  const base = route.split('/')[0];
  switch (base) {
    case 'lookup-self':
      if (operation !== 'read') throw unsupportedOperation();
      return ok({ data: lookupData(token, core.tokens.remainingSeconds(token)) });
    case 'renew-self': {
      update();
      const { ttl, warnings } = core.tokens.renew(token, durationField(body, 'increment') ?? 0);
      return ok({ auth: authBlock(token, ttl), warnings });
    }
    case 'revoke-self':
      update();
      await core.tokens.revoke(token);
      return noContent();
    case 'lookup': {
      if (operation !== 'update' && operation !== 'read') throw unsupportedOperation();
      // Without a token named, lookup looks up the caller, as lookup-self.
      const id = stringField(body, 'token') || route.slice('lookup/'.length) || token.id;
      const found = core.tokens.lookup(id);
      if (!found) throw new VaultHttpError(403, ['bad token']);
      return ok({ data: lookupData(found, core.tokens.remainingSeconds(found)) });
    }
    case 'lookup-accessor': {
      update();
      const found = accessorEntry();
      if (!found) throw badRequest(multierror('invalid accessor'));
      return ok({ data: { ...lookupData(found, core.tokens.remainingSeconds(found)), id: '' } });
    }
    case 'renew': {
      update();
      const found = core.tokens.lookup(named('renew'));
      if (!found) throw badRequest('token not found');
      const { ttl, warnings } = core.tokens.renew(found, durationField(body, 'increment') ?? 0);
      return ok({ auth: authBlock(found, ttl), warnings });
    }
    case 'revoke': {
      update();
      const found = core.tokens.lookup(named('revoke'));
      if (found) await core.tokens.revoke(found);
      return noContent();
    }
    case 'revoke-accessor': {
      update();
      const found = accessorEntry();
      if (!found) return ok({ warnings: ['No token found with this accessor'] });
      await core.tokens.revoke(found);
      return noContent();
    }
    case 'create':
    case 'create-orphan':
      update();
      return create(core, token, body, route);
    default:
      throw unsupportedPath();
  }
}

function create(core: VaultCore, parent: TokenEntry, body: Record<string, unknown>, route: string): VaultResponse {
  const privileged = parent.isRoot || parent.policies.includes('root');
  const requested = listField(body, 'policies') ?? parent.policies;
  if (!privileged && requested.some((p) => !parent.policies.includes(p) && p !== 'default')) {
    throw badRequest('child policies must be subset of parent');
  }
  const noDefault = boolField(body, 'no_default_policy', false);
  const policies = requested.includes('root') ? ['root'] : [...(noDefault ? [] : ['default']), ...requested];
  const displayName = typeof body.display_name === 'string' && body.display_name !== '' ? `token-${body.display_name}` : 'token';
  const created = core.tokens.create({
    policies,
    displayName,
    path: `auth/token/${route}`,
    ttl: durationField(body, 'ttl') ?? 0,
    explicitMaxTtl: durationField(body, 'explicit_max_ttl') ?? 0,
    renewable: boolField(body, 'renewable', true),
    meta: (body.meta as Record<string, string> | undefined) ?? null,
    orphan: route === 'create-orphan' || boolField(body, 'no_parent', false),
    parent: parent.id,
  });
  return ok({ auth: authBlock(created, created.creationTtl) });
}
