import type { Config, ConfigInput, VaultAuthConfig } from '../config/schema.js';
import type { CredentialSourceName } from '../config/constants.js';
import { resolveVaultSettings, type VaultSettings } from '../config/vault-settings.js';
import { writeConfigFile, writeFileAtomically } from '../config/write.js';
import { readFile } from 'node:fs/promises';
import { authenticate, checkWrappedSecretId, defaultTokenFile, looksLikeWrappingToken } from '../vault/auth.js';
import { createVaultClient, type HealthInfo, type TokenInfo } from '../vault/client.js';

/**
 * `eos self secrets configure` without its prompts: prove the address and the credentials
 * work, then save. Nothing is written until both checks pass (unless forced).
 */

export interface VaultAnswers {
  address: string;
  auth: VaultAuthConfig;
  /** A token the user gave (stdin or prompt): saved to the Vault CLI's token file, never to the config. */
  token?: string | undefined;
  caCert?: string | undefined;
  namespace?: string | undefined;
  tlsSkipVerify?: boolean | undefined;
  /** The credential sources this host allows, in order (credentials.sources). */
  sources?: CredentialSourceName[] | undefined;
}

export interface VerifiedVault {
  health: HealthInfo;
  /** null when the secret-id is wrapped: logging in would use it up, so configure only looks at it. */
  token: TokenInfo | null;
  wrappedSecretId?: { creationPath: string; ttl: number };
  settings: VaultSettings;
  /** What the login found worth saying (a secret file others may read). */
  warnings: string[];
}

/** sys/health must answer (unsealed) and the credentials must authenticate (lookup-self). */
export async function verifyVault(answers: VaultAnswers, config: Config, env: NodeJS.ProcessEnv, home?: string): Promise<VerifiedVault> {
  const settings = resolveVaultSettings(
    { address: answers.address, token: answers.token, caCert: answers.caCert, namespace: answers.namespace, tlsSkipVerify: answers.tlsSkipVerify },
    // The answers replace what the environment says for the settings asked about.
    { ...env, VAULT_TOKEN: answers.token ?? (answers.auth.method === 'token' ? env.VAULT_TOKEN : undefined) },
    { ...config, vault: { ...config.vault, auth: answers.auth } },
  );
  const client = createVaultClient({ settings: { ...settings, maxRetries: Math.min(settings.maxRetries, 1) } });
  try {
    const health = await client.health();
    const method = settings.auth;
    if (method.method === 'approle' && !settings.token) {
      const text = await readFile(method.secretIdFile, 'utf8').then((t) => t.trim(), () => '');
      if (method.secretIdWrapped || looksLikeWrappingToken(text)) {
        const { warnings, ...wrappedSecretId } = await checkWrappedSecretId(client, method, text);
        return { health, token: null, wrappedSecretId, settings, warnings };
      }
    }
    const auth = await authenticate(client, settings, home, env);
    const token = await client.lookupSelf();
    return { health, token, settings, warnings: auth.warnings ?? [] };
  } finally {
    client.close();
  }
}

/** Merges the answers into the config file (other sections kept) and saves the token file. */
export async function saveConfiguration(file: string, current: ConfigInput, answers: VaultAnswers, home: string): Promise<{ tokenFile?: string }> {
  const vault: NonNullable<ConfigInput['vault']> = { ...(current.vault ?? {}), address: answers.address, auth: answers.auth };
  if (answers.caCert) vault.caCert = answers.caCert;
  else delete vault.caCert;
  if (answers.namespace) vault.namespace = answers.namespace;
  else delete vault.namespace;
  if (answers.tlsSkipVerify) vault.tlsSkipVerify = true;
  else delete vault.tlsSkipVerify;
  const credentials = answers.sources ? { ...(current.credentials ?? {}), sources: answers.sources } : current.credentials;
  await writeConfigFile(file, { ...current, vault, ...(credentials ? { credentials } : {}) });
  if (answers.token) {
    const tokenFile = answers.auth.method === 'token-file' ? answers.auth.path : defaultTokenFile(home);
    await writeFileAtomically(tokenFile, answers.token);
    return { tokenFile };
  }
  return {};
}

/** A 0600 file written whole (temp + rename), as the Vault CLI keeps ~/.vault-token. */
