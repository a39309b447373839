import nodeVault from 'node-vault';
import type { VaultSettings } from '../config/vault-settings.js';
import { errorForStatus, VaultError, VaultPermissionDeniedError, VaultSealedError, VaultUnreachableError } from './errors.js';
import {
  healthSchema,
  capabilitiesSchema,
  leaseInfoSchema,
  leaseRenewalSchema,
  listSchema,
  wrappingInfoSchema,
  parseResponse,
  parseSecret,
  VaultResponseError,
  tokenInfoSchema,
  type AuthBlock,
  type DataSchema,
  type HealthInfo,
  type LeaseInfo,
  type LeaseRenewal,
  type SecretResponse,
  type TokenInfo,
} from './responses.js';
import { VaultTransport, type TransportOptions } from './transport.js';

export type { AuthBlock, HealthInfo, LeaseInfo, LeaseRenewal, SecretResponse, TokenInfo } from './responses.js';

/**
 * The project's one way to talk to Vault. Built on node-vault (paths, headers, commands),
 * with eos's own transport underneath (TLS, retries, redirects) and typed errors on top; the
 * rest of eos sees only this interface. Every answer is parsed (responses.ts) before it is
 * returned: what eos reads from Vault has the type it claims.
 */

export interface VaultClient {
  readonly addr: string;
  token: string | undefined;
  health(): Promise<HealthInfo>;
  /** A read; `data` is checked against `dataSchema` when one is given. */
  read<D = Record<string, unknown>>(path: string, dataSchema?: DataSchema<D>): Promise<SecretResponse<D>>;
  /** A read that returns 404 answers instead of throwing (KV v2 soft-deletes carry a body). */
  readAllowingNotFound<D = Record<string, unknown>>(path: string, dataSchema?: DataSchema<D>): Promise<{ status: number; body: SecretResponse<D> | null }>;
  /** Any path's answer as Vault sends it (an envelope, or a body of its own such as sys/health's). */
  readRaw(path: string): Promise<unknown>;
  /** A write; null when Vault answers 204 No Content. */
  write(path: string, body?: Record<string, unknown>): Promise<SecretResponse | null>;
  list(path: string): Promise<string[]>;
  lookupSelf(): Promise<TokenInfo>;
  renewSelf(incrementSeconds?: number): Promise<{ auth: AuthBlock; warnings: string[] | null }>;
  approleLogin(mount: string, roleId: string, secretId: string): Promise<AuthBlock>;
  jwtLogin(mount: string, role: string, jwt: string): Promise<AuthBlock>;
  renewLease(leaseId: string, incrementSeconds: number): Promise<LeaseRenewal>;
  revokeLease(leaseId: string): Promise<void>;
  lookupLease(leaseId: string): Promise<LeaseInfo>;
  /** What the token may do on each path (sys/capabilities-self): e.g. ["read"], or ["deny"]. */
  capabilitiesSelf(paths: string[]): Promise<Record<string, string[]>>;
  /** Where a wrapping token came from (sys/wrapping/lookup), without using it up. */
  lookupWrapping(wrappingToken: string): Promise<{ creation_path: string; creation_ttl: number }>;
  /** The answer a wrapping token holds (sys/wrapping/unwrap, the token as the request's own): once. */
  unwrap(wrappingToken: string): Promise<SecretResponse>;
  close(): void;
}

/** The connection settings the client needs; resolved VaultSettings fit, and tests may give less. */
export type ClientSettings = Pick<VaultSettings, 'address'> & Partial<Pick<VaultSettings, 'namespace' | 'caCert' | 'caPath' | 'clientCert' | 'clientKey' | 'tlsSkipVerify' | 'tlsServerName' | 'timeoutSeconds' | 'maxRetries' | 'disableRedirects'>>;

export interface ClientOptions {
  settings: ClientSettings;
  token?: string | undefined;
  clock?: TransportOptions['clock'];
  random?: TransportOptions['random'];
}

interface ApiResponseErrorLike {
  response?: { statusCode: number; body: unknown };
}

export function createVaultClient(options: ClientOptions): VaultClient {
  const s = options.settings;
  const transport = new VaultTransport({
    tls: { ...s, tlsSkipVerify: s.tlsSkipVerify ?? false },
    timeoutSeconds: s.timeoutSeconds ?? 60,
    maxRetries: s.maxRetries ?? 2,
    disableRedirects: s.disableRedirects ?? false,
    clock: options.clock,
    random: options.random,
  });
  const make = (namespace: string | undefined) => {
    const client = nodeVault({
      endpoint: s.address,
      token: options.token,
      noCustomHTTPVerbs: true,
      'request-promise': transport.asRequestPromise(),
    });
    // node-vault falls back to process.env for these; eos has resolved them already.
    (client as typeof client & { namespace: string }).namespace = namespace ?? '';
    client.token = options.token ?? '';
    return client;
  };
  const main = make(s.namespace);
  // sys/health is sent without the namespace header: OpenBao answers 400 to it otherwise.
  const unscoped = make(undefined);

  async function call<T>(path: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw translate(err, s.address, path);
    }
  }

  /**
   * A renewal or revocation names the lease in the path (`sys/leases/renew/<lease id>`), so a
   * policy can grant it for one role's leases only (`sys/leases/renew/database/creds/<role>/*`,
   * docs/security.md). A token whose policies predate that — an older eos policy, or only
   * Vault's default policy, which grants the bare path — is refused there; it is asked again
   * with the lease in the body, and this client remembers not to try the path form of that
   * action again (a policy may grant one action by path and the other by body).
   */
  // Remembered only once the body form has worked, and forgotten with the token: a 403 from a
  // token that had just expired must not keep a fresh one off the path form.
  const leasePathDenied = new Set<'renew' | 'revoke'>();
  async function leaseCall(action: 'renew' | 'revoke', leaseId: string, body: Record<string, unknown>): Promise<unknown> {
    const bare = `sys/leases/${action}`;
    if (!leasePathDenied.has(action)) {
      try {
        // Each segment encoded: an id is Vault's, but a `?`, `#` or `..` in one must not change the path.
        return await call(bare, () => main.write(`${bare}/${leaseId.split('/').map(encodeURIComponent).join('/')}`, body));
      } catch (err) {
        if (!(err instanceof VaultPermissionDeniedError)) throw err;
      }
      const answer = await call(bare, () => main.write(bare, { ...body, lease_id: leaseId }));
      leasePathDenied.add(action);
      return answer;
    }
    return call(bare, () => main.write(bare, { ...body, lease_id: leaseId }));
  }

  const api: VaultClient = {
    addr: s.address,
    get token() {
      return main.token || undefined;
    },
    set token(value: string | undefined) {
      main.token = value ?? '';
      leasePathDenied.clear();
    },
    async health() {
      // node-vault hands back the body of any sys/health answer (200, 429 standby, 503 sealed…).
      const body: unknown = await call('sys/health', () => unscoped.health());
      if (typeof (body as { sealed?: unknown } | null)?.sealed !== 'boolean') {
        throw new VaultUnreachableError(`${s.address} did not answer like Vault to sys/health`, 'check VAULT_ADDR: it must be the address of a Vault or OpenBao server');
      }
      const health = parseResponse(healthSchema, 'sys/health', body);
      if (health.sealed) throw new VaultSealedError(s.address, []);
      return health;
    },
    read: async (path, dataSchema) => parseSecret(path, await call(path, () => main.read(path)), dataSchema),
    readRaw: (path) => call(path, () => main.read(path)),
    async readAllowingNotFound(path, dataSchema) {
      try {
        return { status: 200, body: parseSecret(path, await main.read(path), dataSchema) };
      } catch (err) {
        const response = (err as ApiResponseErrorLike).response;
        if (response?.statusCode === 404) {
          // A KV v2 soft-delete answers 404 with the version's metadata in a body.
          const body = response.body as { data?: unknown } | null;
          return { status: 404, body: body && typeof body === 'object' && 'data' in body ? parseSecret(path, body, dataSchema) : null };
        }
        throw translate(err, s.address, path);
      }
    },
    async write(path, body = {}) {
      const answer: unknown = await call(path, () => main.write(path, body));
      return answer === undefined || answer === null || answer === '' ? null : parseSecret(path, answer);
    },
    async list(path) {
      const response = parseSecret(path, await call(path, () => main.list(path)), listSchema);
      return response.data?.keys ?? [];
    },
    async lookupSelf() {
      const path = 'auth/token/lookup-self';
      return required(path, parseSecret(path, await call(path, () => main.tokenLookupSelf()), tokenInfoSchema).data);
    },
    async renewSelf(increment) {
      const path = 'auth/token/renew-self';
      const response = parseSecret(path, await call(path, () => main.tokenRenewSelf(increment === undefined ? {} : { increment })));
      return { auth: required(path, response.auth), warnings: response.warnings };
    },
    async approleLogin(mount, roleId, secretId) {
      const path = `auth/${mount}/login`;
      const response = parseSecret(path, await call(path, () => main.approleLogin({ mount_point: mount, role_id: roleId, secret_id: secretId })));
      return loggedIn(path, required(path, response.auth));
    },
    async jwtLogin(mount, role, jwt) {
      const path = `auth/${mount}/login`;
      return loggedIn(path, required(path, parseSecret(path, await call(path, () => main.write(path, { role, jwt }))).auth));
    },
    async renewLease(leaseId, increment) {
      const path = 'sys/leases/renew';
      return parseResponse(leaseRenewalSchema, path, await leaseCall('renew', leaseId, { increment }));
    },
    async revokeLease(leaseId) {
      await leaseCall('revoke', leaseId, {});
    },
    async lookupLease(leaseId) {
      const path = 'sys/leases/lookup';
      return required(path, parseSecret(path, await call(path, () => main.write(path, { lease_id: leaseId })), leaseInfoSchema).data);
    },
    async capabilitiesSelf(paths) {
      const path = 'sys/capabilities-self';
      return required(path, parseSecret(path, await call(path, () => main.write(path, { paths })), capabilitiesSchema).data);
    },
    async lookupWrapping(wrappingToken) {
      const path = 'sys/wrapping/lookup';
      // Unauthenticated, and the wrapping token in the body: asking does not use it up.
      const anonymous = make(s.namespace);
      anonymous.token = '';
      return required(path, parseSecret(path, await call(path, () => anonymous.write(path, { token: wrappingToken })), wrappingInfoSchema).data);
    },
    async unwrap(wrappingToken) {
      const path = 'sys/wrapping/unwrap';
      // Never retried: an unwrap Vault served whose answer was lost on the way (a reset, a
      // proxy's 502) cannot be asked again, and a retry would only hear "not valid".
      const once = new VaultTransport({ tls: { ...s, tlsSkipVerify: s.tlsSkipVerify ?? false }, timeoutSeconds: s.timeoutSeconds ?? 60, maxRetries: 0, disableRedirects: s.disableRedirects ?? false, clock: options.clock, random: options.random });
      try {
        const holder = nodeVault({ endpoint: s.address, token: wrappingToken, noCustomHTTPVerbs: true, 'request-promise': once.asRequestPromise() });
        (holder as typeof holder & { namespace: string }).namespace = s.namespace ?? '';
        holder.token = wrappingToken;
        return parseSecret(path, await call(path, () => holder.write(path, {})));
      } finally {
        once.close();
      }
    },
    close: () => transport.close(),
  };
  return api;
}

/**
 * A login's auth block with a token in it. Vault holds the token back when login MFA applies to
 * the method (the block then has an empty client_token and an mfa_requirement): eos has no one
 * to ask for a second factor, and says so instead of carrying an empty token on.
 */
function loggedIn(path: string, auth: AuthBlock): AuthBlock {
  if (auth.client_token !== '') return auth;
  const mfa = (auth as { mfa_requirement?: unknown }).mfa_requirement;
  throw new VaultPermissionDeniedError(
    path,
    [],
    mfa ? `Vault holds the login at ${path} back for multi-factor authentication (login MFA), which eos cannot answer` : `Vault answered the login at ${path} without a token`,
    mfa ? "exempt this auth method's role from the login MFA enforcement for eos's hosts, or give eos a token (VAULT_TOKEN, a token file)" : 'check the auth method with an admin token (vault read auth/<mount>/role/<role>)',
  );
}

/** A part of the answer the API promises (token data, an auth block) that was missing. */
function required<T>(path: string, value: T | null): T {
  if (value === null) throw new VaultResponseError(path, path.startsWith('auth/') && !path.includes('lookup') ? 'auth: missing' : 'data: missing');
  return value;
}

function translate(err: unknown, addr: string, path: string): unknown {
  if (err instanceof VaultError) return err;
  const response = (err as ApiResponseErrorLike).response;
  if (response && typeof response.statusCode === 'number') return errorForStatus(addr, path, response.statusCode, response.body);
  return err;
}
