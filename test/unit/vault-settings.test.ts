import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { resolveVaultSettings } from '../../src/config/vault-settings.js';

const fileConfig = configSchema.parse({
  vault: { address: 'https://file:8200', namespace: 'file-ns', caCert: '/file/ca.pem', tlsSkipVerify: false, maxRetries: 5, timeout: '10s' },
});

describe('Vault settings precedence: flags > environment > file > defaults', () => {
  it('takes the flag over the environment over the file', () => {
    const env = { VAULT_ADDR: 'https://env:8200', VAULT_NAMESPACE: 'env-ns' };
    const s = resolveVaultSettings({ address: 'https://flag:8200/' }, env, fileConfig);
    expect(s.address).toBe('https://flag:8200');
    expect(s.origins.address).toBe('flag');
    expect(s.namespace).toBe('env-ns');
    expect(s.origins.namespace).toBe('env');
    expect(s.caCert).toBe('/file/ca.pem');
    expect(s.origins.caCert).toBe('file');
    expect(s.maxRetries).toBe(5);
    expect(s.timeoutSeconds).toBe(10);
  });

  it('falls back to the Vault CLI defaults', () => {
    const s = resolveVaultSettings({}, {}, configSchema.parse({}));
    expect(s).toMatchObject({ address: 'https://127.0.0.1:8200', timeoutSeconds: 60, maxRetries: 2, tlsSkipVerify: false, token: undefined });
    expect(s.origins.address).toBe('default');
  });

  it('reads the environment the Vault CLI reads, and BAO_* where VAULT_* is unset', () => {
    const s = resolveVaultSettings(
      {},
      { VAULT_SKIP_VERIFY: 't', VAULT_CLIENT_TIMEOUT: '2m', VAULT_MAX_RETRIES: '0', BAO_ADDR: 'http://bao:8200', VAULT_TOKEN: 'hvs.x' },
      fileConfig,
    );
    expect(s).toMatchObject({ tlsSkipVerify: true, timeoutSeconds: 120, maxRetries: 0, address: 'http://bao:8200', token: 'hvs.x' });
    expect(resolveVaultSettings({}, { VAULT_ADDR: 'http://v:1', BAO_ADDR: 'http://b:1' }, fileConfig).address).toBe('http://v:1');
  });

  it('rejects malformed variables with the variable named', () => {
    expect(() => resolveVaultSettings({}, { VAULT_SKIP_VERIFY: 'yes please' }, fileConfig)).toThrow('VAULT_SKIP_VERIFY="yes please" is not a boolean');
    expect(() => resolveVaultSettings({}, { VAULT_MAX_RETRIES: '-1' }, fileConfig)).toThrow(/VAULT_MAX_RETRIES/);
    expect(() => resolveVaultSettings({}, { VAULT_CLIENT_TIMEOUT: 'later' }, fileConfig)).toThrow(/VAULT_CLIENT_TIMEOUT/);
    expect(() => resolveVaultSettings({}, { VAULT_ADDR: 'vault:8200' }, fileConfig)).toThrow(/not an http/);
  });

  it('requires a client certificate and key together', () => {
    expect(() => resolveVaultSettings({}, { VAULT_CLIENT_CERT: '/c.pem' }, fileConfig)).toThrow(/go together/);
    const both = resolveVaultSettings({}, { VAULT_CLIENT_CERT: '/c.pem', VAULT_CLIENT_KEY: '/k.pem' }, fileConfig);
    expect(both).toMatchObject({ clientCert: '/c.pem', clientKey: '/k.pem' });
  });
});

describe('plain HTTP beyond this machine', () => {
  it('is told apart from loopback and TLS', async () => {
    const { plaintextOffHost } = await import('../../src/config/vault-settings.js');
    // A name under .localhost is left to the resolver, which may send it anywhere.
    for (const off of ['http://vault.internal:8200', 'http://10.0.0.5:8200', 'http://0.0.0.0:8200', 'http://[fd00::1]:8200', 'http://vault.localhost']) expect(plaintextOffHost(off), off).toBe(true);
    for (const fine of ['https://vault.internal:8200', 'http://127.0.0.1:8200', 'http://127.1.2.3:8200', 'http://localhost:8200', 'http://[::1]:8200', 'not a url']) expect(plaintextOffHost(fine), fine).toBe(false);
  });
});

describe('values Vault accepts, and bounds a client needs', () => {
  it('takes a namespace with a leading / and a token with spaces around it, as Vault does; refuses a config timeout of 0', async () => {
    const { resolveVaultSettings } = await import('../../src/config/vault-settings.js');
    const { configSchema } = await import('../../src/config/schema.js');
    const ok = resolveVaultSettings({}, { VAULT_NAMESPACE: '/admin', VAULT_TOKEN: '  hvs.abcdef \n' }, configSchema.parse({}));
    expect(ok.token).toBe('hvs.abcdef');
    expect(ok.namespace).toBe('/admin');
    expect(() => resolveVaultSettings({}, {}, configSchema.parse({ vault: { timeout: '0s' } }))).toThrow(/the config's vault\.timeout \(0 s\) is not from 1s to 60m/);
  });
});
