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
  if (code === '28000' && /client certificate/i.test(message)) {
    // pg_hba's clientcert (or `cert` authentication): the server wants this host's certificate.
    return new PermissionDeniedError(`PostgreSQL refused the login${who}: ${message}`, CLIENT_CERT_HINT, err);
  }
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
  const tls = tlsProblem(code, message);
  if (tls) return new DatabaseUnreachableError(`PostgreSQL${context.where ? ` at ${context.where}` : ''}: ${tls.problem}`, tls.hint, err);
  if (UNREACHABLE.has(code) || /timeout|Connection terminated/i.test(message)) {
    return new DatabaseUnreachableError(
      `cannot reach PostgreSQL${context.where ? ` at ${context.where}` : ''}: ${message}`,
      'check the database target (eos self secrets status) and that PostgreSQL accepts connections from this host (listen_addresses, pg_hba.conf)',
      err,
    );
  }
  return err;
}

const CLIENT_CERT_HINT = 'give this host a client certificate the server trusts, with its key: --sslcert and --sslkey on set delphi-db-config (or PGSSLCERT and PGSSLKEY, ~/.postgresql/postgresql.crt and .key)';

/** A TLS failure on the way to PostgreSQL, named with the option that fixes it (not a bug, not "unreachable"). */
function tlsProblem(code: string, message: string): { problem: string; hint: string } | undefined {
  // The server's side of the handshake refused the certificate this host presented (or its lack).
  if (/alert (unknown ca|bad certificate|certificate required|certificate unknown|certificate expired)/i.test(message)) {
    return { problem: `the server refused this host's client certificate (${message})`, hint: CLIENT_CERT_HINT };
  }
  if (/does not support SSL/i.test(message)) {
    return { problem: 'the server offers no TLS, and sslmode asks for it', hint: "turn ssl on in the server's postgresql.conf, or choose sslmode prefer or disable (set delphi-db-config --sslmode)" };
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || /Hostname\/IP does not match/i.test(message)) {
    return { problem: `its certificate does not name the host connected to (${message})`, hint: 'connect by a name the certificate holds (--host), or use sslmode=verify-ca, which checks the CA and not the name' };
  }
  if (/^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|CERT_UNTRUSTED)$/.test(code) || /self[- ]signed certificate|unable to verify the first certificate/i.test(message)) {
    return { problem: `its certificate is not signed by a CA eos trusts (${message})`, hint: "give the CA that signed it: --sslrootcert on set delphi-db-config, PGSSLROOTCERT, or ~/.postgresql/root.crt" };
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return { problem: `its certificate is not valid now (${message})`, hint: "renew the server's certificate" };
  }
  return undefined;
}
