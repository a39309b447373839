import { DatabaseUnreachableError, EosError, OperationFailedError, PermissionDeniedError } from '../errors.js';

/**
 * A PostgreSQL failure as the user's error, with the exit code of docs/design.md §1, the same for every
 * command: a refused login or privilege is 4, a server that cannot be reached is 5, a missing
 * table or view (the Delphi schema not there) is 1. Anything else passes through untouched.
 */

/** The connection could not be made or was lost: the server is not (or no longer) there. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', '57P01', '57P02', '57P03', '3D000']);

/** An error PostgreSQL itself sent (pg's DatabaseError: a severity and a five-character SQLSTATE). */
export function isPostgresError(err: unknown): boolean {
  const e = err as { code?: unknown; severity?: unknown } | null;
  return typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.severity === 'string';
}

export function classifyDatabaseError(err: unknown, context: { user?: string | undefined; where?: string | undefined } = {}): unknown {
  if (err instanceof EosError) return err;
  const e = err as { code?: string; message?: string };
  const code = e.code ?? '';
  const message = e.message ?? String(err);
  const who = context.user ? ` ${context.user}` : '';
  if (code === '28P01' || code === '28000') {
    return new PermissionDeniedError(`PostgreSQL refused the login${who}: ${message}`, 'the credentials are wrong or expired, or pg_hba.conf refuses this host: eos self secrets test shows which', err);
  }
  if (code === '42501') {
    return new PermissionDeniedError(`PostgreSQL refused${who}: ${message}`, 'the role lacks a privilege: re-apply the group roles (eos self secrets set delphi-db-engine --apply) or grant it', err);
  }
  if (code === '42P01' || code === '3F000') {
    return new OperationFailedError(
      `the Delphi schema is not in this database: ${message}`,
      'apply the Delphi schema (the tables and views of schema.sql) as the database owner, then try again',
      err,
    );
  }
  if (UNREACHABLE.has(code) || /timeout|Connection terminated/i.test(message)) {
    return new DatabaseUnreachableError(
      `cannot reach PostgreSQL${context.where ? ` at ${context.where}` : ''}: ${message}`,
      'check the database target (eos self secrets status) and that PostgreSQL accepts connections from this host (listen_addresses, pg_hba.conf)',
      err,
    );
  }
  return err;
}
