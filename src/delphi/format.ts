/** Short human durations for the dashboard: 45s, 12m, 3h, 2d. */
export function age(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '-';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

/**
 * Text from the database as the terminal may show it: C0 and C1 control characters (escape
 * sequences that could clear the screen, move the cursor, retitle the window or forge what the
 * operator reads) become U+FFFD. Agent names, failure reasons and parser errors are written by
 * whoever feeds the pipeline (docs/security.md).
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '\ufffd');
}

export function pad(text: string | number, width: number, right = false): string {
  const t = printable(String(text));
  if (t.length > width) return `${t.slice(0, Math.max(0, width - 1))}…`;
  return right ? t.padStart(width) : t.padEnd(width);
}
