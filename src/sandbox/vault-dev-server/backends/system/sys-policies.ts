import type { Clock } from '../../../../util/clock.js';
import type { PolicyStore } from '../../state/policies.js';
import { parsePolicy } from '../../state/policy.js';
import type { TokenStore } from '../../state/tokens.js';
import {
  badRequest,
  goTime,
  listField,
  multierror,
  noContent,
  notFound,
  ok,
  stringField,
  withTopLevel,
  unsupportedOperation,
  VaultHttpError,
  type VaultResponse,
} from '../../wire.js';
import type { BackendRequest } from '../backend.js';

/**
 * sys/policy/<name> (the old form: `rules`, and `policies` beside `keys` in lists),
 * sys/policies/acl/<name>, and sys/capabilities, -self and -accessor.
 */
export function handlePolicies(policies: PolicyStore, clock: Clock, request: BackendRequest, route: string): VaultResponse {
  const old = route === 'policy' || route.startsWith('policy/');
  const name = (old ? route.slice('policy'.length) : route.slice('policies/acl'.length)).replace(/^\/+|\/+$/g, '');
  if (name === '') {
    // The old route lists on a read too; sys/policies/acl only on a LIST.
    if (request.operation !== 'list' && (old ? request.operation !== 'read' : true)) throw unsupportedOperation();
    const keys = policies.names();
    keys.push('root');
    return old ? withTopLevel({ keys, policies: keys }) : ok({ data: { keys } });
  }
  const lower = name.toLowerCase();
  switch (request.operation) {
    case 'read': {
      const policy = lower === 'root' ? undefined : policies.get(lower);
      if (lower !== 'root' && !policy) throw notFound();
      const data = {
        name: lower,
        [old ? 'rules' : 'policy']: policy?.raw ?? '',
        version: policy?.version ?? 0,
        cas_required: false,
        allow_wildcards_in_identity_templates: false,
        allow_slashes_in_identity_templates: false,
        ...(policy?.modifiedMs ? { modified: goTime(policy.modifiedMs) } : {}),
      };
      // The old sys/policy route copies its data to the top level of the body too.
      return old ? withTopLevel(data) : ok({ data });
    }
    case 'update': {
      const warnings: string[] = [];
      if (lower !== name) warnings.push(`policy name was converted to ${lower}`);
      let raw = stringField(request.body, 'policy') ?? '';
      if (raw === '' && old) {
        raw = stringField(request.body, 'rules') ?? '';
        if (raw !== '') warnings.push("'rules' is deprecated, please use 'policy' instead");
      }
      if (raw === '') throw badRequest("'policy' parameter not supplied or empty");
      raw = maybeBase64(raw);
      if (lower === 'root') throw badRequest('cannot update "root" policy');
      const policy = parsePolicy(lower, raw);
      policy.version = (policies.get(lower)?.version ?? 0) + 1;
      policy.modifiedMs = clock.now();
      policies.set(policy);
      return warnings.length > 0 ? ok({ warnings }) : noContent();
    }
    case 'delete':
      if (lower === 'root') throw badRequest('cannot delete "root" policy');
      if (lower === 'default') throw badRequest('cannot delete default policy');
      policies.delete(lower);
      return noContent();
    default:
      throw unsupportedOperation();
  }
}

/** Vault takes a base64-encoded policy as well as the text. */
function maybeBase64(raw: string): string {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(raw) || raw.length % 4 !== 0) return raw;
  return Buffer.from(raw, 'base64').toString('utf8');
}

export function handleCapabilities(policies: PolicyStore, tokens: TokenStore, request: BackendRequest, route: string): VaultResponse {
  if (request.operation !== 'update') throw unsupportedOperation();
  let tokenId: string | undefined;
  if (route === 'capabilities-self') tokenId = request.token.id;
  else if (route === 'capabilities-accessor') {
    const accessor = stringField(request.body, 'accessor');
    if (!accessor) throw badRequest(multierror('missing accessor'));
    tokenId = tokens.byAccessor(accessor)?.id;
    if (!tokenId) throw badRequest(multierror('invalid accessor'));
  } else tokenId = stringField(request.body, 'token');
  if (!tokenId) throw new VaultHttpError(500, ['1 error occurred:\n\t* no token found\n\n']);
  const paths = listField(request.body, 'paths') ?? listField(request.body, 'path') ?? [];
  if (paths.length === 0) throw badRequest('paths must be supplied');
  const token = tokens.lookup(tokenId);
  if (!token) throw badRequest(multierror('invalid token'));
  const data: Record<string, string[]> = {};
  for (const path of paths) data[path] = policies.capabilitiesOf(token, path);
  if (paths.length === 1) data.capabilities = data[paths[0] as string] as string[];
  return withTopLevel(data);
}
