import type { TokenEntry } from '../state/tokens.js';
import { goTime } from '../wire.js';

/** How a token shows on the wire: in a login's `auth` block, a lookup's `data`, a role's read. */

/** The token_* fields every auth method's role read shows (Vault's tokenutil PopulateTokenData). */
export function tokenParamsData(params: { ttl: number; maxTtl: number; policies: string[]; noDefaultPolicy?: boolean }) {
  return {
    token_bound_cidrs: [],
    token_explicit_max_ttl: 0,
    token_max_ttl: params.maxTtl,
    token_no_default_policy: params.noDefaultPolicy ?? false,
    token_num_uses: 0,
    token_period: 0,
    token_policies: params.policies,
    token_strictly_bind_ip: false,
    token_ttl: params.ttl,
    token_type: 'default',
  };
}

/** The `auth` block of a login or token-create response. */
export function authBlock(entry: TokenEntry, leaseDuration: number) {
  return {
    client_token: entry.id,
    accessor: entry.accessor,
    policies: entry.policies,
    token_policies: entry.policies,
    metadata: entry.meta,
    lease_duration: leaseDuration,
    renewable: entry.renewable,
    entity_id: '',
    token_type: entry.type,
    orphan: entry.orphan,
    mfa_requirement: null,
    num_uses: entry.numUses,
  };
}

/**
 * The `data` of auth/token/lookup-self. OpenBao adds `renewable` and `issue_time` only for a
 * token its expiration manager tracks: the root token `operator init` hands out (the one this
 * server starts with, at auth/token/root) has neither.
 */
export function lookupData(entry: TokenEntry, ttl: number) {
  const tracked = entry.path !== 'auth/token/root';
  return {
    accessor: entry.accessor,
    creation_time: Math.floor(entry.issueMs / 1000),
    creation_ttl: entry.creationTtl,
    display_name: entry.displayName,
    entity_id: '',
    expire_time: entry.expireMs === null ? null : goTime(entry.expireMs),
    explicit_max_ttl: entry.explicitMaxTtl,
    id: entry.id,
    ...(tracked ? { issue_time: goTime(entry.issueMs) } : {}),
    meta: entry.meta,
    ...(entry.namespace ? { namespace_path: entry.namespace } : {}),
    num_uses: entry.numUses,
    orphan: entry.orphan,
    path: entry.path,
    ...(entry.period > 0 ? { period: entry.period } : {}),
    policies: entry.policies,
    ...(tracked ? { renewable: entry.isRoot ? false : entry.renewable } : {}),
    ttl,
    type: entry.type,
  };
}
