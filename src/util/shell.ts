/** Quotes a value for POSIX shells (single quotes, inner ones escaped); plain words stay bare. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_\-.:/@=+,]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
