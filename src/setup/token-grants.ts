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

export async function checkGrants(client: VaultClient, engine: { mount: string; role: string; workerRole: string }): Promise<Grant[] | { unknown: string }> {
  const policy = policyForRole(engine.role, engine.workerRole);
  const wanted: Omit<Grant, 'held' | 'ok'>[] = [
    { path: `${engine.mount}/creds/${engine.role}`, needs: 'read', policy, essential: true },
    { path: 'sys/leases/renew', needs: 'update', policy, essential: false },
    { path: 'sys/leases/revoke', needs: 'update', policy, essential: false },
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
  return `the token cannot ${grant.needs} ${grant.path}: attach policy ${grant.policy}`;
}
