import type { VaultClient } from '../vault/client.js';
import { VaultPermissionDeniedError } from '../vault/errors.js';
import { policyForRole } from './policies.js';

/**
 * What the token may do of what eos needs at run time, asked of Vault (sys/capabilities-self)
 * instead of found out by failing: `test` and `status` name a missing capability by its path
 * and by the eos policy that grants it.
 */

export interface Grant {
  path: string;
  /** The capability eos needs there. */
  needs: 'read' | 'update';
  held: string[];
  ok: boolean;
  /** The eos policy that grants it. */
  policy: string;
  /** Without it nothing works (credentials); without the others leases are left to expire. */
  essential: boolean;
}

/** The lease id asked about: any id of the role's leases has the same capabilities. */
const LEASE_PROBE = 'a-lease';

export async function checkGrants(client: VaultClient, engine: { mount: string; role: string; workerRole: string }): Promise<Grant[] | { unknown: string }> {
  const policy = policyForRole(engine.role, engine.workerRole);
  const wanted: Omit<Grant, 'held' | 'ok'>[] = [
    { path: `${engine.mount}/creds/${engine.role}`, needs: 'read', policy, essential: true },
    // A lease of the role, as eos names it when it renews and revokes (any id under the role).
    { path: `sys/leases/renew/${engine.mount}/creds/${engine.role}/${LEASE_PROBE}`, needs: 'update', policy, essential: false },
    { path: `sys/leases/revoke/${engine.mount}/creds/${engine.role}/${LEASE_PROBE}`, needs: 'update', policy, essential: false },
  ];
  let answer: Record<string, string[]>;
  try {
    answer = await client.capabilitiesSelf(wanted.map((w) => w.path));
  } catch (err) {
    if (err instanceof VaultPermissionDeniedError) return { unknown: 'the token may not ask sys/capabilities-self' };
    throw err;
  }
  return wanted.map((w) => {
    const held = answer[w.path] ?? [];
    return { ...w, held, ok: held.includes('root') || held.includes(w.needs) };
  });
}

/** `the token cannot read database/creds/delphi-readonly: attach policy eos-delphi-reader` */
export function describeMissing(grant: Grant): string {
  return `the token cannot ${grant.needs} ${grantPath(grant)}: attach policy ${grant.policy}`;
}

/** The path as a policy writes it: `sys/leases/renew/database/creds/r/*` for the lease probe. */
export function grantPath(grant: Pick<Grant, 'path'>): string {
  return grant.path.endsWith(`/${LEASE_PROBE}`) ? `${grant.path.slice(0, -LEASE_PROBE.length)}*` : grant.path;
}
