import type { TokenInfo } from './responses.js';

/**
 * What a token's kind means for eos. A token limited to a number of uses (`num_uses`) is spent
 * by eos itself: every command makes several requests (health, lookup, the credentials, the
 * renewals), each one a use, and Vault revokes the token at its last — with the leases it took.
 */
export const NUM_USES_HINT = 'each eos command makes several Vault requests, each one a use, and Vault revokes the token (and its leases) at its last: use a token without num_uses';

/** The uses a token has left, or undefined when it has no limit. */
export function tokenUsesLeft(info: Pick<TokenInfo, 'num_uses'>): number | undefined {
  const uses = info.num_uses ?? 0;
  return uses > 0 ? uses : undefined;
}
