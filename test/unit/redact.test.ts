import { describe, expect, it } from 'vitest';
import { MASK, maskExceptMetadata, REDACTED, redactString } from '../../src/redact.js';

/** Secrets inside free text — an error message, a log line — in the forms they really take. */
describe('redactString', () => {
  it.each([
    ['a libpq string', "host=db password='s3cr et' user=u", 's3cr et'],
    ['PGPASSWORD as a shell sets it', 'env: PGPASSWORD=Pg-pass-123 psql', 'Pg-pass-123'],
    ['the admin password variable', "DELPHI_DB_ADMIN_PASSWORD='Adm1n pw' eos delphi schema apply", 'Adm1n pw'],
    ['an AppRole secret id', 'login failed: role_id=abc secret_id=9f1c-secret-77 (400)', '9f1c-secret-77'],
    ['a token variable', 'VAULT_TOKEN=not-a-hvs-shaped-token-x1 eos', 'not-a-hvs-shaped-token-x1'],
    ['JSON with a password', 'body {"username":"u","password":"Js0n-pw\\"q"}', 'Js0n-pw'],
    ['JSON with a secret id', '{"role_id": "r", "secret_id": "sid-4242"}', 'sid-4242'],
    ['a URL password with an @ in it', 'connect postgresql://u:p@ss-w0rd@db.internal:5432/delphi failed', 'ss-w0rd'],
    ['a URL password in a query string', 'dsn=postgresql://u:Qs-pass-9@db/delphi?sslmode=require&password=Also-9', 'Also-9'],
    ['a PEM private key where a path belonged', 'sslkey -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq-KeyBody\n-----END PRIVATE KEY----- is not a file', 'MIIEvQIBADANBgkq-KeyBody'],
    ['an RSA key cut short', 'value: -----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQ-Cut', 'MIIEpAIBAAKCAQ-Cut'],
  ])('%s', (_what, text, secret) => {
    const out = redactString(text);
    expect(out).not.toContain(secret);
    expect(out).toContain(REDACTED);
  });

  it('leaves what is not a secret: a user, a host, a Vault template, a path', () => {
    expect(redactString('postgresql://{{username}}:{{password}}@db:5432/delphi')).toBe('postgresql://{{username}}:{{password}}@db:5432/delphi');
    expect(redactString('connect postgresql://u:pw@db.internal:5432/delphi?sslmode=require')).toBe(`connect postgresql://u:${REDACTED}@db.internal:5432/delphi?sslmode=require`);
    expect(redactString('PGHOST=db.internal PGUSER=v-token-x')).toBe('PGHOST=db.internal PGUSER=v-token-x');
  });
});

/**
 * `get` without --reveal: what eos knows to be metadata in clear, everything else masked. A
 * list of secret-looking names let these through (issue 24, item 4).
 */
describe('maskExceptMetadata', () => {
  it.each([
    ['an AWS engine secret key', { access_key: 'AKIAEXAMPLE', secret_key: 'wJalr-aws-secret' }, 'wJalr-aws-secret'],
    ['an OIDC client secret', { client_id: 'c', client_secret: 'oidc-cl1ent-s3cret' }, 'oidc-cl1ent-s3cret'],
    ['an AWS session token', { security_token: 'FwoGZX-session-tok' }, 'FwoGZX-session-tok'],
    ['a service account token', { service_account_token: 'eyJhb-k8s-sa-token' }, 'eyJhb-k8s-sa-token'],
    ['transit key material', { keys: { 1: 'transit-key-b64==' } }, 'transit-key-b64=='],
    ['a cubbyhole value', { note: 'cubby-plaintext' }, 'cubby-plaintext'],
    ['a number that might be a PIN', { pin: 482913 }, '482913'],
    ['a secret inside an array', { tokens: ['arr-secret-1'] }, 'arr-secret-1'],
    ['a key inside a known field', { connection_details: { connection_url: 'mysql://x', tls_certificate_key: 'pem-private-key' } }, 'pem-private-key'],
    ["a token's metadata", { meta: { note: 'meta-secret-7' } }, 'meta-secret-7'],
    ["a token's accessor", { accessor: 'acc-hmacd-by-audit' }, 'acc-hmacd-by-audit'],
  ])('masks %s', (_what, data, secret) => {
    const out = JSON.stringify(maskExceptMetadata(data));
    expect(out).not.toContain(secret);
    expect(out).toContain(MASK);
  });

  it('shows leases, TTLs, names, policies, versions and times, and a role definition, and still scrubs a URL password in them', () => {
    const data = {
      lease_id: 'database/creds/r/abc',
      lease_duration: 3600,
      renewable: true,
      username: 'v-token-r-xyz',
      password: 'Db-pass-123',
      policies: ['default', 'eos-delphi-reader'],
      created_time: '2026-12-07T00:00:00Z',
      version: 3,
      connection_details: { connection_url: 'postgresql://admin:Real-pw-9@db:5432/delphi', username: 'admin', password: 'Root-pw-1' },
      empty: '',
      flag: false,
    };
    const out = maskExceptMetadata(data) as Record<string, unknown>;
    expect(out).toMatchObject({ lease_id: 'database/creds/r/abc', lease_duration: 3600, renewable: true, username: 'v-token-r-xyz', policies: ['default', 'eos-delphi-reader'], version: 3, empty: '', flag: false });
    expect(out.password).toBe(MASK);
    const connection = out.connection_details as Record<string, string>;
    expect(connection.username).toBe('admin');
    expect(connection.password).toBe(MASK);
    expect(connection.connection_url).not.toContain('Real-pw-9');
    expect(connection.connection_url).toMatch(/^postgresql:\/\/admin:.*@db:5432\/delphi$/);
  });
});
