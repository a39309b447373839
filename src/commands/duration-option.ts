import { quoted, UsageError } from '../errors.js';
import { formatVaultDuration, parseDurationSeconds } from '../util/duration.js';

/** The longest a TTL may be asked for: ten years (Vault caps a lease at its mount's max anyway). */
export const MAX_TTL_SECONDS = 10 * 365 * 86400;
/** The longest wait a command times itself (a refresh, a grace period, a lock timeout). */
export const MAX_WAIT_SECONDS = 3600;

/**
 * A duration flag (`30`, `30s`, `5m`, `1h`) in whole seconds, from `min` to `max`; else exit 2.
 * Bounded, so that no timer overflows (Node fires a timer of more than ~24.8 days at once, which
 * turned a refresh interval into a busy loop) and no TTL is one Vault would refuse.
 */
export function durationOption(flag: string, text: string, min = 1, max = MAX_TTL_SECONDS): number {
  const seconds = parseDurationSeconds(text);
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < min) {
    throw new UsageError(`${flag} ${quoted(text)} is not a duration of at least ${min}s`, 'use seconds or a duration such as 30s, 5m or 1h');
  }
  if (seconds > max) throw new UsageError(`${flag} ${quoted(text)} is too long: at most ${formatVaultDuration(max)}`, 'use seconds or a duration such as 30s, 5m or 1h');
  return Math.floor(seconds);
}

/** The sandbox's role TTLs (`eos sandbox` and `eos delphi dashboard --sandbox` alike). */
export function sandboxTtls(ttlText: string, maxTtlText: string): { ttl: number; maxTtl: number } {
  // A sandbox is for trying eos: a week is plenty, and its leases' timers stay well in range.
  const ttl = durationOption('--ttl', ttlText, 1, 7 * 86400);
  const maxTtl = durationOption('--max-ttl', maxTtlText, 1, 7 * 86400);
  if (maxTtl < ttl) throw new UsageError(`--max-ttl ${quoted(maxTtlText)} is shorter than --ttl ${quoted(ttlText)}`, 'for example --ttl 60s --max-ttl 5m');
  return { ttl, maxTtl };
}
