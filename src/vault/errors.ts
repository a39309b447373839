import { EosError, ExitCode } from '../errors.js';

/**
 * Vault failures as typed errors, each with its exit code (docs/design.md §1) and a hint drawn from the
 * seed's troubleshooting section. `status` and `errors` keep what Vault said.
 */
export class VaultError extends EosError {
  constructor(
    message: string,
    exitCode: ExitCode,
    hint: string | undefined,
    readonly status: number | null = null,
    readonly errors: string[] = [],
    cause?: unknown,
  ) {
    super(message, { exitCode, hint, cause });
  }
}

export class VaultUnreachableError extends VaultError {
  constructor(message: string, hint: string, cause?: unknown) {
    super(message, ExitCode.vaultUnavailable, hint, null, [], cause);
  }
}

/**
 * Vault accepted the connection and did not answer within the client timeout. Not retried: the
 * request may have been served. Exit 3, naming the setting that bounds the wait.
 */
export class VaultTimeoutError extends VaultUnreachableError {
  constructor(origin: string, seconds: number) {
    super(
      `Vault at ${origin} did not answer within ${seconds} s (VAULT_CLIENT_TIMEOUT)`,
      `check Vault's health and load (curl ${origin}/v1/sys/health); if it is only slow, raise VAULT_CLIENT_TIMEOUT (e.g. 120s) or the config's vault.timeout`,
    );
  }
}

/** Something answered at VAULT_ADDR that does not speak Vault's API (a web page, a proxy's own answer). Exit 3. */
export class VaultNotVaultError extends VaultUnreachableError {
  constructor(origin: string, status: number, contentType: string, body = '') {
    // Go's own answer to plain HTTP on a TLS listener: Vault is there, the scheme is wrong.
    const httpToHttps = /Client sent an HTTP request to an HTTPS server/i.test(body);
    super(
      httpToHttps
        ? `${origin} is a TLS listener: it answered plain HTTP with HTTP ${status} (Client sent an HTTP request to an HTTPS server)`
        : `${origin} is not a Vault server: it answered HTTP ${status} with ${contentType.split(';')[0]}, not Vault's JSON`,
      httpToHttps ? `use https:// in VAULT_ADDR (or --addr), with VAULT_CACERT if its CA is private` : `set VAULT_ADDR (or --addr) to Vault's API address: curl ${origin}/v1/sys/health answers JSON there`,
    );
  }
}

export class VaultTlsError extends VaultError {
  constructor(message: string, hint: string, cause?: unknown) {
    super(message, ExitCode.vaultUnavailable, hint, null, [], cause);
  }
}

export class VaultSealedError extends VaultError {
  constructor(addr: string, errors: string[]) {
    super(`Vault at ${addr} is sealed`, ExitCode.vaultUnavailable, 'unseal it (vault operator unseal) and try again', 503, errors);
  }
}

export class VaultPermissionDeniedError extends VaultError {
  constructor(
    readonly path: string,
    errors: string[],
    message = `Vault denied access to ${path}: permission denied`,
    hint = 'check the token (eos self secrets status) and that its policy allows this path; an expired token is also refused',
  ) {
    super(message, ExitCode.denied, hint, 403, errors);
  }
}

/** The token itself is gone: Vault refuses even its own lookup (expired, or revoked). */
export class VaultTokenExpiredError extends VaultPermissionDeniedError {
  constructor(path: string, errors: string[]) {
    super(
      path,
      errors,
      `Vault token expired, revoked or used up (num_uses): Vault refused ${path} and even the token's own lookup`,
      'get a new token (vault login, or a new VAULT_TOKEN); with AppRole, or a token file that something keeps fresh, eos logs in again by itself',
    );
  }
}

export class VaultNotFoundError extends VaultError {
  constructor(path: string, detail = 'nothing found', hint = 'check the path (vault secrets list shows the mounts); KV paths are given without data/') {
    super(`${path}: ${detail}`, ExitCode.failed, hint, 404, []);
  }
}

export class VaultBadRequestError extends VaultError {
  constructor(path: string, status: number, errors: string[]) {
    super(`Vault refused ${path}: ${oneLine(errors)}`, ExitCode.failed, undefined, status, errors);
  }
}

export class VaultRateLimitedError extends VaultError {
  constructor(path: string, errors: string[]) {
    super(`Vault rate-limited ${path}: ${oneLine(errors) || 'too many requests'}`, ExitCode.vaultUnavailable, 'wait and try again; VAULT_MAX_RETRIES sets how often eos retries', 429, errors);
  }
}

export class VaultServerError extends VaultError {
  constructor(path: string, status: number, errors: string[]) {
    const unavailable = status === 502 || status === 503 || status === 504;
    super(
      `Vault failed on ${path} (HTTP ${status}): ${oneLine(errors) || 'no detail'}`,
      unavailable ? ExitCode.vaultUnavailable : ExitCode.failed,
      unavailable ? 'Vault has no active node or is overloaded; check its status and try again' : undefined,
      status,
      errors,
    );
  }
}

/** Vault's multierror text ("1 error occurred:\n\t* x\n\n") as one line. */
export function oneLine(errors: string[]): string {
  return errors
    .map((e) => e.replace(/^\d+ errors? occurred:\s*/, '').replace(/\n\t\* /g, '; ').replace(/^\* /, '').trim())
    .filter((e) => e !== '')
    .join('; ');
}

/** The typed error for a non-success answer of Vault. */
export function errorForStatus(addr: string, path: string, status: number, body: unknown): VaultError {
  const errors = Array.isArray((body as { errors?: unknown })?.errors) ? ((body as { errors: unknown[] }).errors.map(String)) : [];
  if (status === 403 && errors.some((e) => e.includes('permission denied'))) return new VaultPermissionDeniedError(path, errors);
  if (status === 403) return new VaultPermissionDeniedError(path, errors);
  if (status === 404) return new VaultNotFoundError(path);
  if (status === 503 && errors.some((e) => /sealed/i.test(e))) return new VaultSealedError(addr, errors);
  if (status === 429) return new VaultRateLimitedError(path, errors);
  if (status >= 500) return new VaultServerError(path, status, errors);
  return new VaultBadRequestError(path, status, errors);
}
