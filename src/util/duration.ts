/**
 * Durations as Vault takes them: an integer number of seconds, or a Go duration string
 * ("1h", "30m", "1h30m", "90s", "1.5h"), plus the "d" suffix Vault's parser also accepts.
 */

const UNIT_SECONDS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  'µs': 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)/gy;

/** Parses a duration into seconds; returns undefined when the text is not a duration. */
export function parseDurationSeconds(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? input : undefined;
  const text = input.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text);
  let total = 0;
  PART.lastIndex = 0;
  let consumed = 0;
  for (let m = PART.exec(text); m !== null; m = PART.exec(text)) {
    total += Number(m[1]) * (UNIT_SECONDS[m[2] as string] as number);
    consumed = PART.lastIndex;
  }
  return consumed === text.length && consumed > 0 ? total : undefined;
}

/**
 * Formats whole seconds as Vault's lease warnings do: Go's time.Duration text with zero parts
 * dropped ("1h", "1h5s", "9m58s", "0s").
 */
export function formatVaultDuration(seconds: number): string {
  const s = Math.floor(seconds);
  if (s <= 0) return '0s';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  let text = h > 0 ? `${h}h${m}m${rest}s` : m > 0 ? `${m}m${rest}s` : `${rest}s`;
  if (text.endsWith('m0s')) text = text.slice(0, -2);
  return text.replace(/h0m/, 'h');
}
