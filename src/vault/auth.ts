import { homeOf } from '../util/home.js';
import { checkToken } from '../config/token-value.js';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { PermissionDeniedError, UsageError } from '../errors.js';
import type { VaultSettings } from '../config/vault-settings.js';
import type { VaultClient } from './client.js';
import { oneLine, VaultBadRequestError, VaultError, VaultNotFoundError, VaultPermissionDeniedError, VaultTokenExpiredError } from './errors.js';
import { describeIdentityTokenSource, readIdentityToken } from './identity-token.js';

/**
 * Where the token comes from, in order: --token / VAULT_TOKEN; then what the config's auth
 * method names — the Vault CLI's token file (~/.vault-token, or another path), an AppRole
 * login with the role-id from the config and the secret-id from the file it names, or a JWT
 * login with the identity token the CI platform or Kubernetes gave the job.
 */
/** A secret-id is a UUID; a wrapping token looks like a token (`s.…`, `hvs.…`). */
export function looksLikeWrappingToken(text: string): boolean {
  return /^(s|hvs)\.[A-Za-z0-9_-]{20,}$/.test(text);
}

/**
 * Secret-ids this process unwrapped, by the wrapping token that held them: a wrapping token
 * serves once, so a re-login (at the token's max TTL) takes the secret-id from here. Kept in
 * memory only, never written back: the next process needs a new delivery, which is the point.
 */
const unwrapped = new Map<string, string>();

/**
 * The trusted orchestrator's delivery: the secret-id wrapped by Vault, unwrapped here once. The
 * wrapping token is looked up first, without using it: one not made by this AppRole mount's
 * secret-id endpoint is refused unopened (it may have been swapped on the way), and one already
 * used or expired says that someone else may have unwrapped it.
 */
export async function unwrapSecretId(client: VaultClient, auth: { mount: string; secretIdFile: string }, wrappingToken: string): Promise<string> {
  const known = unwrapped.get(wrappingToken);
  if (known) return known;
  await lookUpWrappedSecretId(client, auth, wrappingToken);
  const answer = await client.unwrap(wrappingToken).catch((err: unknown) => {
    throw usedUp(auth, err);
  });
  const secretId = (answer.data as { secret_id?: unknown } | null)?.secret_id;
  if (typeof secretId !== 'string' || secretId === '') {
    throw new PermissionDeniedError(`the wrapping token in ${auth.secretIdFile} held no secret_id`, `have the secret-id delivered wrapped by auth/${auth.mount}/role/<role>/secret-id`);
  }
  unwrapped.set(wrappingToken, secretId);
  return secretId;
}

/** What configure checks of a wrapped secret-id without using it up: made where it should be, and how long it lasts; and who else may read the file. */
export async function checkWrappedSecretId(
  client: VaultClient,
  auth: { mount: string; secretIdFile: string },
  wrappingToken: string,
): Promise<{ creationPath: string; ttl: number; warnings: string[] }> {
  const info = await lookUpWrappedSecretId(client, auth, wrappingToken);
  return { creationPath: info.creation_path, ttl: info.creation_ttl, warnings: await exposure(auth.secretIdFile, 'AppRole secret-id file') };
}

/**
 * The checks before a wrapping token is used, for configure and for the login alike: it is a
 * wrapping token, Vault still holds it (looked up, not used), and it was made by this AppRole
 * mount's secret-id endpoint — one from anywhere else is refused unopened (it may have been
 * swapped in on the way).
 */
async function lookUpWrappedSecretId(client: VaultClient, auth: { mount: string; secretIdFile: string }, wrappingToken: string) {
  if (!looksLikeWrappingToken(wrappingToken)) {
    throw new UsageError(
      `the secret-id file ${auth.secretIdFile} holds no wrapping token (a wrapped secret-id was configured)`,
      'write the wrapping token there (vault write -wrap-ttl=5m -field=wrapping_token -f auth/<mount>/role/<role>/secret-id), or configure again without --secret-id-wrapped for a plain secret-id',
    );
  }
  const info = await client.lookupWrapping(wrappingToken).catch((err: unknown) => {
    throw usedUp(auth, err);
  });
  if (!madeBySecretIdEndpoint(auth.mount, info.creation_path)) {
    throw new PermissionDeniedError(
      `the wrapping token in ${auth.secretIdFile} was made by ${info.creation_path}, not by a secret-id of auth/${auth.mount}/: refused unopened`,
      `have the secret-id delivered wrapped by auth/${auth.mount}/role/<role>/secret-id; a wrapping token from elsewhere may have been swapped in on the way`,
    );
  }
  return info;
}

/** Vault's 400 for a wrapping token: used, or past its TTL. Anything else (Vault down) stays as it is. */
function usedUp(auth: { mount: string; secretIdFile: string }, err: unknown): unknown {
  if (!(err instanceof VaultBadRequestError)) return err;
  return new PermissionDeniedError(
    `the wrapped secret-id in ${auth.secretIdFile} was already unwrapped or has expired (Vault: ${oneLine(err.errors)})`,
    `a wrapping token serves once, within its TTL: have a new one delivered (vault write -wrap-ttl=5m -f auth/${auth.mount}/role/<role>/secret-id); if nothing of yours used it, someone else may have`,
    err,
  );
}

/** Whether a wrapping token was made by `auth/<mount>/role/<role>/secret-id`. */
function madeBySecretIdEndpoint(mount: string, creationPath: string): boolean {
  const prefix = `auth/${mount.replace(/^\/+|\/+$/g, '')}/role/`;
  return creationPath.startsWith(prefix) && /^[^/]+\/secret-id$/.test(creationPath.slice(prefix.length));
}

/**
 * A login where no auth method is mounted: OpenBao answers it, as any tokenless request to a
 * path it does not route, with 403 `permission denied` (a login sends no token); some servers
 * say 404. OpenBao's user lockout (too many failed logins) answers the same 403, so the message
 * names both. A login that reached its method otherwise answers 400 or 200.
 */
function noLoginThere(err: unknown): boolean {
  return err instanceof VaultNotFoundError || (err instanceof VaultPermissionDeniedError && err.errors.length === 1 && err.errors[0] === 'permission denied');
}

export type TokenSource = 'flag' | 'env' | 'token-file' | 'approle' | 'jwt';

export interface Authenticated {
  source: TokenSource;
  /** For AppRole: the TTL the login granted (the keeper must renew or log in again). */
  leaseDuration?: number;
  /** Said once to the user: a secret file others may read. */
  warnings?: string[];
}

/** A secret file (a secret-id, a token) that group or others may read: said, not refused (the Vault CLI does not refuse either). */
async function exposure(file: string, what: string): Promise<string[]> {
  const mode = await stat(file).then((s) => s.mode & 0o777, () => 0);
  return mode & 0o077 ? [`the ${what} ${file} is mode ${mode.toString(8).padStart(4, '0')}: others on this machine may read it (chmod 600 ${file})`] : [];
}

export function defaultTokenFile(home: string): string {
  return path.join(home, '.vault-token');
}

export async function authenticate(client: VaultClient, settings: VaultSettings, home: string | undefined, env: NodeJS.ProcessEnv): Promise<Authenticated> {
  if (settings.token) {
    client.token = settings.token;
    return { source: settings.origins.token === 'flag' ? 'flag' : 'env' };
  }
  const auth = settings.auth;
  if (auth.method === 'jwt') {
    // Read afresh at every login: the platform may have rotated it since the last one.
    const jwt = await readIdentityToken(auth.identityToken, env);
    const login = await client.jwtLogin(auth.mount, auth.role, jwt).catch((err: unknown) => {
      if (noLoginThere(err)) {
        throw new PermissionDeniedError(
          `no JWT auth method at auth/${auth.mount}/, or this host is locked out of it (Vault answered ${(err as VaultError).status} to auth/${auth.mount}/login)`,
          `enable it (vault auth enable -path=${auth.mount} jwt), or name where it is mounted: eos self secrets configure --auth jwt --mount <path>`,
          err,
        );
      }
      if (err instanceof VaultBadRequestError) {
        throw new PermissionDeniedError(
          `Vault refused the identity token from ${describeIdentityTokenSource(auth.identityToken)} for role ${auth.role}: ${oneLine(err.errors)}`,
          `the token must be current and match the role's bindings (audience, issuer, claims): vault read auth/${auth.mount}/role/${auth.role}`,
          err,
        );
      }
      throw err;
    });
    client.token = login.client_token;
    return { source: 'jwt', leaseDuration: login.lease_duration };
  }
  if (auth.method === 'approle') {
    let secretId: string;
    try {
      secretId = (await readFile(auth.secretIdFile, 'utf8')).trim();
    } catch (err) {
      throw new UsageError(
        `cannot read the AppRole secret-id file ${auth.secretIdFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        'write the secret-id there (mode 0600) or run eos self secrets configure --auth approle again',
      );
    }
    if (secretId === '') throw new UsageError(`the AppRole secret-id file ${auth.secretIdFile} is empty`, 'write the secret-id into it');
    if (auth.secretIdWrapped || looksLikeWrappingToken(secretId)) secretId = await unwrapSecretId(client, auth, secretId);
    const login = await client.approleLogin(auth.mount, auth.roleId, secretId).catch((err: unknown) => {
      // Vault answers a wrong role-id or secret-id (or a used-up one) with 400: a refused login, exit 4.
      if (err instanceof VaultBadRequestError) {
        throw new PermissionDeniedError(
          `Vault refused the AppRole login at auth/${auth.mount}/login: ${oneLine(err.errors)}`,
          `check the role-id and the secret-id in ${auth.secretIdFile} (vault write -f auth/${auth.mount}/role/<name>/secret-id makes a new one)`,
          err,
        );
      }
      // Nothing mounted there: no AppRole to log in to.
      if (noLoginThere(err)) {
        throw new PermissionDeniedError(
          `no AppRole auth method at auth/${auth.mount}/, or this host is locked out of it (Vault answered ${(err as VaultError).status} to auth/${auth.mount}/login)`,
          `enable it (vault auth enable -path=${auth.mount} approle), or name where it is mounted: eos self secrets configure --auth approle --approle-mount <path>`,
          err,
        );
      }
      throw err;
    });
    client.token = login.client_token;
    return { source: 'approle', leaseDuration: login.lease_duration, warnings: await exposure(auth.secretIdFile, 'AppRole secret-id file') };
  }
  const file = auth.method === 'token-file' ? auth.path : defaultTokenFile(home ?? homeOf(env));
  let token = '';
  try {
    token = (await readFile(file, 'utf8')).trim();
  } catch (err) {
    // A token file the configuration names must be there; ~/.vault-token is only a fallback.
    if (auth.method === 'token-file') {
      const code = (err as NodeJS.ErrnoException).code;
      throw new UsageError(
        `the token file ${file} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(err)})`}`,
        'write the token there (mode 0600), or name the right file: eos self secrets configure --auth token-file --token-file <path>',
      );
    }
  }
  if (token === '' && auth.method === 'token-file') {
    throw new UsageError(`the token file ${file} is empty`, 'write the token into it (vault print token > file), mode 0600');
  }
  if (token === '') {
    throw new PermissionDeniedError(
      'no Vault token: VAULT_TOKEN is not set and there is no token in ' + file,
      'set VAULT_TOKEN, run `vault login` (it writes ~/.vault-token), or configure AppRole with eos self secrets configure',
    );
  }
  client.token = checkToken(token, file);
  return { source: 'token-file', warnings: await exposure(file, 'token file') };
}

/**
 * A 403 is the token's policy — or the token itself, expired or revoked. Vault refusing even the
 * token's own lookup tells them apart; the second becomes a VaultTokenExpiredError.
 */
export async function explainDenied(client: Pick<VaultClient, 'lookupSelf'>, err: unknown, path?: string): Promise<unknown> {
  if (!(err instanceof VaultPermissionDeniedError) || err instanceof VaultTokenExpiredError) return err;
  try {
    await client.lookupSelf();
    return err;
  } catch (lookupErr) {
    return lookupErr instanceof VaultPermissionDeniedError ? new VaultTokenExpiredError(path ?? err.path, err.errors) : err;
  }
}
