import { MalformedValueError, quoted } from '../errors.js';

/**
 * Names eos puts into Vault paths, checked where they come in: a role `../../sys/seal-status`
 * joined into `database/creds/<role>` and normalised by the HTTP stack would read another
 * path, and a refusal there could fall back to another credential source and run the worker
 * anyway. Vault's own rules: a role or connection name is word characters with `.` and `-`
 * inside (its framework's GenericNameRegex); a mount or namespace path is such names joined by
 * `/`.
 */

const NAME = /^\w(?:[\w.-]*\w)?$/;
const MAX_NAME = 256;
/** What Vault accepts in one request path, with room for the API prefix. */
export const MAX_PATH = 4096;

export function isVaultName(name: string): boolean {
  return name.length <= MAX_NAME && NAME.test(name);
}

/** A mount or namespace path: names joined by `/`, one trailing `/` allowed. */
export function isVaultPathOfNames(path: string): boolean {
  const trimmed = path.endsWith('/') ? path.slice(0, -1) : path;
  return trimmed !== '' && path.length <= MAX_PATH && trimmed.split('/').every(isVaultName);
}

const NAME_HINT = 'letters, digits and _, with . and - inside (no /, no .., not empty)';

export function checkRoleName(role: string, origin: string): string {
  if (!isVaultName(role)) throw new MalformedValueError(`the role ${quoted(role)} (from ${origin}) is not a Vault role name`, `a role name is ${NAME_HINT}`);
  return role;
}

export function checkMountPath(mount: string, origin: string): string {
  if (!isVaultPathOfNames(mount) || mount.endsWith('/')) {
    throw new MalformedValueError(`the mount ${quoted(mount)} (from ${origin}) is not a Vault mount path`, `a mount path is names joined by /, each ${NAME_HINT}`);
  }
  return mount;
}

export function checkNamespace(namespace: string, origin: string): string {
  // Vault and OpenBao strip a leading `/` (`/admin` is `admin`).
  if (!isVaultPathOfNames(namespace.replace(/^\/+/, '') || namespace)) {
    throw new MalformedValueError(`the namespace ${quoted(namespace)} (from ${origin}) is not a Vault namespace path`, `a namespace is names joined by /, e.g. team-a or team-a/prod; each ${NAME_HINT}`);
  }
  return namespace;
}

/**
 * A logical path for `get`: segments that are not empty, `.` or `..` (which an HTTP client
 * would resolve into another path), no control characters, `?` or `#`, and within Vault's length.
 */
export function checkSecretPath(path: string): string {
  if (path.length > MAX_PATH) throw new MalformedValueError(`the path is too long (${path.length} characters; at most ${MAX_PATH})`, 'give the logical path of one secret, e.g. secret/delphi/database/password');
  const segments = path.replace(/^\/+/, '').replace(/\/$/, '').split('/');
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  const bad = segments.find((s) => s === '' || s === '.' || s === '..' || /[\u0000-\u001f\u007f?#]/.test(s));
  if (bad !== undefined) {
    throw new MalformedValueError(`the path ${quoted(path)} is not a Vault path: ${bad === '' ? 'an empty segment' : `the segment ${quoted(bad)}`}`, 'give the logical path of one secret, e.g. secret/delphi/database/password (no ., .., //, ? or #)');
  }
  return path;
}
