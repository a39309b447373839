import type { Config } from '../config/schema.js';
import { resolveVaultSettings, type VaultFlags, type VaultSettings } from '../config/vault-settings.js';
import { authenticate, type Authenticated } from './auth.js';
import { createVaultClient, type VaultClient } from './client.js';

/** A Vault client with its resolved settings and an authenticated token. */
export interface VaultSession {
  client: VaultClient;
  settings: VaultSettings;
  auth: Authenticated;
}

export interface SessionOptions {
  config: Config;
  env: NodeJS.ProcessEnv;
  flags?: VaultFlags;
  home?: string;
  /** Called when TLS verification is switched off, so the user is told. */
  warn?: (message: string) => void;
}

export async function openVaultSession(options: SessionOptions): Promise<VaultSession> {
  const settings = resolveVaultSettings(options.flags ?? {}, options.env, options.config);
  if (settings.tlsSkipVerify) options.warn?.(`TLS verification of ${settings.address} is OFF (VAULT_SKIP_VERIFY): use it only for a test server`);
  if (plaintextOffHost(settings.address)) options.warn?.(`${settings.address} is plain HTTP to another host: the Vault token and every secret cross the network in clear (use https://)`);
  const client = createVaultClient({ settings });
  try {
    const auth = await authenticate(client, settings, options.home, options.env);
    return { client, settings, auth };
  } catch (err) {
    client.close();
    throw err;
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
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return !(host === 'localhost' || host.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1');
}
