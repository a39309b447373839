import { quoted, UsageError } from '../errors.js';
import { parseDurationSeconds } from '../util/duration.js';

/** A duration flag (`30`, `30s`, `5m`, `1h`) in whole seconds, at least `min`; else exit 2. */
export function durationOption(flag: string, text: string, min = 1): number {
  const seconds = parseDurationSeconds(text);
  if (seconds === undefined || seconds < min) {
    throw new UsageError(`${flag} ${quoted(text)} is not a duration of at least ${min}s`, 'use seconds or a duration such as 30s, 5m or 1h');
  }
  return Math.floor(seconds);
}

/** The sandbox's role TTLs (`eos sandbox` and `eos delphi dashboard --sandbox` alike). */
export function sandboxTtls(ttlText: string, maxTtlText: string): { ttl: number; maxTtl: number } {
  const ttl = durationOption('--ttl', ttlText);
  const maxTtl = durationOption('--max-ttl', maxTtlText);
  if (maxTtl < ttl) throw new UsageError(`--max-ttl ${quoted(maxTtlText)} is shorter than --ttl ${quoted(ttlText)}`, 'for example --ttl 60s --max-ttl 5m');
  return { ttl, maxTtl };
}
