import type { Config } from '../config/schema.js';
import { resolveVaultSettings, settingsWarnings, type VaultFlags, type VaultSettings } from '../config/vault-settings.js';
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
  for (const warning of settingsWarnings(settings)) options.warn?.(warning);
  const client = createVaultClient({ settings });
  try {
    const auth = await authenticate(client, settings, options.home, options.env);
    for (const warning of auth.warnings ?? []) options.warn?.(warning);
    return { client, settings, auth };
  } catch (err) {
    client.close();
    throw err;
  }
}

