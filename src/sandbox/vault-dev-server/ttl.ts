import { formatVaultDuration } from '../../util/duration.js';
import { badRequest } from './wire.js';

/** Vault's system defaults: 768h for both the default and the maximum lease TTL. */
export const SYSTEM_DEFAULT_TTL = 768 * 3600;
export const SYSTEM_MAX_TTL = 768 * 3600;

/**
 * Vault's framework.CalculateTTL: the TTL to grant for an issue or a renewal, capped so that
 * the lease never outlives `start + max`. Times are truncated to the second, as Vault does.
 */
export function calculateTtl(options: {
  nowMs: number;
  increment: number;
  backendTtl: number;
  backendMaxTtl: number;
  mountDefaultTtl: number;
  mountMaxTtl: number;
  startMs?: number;
  explicitMaxTtl?: number;
}): { ttl: number; warnings: string[] } {
  const now = Math.floor(options.nowMs / 1000);
  const start = options.startMs === undefined ? now : Math.floor(options.startMs / 1000);
  let max = options.mountMaxTtl;
  if (options.backendMaxTtl > 0 && options.backendMaxTtl < max) max = options.backendMaxTtl;
  if (options.explicitMaxTtl && options.explicitMaxTtl > 0 && options.explicitMaxTtl < max) max = options.explicitMaxTtl;

  let ttl = options.increment > 0 ? options.increment : options.backendTtl > 0 ? options.backendTtl : options.mountDefaultTtl;
  const warnings: string[] = [];
  const maxValid = start + max - now;
  if (maxValid <= 0) throw badRequest('past the max TTL, cannot renew');
  if (maxValid < ttl) {
    warnings.push(
      `TTL of "${formatVaultDuration(ttl)}" exceeded the effective max_ttl of "${formatVaultDuration(maxValid)}"; TTL value is capped accordingly`,
    );
    ttl = maxValid;
  }
  return { ttl, warnings };
}

/** A mount's effective TTLs: its tuned values, else the system's 768h. */
export function mountTtls(config: { default_lease_ttl: number; max_lease_ttl: number }): { defaultTtl: number; maxTtl: number } {
  return {
    defaultTtl: config.default_lease_ttl > 0 ? config.default_lease_ttl : SYSTEM_DEFAULT_TTL,
    maxTtl: config.max_lease_ttl > 0 ? config.max_lease_ttl : SYSTEM_MAX_TTL,
  };
}
