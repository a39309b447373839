/** PostgreSQL identifier quoting: always quoted, inner quotes doubled. Used wherever eos writes a name into SQL. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A PostgreSQL string literal: quoted, inner quotes doubled (standard_conforming_strings, on since 9.1). */
export function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
