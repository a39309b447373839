import { randomInt } from 'node:crypto';

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function base62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62[randomInt(BASE62.length)];
  return out;
}

/**
 * The database engine's default password: 20 characters of [a-zA-Z0-9-] with at least one
 * lower-case letter, one upper-case letter, one digit and one dash (§4).
 */
export function databasePassword(): string {
  const lower = 'abcdefghijklmnopqrstuvwxyz';
  const upper = lower.toUpperCase();
  const digits = '0123456789';
  const all = `${lower}${upper}${digits}-`;
  const chars = [lower, upper, digits, '-'].map((set) => set[randomInt(set.length)] as string);
  while (chars.length < 20) chars.push(all[randomInt(all.length)] as string);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}

/** `v-<display≤8>-<role≤8>-<20 random>-<unix seconds>`, at most 63 characters (§4). */
export function databaseUsername(displayName: string, roleName: string, nowMs: number): string {
  const name = `v-${displayName.slice(0, 8)}-${roleName.slice(0, 8)}-${base62(20)}-${Math.floor(nowMs / 1000)}`;
  return name.slice(0, 63);
}

/**
 * Service tokens as OpenBao issues them (server-side consistent tokens off, its default): `s.`
 * and 24 random characters. HashiCorp Vault's `hvs.` form is what eos also accepts.
 */
export function serviceToken(): string {
  return `s.${base62(24)}`;
}

/** Batch tokens as OpenBao issues them: `b.` and the token's encoded entry (here random, of its length). */
export function batchToken(): string {
  return `b.AAAAAQ${base62(130)}`;
}

/** `2006-01-02 15:04:05-0700` in UTC, the format of `{{expiration}}`. */
export function expirationText(ms: number): string {
  const iso = new Date(Math.floor(ms / 1000) * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}+0000`;
}
