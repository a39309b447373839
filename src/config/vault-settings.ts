import { MalformedValueError, quoted } from '../errors.js';
import { isLoopbackHost } from '../util/loopback.js';
import { checkToken } from './token-value.js';
import { checkNamespace } from './vault-names.js';
import { parseDurationSeconds } from '../util/duration.js';
import type { Config, VaultAuthConfig } from './schema.js';

/**
 * The Vault connection settings with the Vault CLI's precedence: flags > environment > file >
 * defaults. OpenBao's BAO_* names are read where the VAULT_* name is unset, as bao does the
 * other way round, so either CLI's environment works.
 */

export type Origin = 'flag' | 'env' | 'file' | 'default';

export interface VaultFlags {
  address?: string | undefined;
  token?: string | undefined;
  caCert?: string | undefined;
  caPath?: string | undefined;
  clientCert?: string | undefined;
  clientKey?: string | undefined;
  tlsSkipVerify?: boolean | undefined;
  tlsServerName?: string | undefined;
  namespace?: string | undefined;
}

export interface VaultSettings {
  address: string;
  /** A token given by flag or VAULT_TOKEN; token files and AppRole are read by the client. */
  token: string | undefined;
  auth: VaultAuthConfig;
  caCert: string | undefined;
  caPath: string | undefined;
  clientCert: string | undefined;
  clientKey: string | undefined;
  tlsSkipVerify: boolean;
  tlsServerName: string | undefined;
  namespace: string | undefined;
  timeoutSeconds: number;
  maxRetries: number;
  disableRedirects: boolean;
  /** Where each setting came from, for `status` and `config show`. */
  origins: Record<Exclude<keyof VaultSettings, 'origins'>, Origin>;
}

export const DEFAULT_VAULT_ADDR = 'https://127.0.0.1:8200';
const DEFAULT_TIMEOUT_SECONDS = 60;
const DEFAULT_MAX_RETRIES = 2;

function envValue(env: NodeJS.ProcessEnv, name: string): { name: string; value: string } | undefined {
  for (const candidate of [`VAULT_${name}`, `BAO_${name}`]) {
    const value = env[candidate];
    if (value !== undefined && value !== '') return { name: candidate, value };
  }
  return undefined;
}

/** Go's strconv.ParseBool, which is what the Vault CLI applies to VAULT_SKIP_VERIFY. */
export function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

export function resolveVaultSettings(flags: VaultFlags, env: NodeJS.ProcessEnv, config: Config): VaultSettings {
  const origins = {} as VaultSettings['origins'];

  function pick<T>(key: keyof VaultSettings['origins'], flag: T | undefined, fromEnv: T | undefined, file: T | undefined, fallback: T): T {
    if (flag !== undefined) return (origins[key] = 'flag'), flag;
    if (fromEnv !== undefined) return (origins[key] = 'env'), fromEnv;
    if (file !== undefined) return (origins[key] = 'file'), file;
    origins[key] = 'default';
    return fallback;
  }
  const str = (name: string) => envValue(env, name)?.value;

  const skip = envValue(env, 'SKIP_VERIFY');
  const skipFromEnv = skip === undefined ? undefined : parseGoBool(skip.value);
  if (skip && skipFromEnv === undefined) {
    throw new MalformedValueError(`${skip.name}=${quoted(skip.value)} is not a boolean`, 'use true or false (1/0, t/f are accepted too)');
  }

  const timeoutText = envValue(env, 'CLIENT_TIMEOUT');
  const timeoutFromEnv = timeoutText === undefined ? undefined : parseDurationSeconds(timeoutText.value);
  if (timeoutText && (timeoutFromEnv === undefined || timeoutFromEnv <= 0 || timeoutFromEnv > MAX_CLIENT_TIMEOUT_SECONDS)) {
    throw new MalformedValueError(
      `${timeoutText.name}=${quoted(timeoutText.value)} is not a duration from 1s to ${MAX_CLIENT_TIMEOUT_SECONDS / 60}m`,
      'use seconds or a duration such as 30s or 2m',
    );
  }

  const retriesText = envValue(env, 'MAX_RETRIES');
  const retriesFromEnv = retriesText === undefined ? undefined : Number(retriesText.value);
  if (retriesText && !(/^\d+$/.test(retriesText.value.trim()) && (retriesFromEnv as number) <= MAX_RETRIES)) {
    throw new MalformedValueError(`${retriesText.name}=${quoted(retriesText.value)} is not a whole number from 0 to ${MAX_RETRIES}`, 'use 0 to disable retries, or a small number such as 2');
  }

  const redirects = envValue(env, 'DISABLE_REDIRECTS');
  const disableRedirects = redirects === undefined ? undefined : parseGoBool(redirects.value);
  if (redirects && disableRedirects === undefined) {
    throw new MalformedValueError(`${redirects.name}=${quoted(redirects.value)} is not a boolean`, 'use true or false');
  }

  const file = config.vault;
  const settings: VaultSettings = {
    address: pick('address', flags.address, str('ADDR'), file.address, DEFAULT_VAULT_ADDR).replace(/\/+$/, ''),
    token: pick('token', flags.token, str('TOKEN'), undefined, undefined),
    auth: pick('auth', undefined, undefined, file.auth, { method: 'token' } as VaultAuthConfig),
    caCert: pick('caCert', flags.caCert, str('CACERT'), file.caCert, undefined),
    caPath: pick('caPath', flags.caPath, str('CAPATH'), file.caPath, undefined),
    clientCert: pick('clientCert', flags.clientCert, str('CLIENT_CERT'), file.clientCert, undefined),
    clientKey: pick('clientKey', flags.clientKey, str('CLIENT_KEY'), file.clientKey, undefined),
    tlsSkipVerify: pick('tlsSkipVerify', flags.tlsSkipVerify, skipFromEnv, file.tlsSkipVerify, false),
    tlsServerName: pick('tlsServerName', flags.tlsServerName, str('TLS_SERVER_NAME'), file.tlsServerName, undefined),
    namespace: pick('namespace', flags.namespace, str('NAMESPACE'), file.namespace, undefined),
    timeoutSeconds: pick(
      'timeoutSeconds',
      undefined,
      timeoutFromEnv,
      file.timeout === undefined ? undefined : parseDurationSeconds(file.timeout),
      DEFAULT_TIMEOUT_SECONDS,
    ),
    maxRetries: pick('maxRetries', undefined, retriesFromEnv, file.maxRetries, DEFAULT_MAX_RETRIES),
    disableRedirects: pick('disableRedirects', undefined, disableRedirects, undefined, false),
    origins,
  };

  if ((settings.clientCert === undefined) !== (settings.clientKey === undefined)) {
    throw new MalformedValueError(
      'a client certificate and its key go together: only one of them is set',
      'set both VAULT_CLIENT_CERT and VAULT_CLIENT_KEY (or clientCert and clientKey in the config), or neither',
    );
  }
  if (!isHttpUrl(settings.address)) {
    throw new MalformedValueError(`Vault address ${quoted(settings.address)} is not an http:// or https:// URL`, 'set VAULT_ADDR, e.g. https://vault.example.com:8200');
  }
  // The file's vault.timeout too: 0 would mean no timeout at all to Node, and a renewal could
  // then wait forever on a frozen Vault.
  if (!(settings.timeoutSeconds > 0 && settings.timeoutSeconds <= MAX_CLIENT_TIMEOUT_SECONDS)) {
    throw new MalformedValueError(`the config's vault.timeout (${settings.timeoutSeconds} s) is not from 1s to ${MAX_CLIENT_TIMEOUT_SECONDS / 60}m`, 'e.g. "timeout": "60s"');
  }
  if (settings.token !== undefined) settings.token = checkToken(settings.token, settings.origins.token === 'flag' ? '--token' : (envValue(env, 'TOKEN')?.name ?? 'VAULT_TOKEN'));
  if (settings.namespace !== undefined) checkNamespace(settings.namespace, ORIGIN_NAMES.namespace[settings.origins.namespace]);
  return settings;
}

/** Bounds of the client's settings: a request waits at most an hour; at most 20 retries. */
const MAX_CLIENT_TIMEOUT_SECONDS = 3600;
const MAX_RETRIES = 20;

/** Where a namespace came from, as the user wrote it. */
const ORIGIN_NAMES = { namespace: { flag: '--namespace', env: 'VAULT_NAMESPACE', file: "the config's vault.namespace", default: 'the default' } } as const;

/**
 * An http:// or https:// URL with a host a client can reach: parsed as Node's HTTP client will
 * parse it, no whitespace, a host name of at most 253 characters.
 */
export function isHttpUrl(address: string): boolean {
  if (!/^https?:\/\/[^/\s]+/.test(address) || /\s/.test(address)) return false;
  try {
    const url = new URL(address);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && url.hostname.length <= 253;
  } catch {
    return false;
  }
}

/**
 * Whether an address sends Vault traffic in clear beyond this machine: `http://` to anything but
 * a loopback address or `localhost` (a dev server or an agent on the same host is fine).
 */
export function plaintextOffHost(address: string): boolean {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:') return false;
  // Not `*.localhost`: a resolver may send such a name anywhere.
  return !isLoopbackHost(url.hostname);
}

/** The warning every command that talks to Vault gives for such an address, or undefined. */
export function plainHttpWarning(address: string): string | undefined {
  // An address that is no URL at all is refused where it is resolved, with its own message.
  return isHttpUrl(address) && plaintextOffHost(address) ? `${address} is plain HTTP to another host: the Vault token and every secret cross the network in clear (use https://)` : undefined;
}

/** The warning for a client that checks no certificate. */
export function skipVerifyWarning(address: string): string {
  return `TLS verification of ${address} is OFF (VAULT_SKIP_VERIFY): use it only for a test server`;
}

/** What every command that talks to Vault says about its settings, once, on stderr. */
export function settingsWarnings(settings: Pick<VaultSettings, 'address' | 'tlsSkipVerify'>): string[] {
  const plain = plainHttpWarning(settings.address);
  return [...(settings.tlsSkipVerify ? [skipVerifyWarning(settings.address)] : []), ...(plain ? [plain] : [])];
}
