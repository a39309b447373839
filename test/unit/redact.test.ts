import { describe, expect, it } from 'vitest';
import { REDACTED, redactString } from '../../src/redact.js';

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
