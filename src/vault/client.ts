import nodeVault from 'node-vault';
import type { VaultSettings } from '../config/vault-settings.js';
import { errorForStatus, VaultError, VaultSealedError, VaultUnreachableError } from './errors.js';
import { VaultTransport, type TransportOptions } from './transport.js';

/**
 * The project's one way to talk to Vault. Built on node-vault (paths, headers, commands),
 * with eos's own transport underneath (TLS, retries, redirects) and typed errors on top; the
 * rest of eos sees only this interface.
 */

export interface SecretResponse<T = Record<string, unknown>> {
  request_id?: string;
  lease_id: string;
  renewable: boolean;
  lease_duration: number;
  data: T | null;
  warnings: string[] | null;
  auth: AuthBlock | null;
}

export interface AuthBlock {
  client_token: string;
  accessor: string;
  policies: string[];
  token_policies?: string[];
  metadata: Record<string, string> | null;
  lease_duration: number;
  renewable: boolean;
}

export interface TokenInfo {
  accessor: string;
  display_name: string;
  policies: string[];
  ttl: number;
  creation_ttl: number;
  expire_time: string | null;
  explicit_max_ttl: number;
  renewable: boolean;
  path: string;
  meta: Record<string, string> | null;
}

export interface HealthInfo {
  initialized: boolean;
  sealed: boolean;
  standby: boolean;
  version: string;
  cluster_name?: string;
}

export interface LeaseRenewal {
  lease_id: string;
  renewable: boolean;
  lease_duration: number;
  warnings: string[] | null;
}

export interface LeaseInfo {
  id: string;
  issue_time: string;
  expire_time: string;
  last_renewal: string | null;
  renewable: boolean;
  ttl: number;
}

export interface VaultClient {
  readonly addr: string;
  token: string | undefined;
  health(): Promise<HealthInfo>;
  read<T = Record<string, unknown>>(path: string): Promise<SecretResponse<T>>;
  /** A read that returns 404 answers instead of throwing (KV v2 soft-deletes carry a body). */
  readAllowingNotFound<T = Record<string, unknown>>(path: string): Promise<{ status: number; body: SecretResponse<T> | null }>;
  write<T = Record<string, unknown>>(path: string, body?: Record<string, unknown>): Promise<SecretResponse<T> | null>;
  list(path: string): Promise<string[]>;
  delete(path: string): Promise<void>;
  lookupSelf(): Promise<TokenInfo>;
  renewSelf(incrementSeconds?: number): Promise<{ auth: AuthBlock; warnings: string[] | null }>;
  approleLogin(mount: string, roleId: string, secretId: string): Promise<AuthBlock>;
  renewLease(leaseId: string, incrementSeconds: number): Promise<LeaseRenewal>;
  revokeLease(leaseId: string): Promise<void>;
  lookupLease(leaseId: string): Promise<LeaseInfo>;
  close(): void;
}

/** The connection settings the client needs; resolved VaultSettings fit, and tests may give less. */
export type ClientSettings = Pick<VaultSettings, 'address'> & Partial<Pick<VaultSettings, 'namespace' | 'caCert' | 'caPath' | 'clientCert' | 'clientKey' | 'tlsSkipVerify' | 'tlsServerName' | 'timeoutSeconds' | 'maxRetries' | 'disableRedirects'>>;

export interface ClientOptions {
  settings: ClientSettings;
  token?: string | undefined;
  sleep?: TransportOptions['sleep'];
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
    sleep: options.sleep,
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

  const api: VaultClient = {
    addr: s.address,
    get token() {
      return main.token || undefined;
    },
    set token(value: string | undefined) {
      main.token = value ?? '';
    },
    async health() {
      // node-vault hands back the body of any sys/health answer (200, 429 standby, 503 sealed…).
      const body = (await call('sys/health', () => unscoped.health())) as HealthInfo & { errors?: string[] };
      if (body === undefined || body === null || typeof body.sealed !== 'boolean') {
        throw new VaultUnreachableError(`${s.address} did not answer like Vault to sys/health`, 'check VAULT_ADDR: it must be the address of a Vault or OpenBao server');
      }
      if (body.sealed) throw new VaultSealedError(s.address, []);
      return body;
    },
    read: (path) => call(path, () => main.read(path)),
    async readAllowingNotFound<T>(path: string) {
      try {
        return { status: 200, body: (await main.read(path)) as SecretResponse<T> };
      } catch (err) {
        const response = (err as ApiResponseErrorLike).response;
        if (response?.statusCode === 404) {
          const body = response.body as SecretResponse<T> & { errors?: string[] };
          return { status: 404, body: body && 'data' in body ? body : null };
        }
        throw translate(err, s.address, path);
      }
    },
    write: async (path, body = {}) => ((await call(path, () => main.write(path, body))) ?? null) as never,
    async list(path) {
      const response = (await call(path, () => main.list(path))) as SecretResponse<{ keys: string[] }>;
      return response?.data?.keys ?? [];
    },
    async delete(path) {
      await call(path, () => main.delete(path));
    },
    async lookupSelf() {
      const response = (await call('auth/token/lookup-self', () => main.tokenLookupSelf())) as SecretResponse<TokenInfo>;
      return response.data as TokenInfo;
    },
    async renewSelf(increment) {
      const args = increment === undefined ? {} : { increment };
      const response = (await call('auth/token/renew-self', () => main.tokenRenewSelf(args))) as SecretResponse;
      return { auth: response.auth as AuthBlock, warnings: response.warnings };
    },
    async approleLogin(mount, roleId, secretId) {
      const response = (await call(`auth/${mount}/login`, () => main.approleLogin({ mount_point: mount, role_id: roleId, secret_id: secretId }))) as SecretResponse;
      return response.auth as AuthBlock;
    },
    async renewLease(leaseId, increment) {
      return (await call('sys/leases/renew', () => main.write('sys/leases/renew', { lease_id: leaseId, increment }))) as LeaseRenewal;
    },
    async revokeLease(leaseId) {
      await call('sys/leases/revoke', () => main.write('sys/leases/revoke', { lease_id: leaseId }));
    },
    async lookupLease(leaseId) {
      const response = (await call('sys/leases/lookup', () => main.write('sys/leases/lookup', { lease_id: leaseId }))) as SecretResponse<LeaseInfo>;
      return response.data as LeaseInfo;
    },
    close: () => transport.close(),
  };
  return api;
}

function translate(err: unknown, addr: string, path: string): unknown {
  if (err instanceof VaultError) return err;
  const response = (err as ApiResponseErrorLike).response;
  if (response && typeof response.statusCode === 'number') return errorForStatus(addr, path, response.statusCode, response.body);
  return err;
}
