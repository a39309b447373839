/** PostgreSQL identifier quoting: always quoted, inner quotes doubled. Used wherever eos writes a name into SQL. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
