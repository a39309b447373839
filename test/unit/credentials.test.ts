import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { makeThrowawayCa } from '../../src/sandbox/throwaway-ca.js';
import { loadConfig } from '../../src/config/load.js';
import { checkKeyFileMode, dbCredentials, describeCredentials, toDsn, toPgConfig } from '../../src/db/credentials.js';
import { resolveDatabaseTarget } from '../../src/db/target.js';

describe('database credentials', () => {
  const c = dbCredentials({ host: 'db', port: 5432, database: 'delphi', sslmode: 'require', user: 'v-reader', password: 'S3cret-pw', source: 'dynamic' });

  it('keep the password out of JSON, spreads and key lists', () => {
    expect(JSON.stringify(c)).not.toContain('S3cret-pw');
    expect(Object.keys(c)).not.toContain('password');
    expect({ ...c }).not.toHaveProperty('password');
    expect(describeCredentials(c)).not.toContain('S3cret-pw');
  });

  it('still hand the password to whoever asks for it by name', () => {
    expect(c.password).toBe('S3cret-pw');
    expect(toPgConfig(c).password).toBe('S3cret-pw');
    expect(toDsn(c)).toBe('postgresql://v-reader:S3cret-pw@db:5432/delphi?sslmode=require');
  });
});

describe('a client certificate, as libpq presents it', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'eos-client-cert-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cert = path.join(dir, 'client.pem');
  const key = path.join(dir, 'client.key');
  const otherKey = path.join(dir, 'other.key');
  const base = { host: 'db', port: 5432, database: 'delphi', user: 'u', password: 'p', source: 'env' as const, sslcert: cert, sslkey: key };
  let pair: { certPem: string; keyPem: string };
  beforeAll(async () => {
    const ca = await makeThrowawayCa();
    pair = await ca.issueClient('eos-host');
    writeFileSync(cert, pair.certPem);
    writeFileSync(key, pair.keyPem, { mode: 0o600 });
    writeFileSync(otherKey, (await ca.issueClient('other')).keyPem, { mode: 0o600 });
  });

  it('goes with every TLS connection, and with none without TLS', () => {
    const tls = toPgConfig(dbCredentials({ ...base, sslmode: 'verify-full' })).ssl as { cert: Buffer; key: Buffer };
    expect(tls.cert.toString()).toBe(pair.certPem);
    expect(tls.key.toString()).toBe(pair.keyPem);
    expect((toPgConfig(dbCredentials({ ...base, sslmode: 'require' })).ssl as { cert: Buffer }).cert.toString()).toBe(pair.certPem);
    expect(toPgConfig(dbCredentials({ ...base, sslmode: 'disable' })).ssl).toBe(false);
    const dsn = new URL(toDsn(dbCredentials({ ...base, sslmode: 'verify-full' })));
    expect([dsn.searchParams.get('sslcert'), dsn.searchParams.get('sslkey')]).toEqual([cert, key]);
  });

  it('a certificate file that is not there means none, as in libpq; one that is no regular file, or a pair that does not match, is a clear error', () => {
    expect(toPgConfig(dbCredentials({ ...base, sslcert: path.join(dir, 'absent.pem'), sslmode: 'verify-full' })).ssl).not.toHaveProperty('cert');
    // /dev/zero would be read forever, a FIFO would block: neither is a certificate.
    expect(() => toPgConfig(dbCredentials({ ...base, sslcert: '/dev/zero', sslmode: 'verify-full' }))).toThrow(/^the client certificate \(sslcert\) \/dev\/zero is not a regular file$/);
    expect(() => toPgConfig(dbCredentials({ ...base, sslrootcert: '/dev/zero', sslcert: undefined, sslmode: 'verify-full' }))).toThrow(/^the sslrootcert \/dev\/zero is not a regular file$/);
    const err = (() => {
      try {
        toPgConfig(dbCredentials({ ...base, sslkey: otherKey, sslmode: 'verify-full' }));
      } catch (e) {
        return e as UsageError;
      }
    })();
    expect(err).toBeInstanceOf(UsageError);
    expect(err?.message).toMatch(/cannot be used \(.*key values mismatch\)/);
  });

  it('is refused without its key, and its key is refused when others may read it (libpq\'s rule)', () => {
    expect(() => toPgConfig(dbCredentials({ ...base, sslkey: undefined, sslmode: 'verify-full' }))).toThrow(/has no key \(sslkey\)/);
    chmodSync(key, 0o640);
    try {
      // Group-readable is allowed only for a key root owns.
      if (statSync(key).uid === 0) expect(() => checkKeyFileMode(key)).not.toThrow();
      else expect(() => checkKeyFileMode(key)).toThrow(/may be read by others \(mode 0640\)/);
      chmodSync(key, 0o644);
      expect(() => checkKeyFileMode(key)).toThrow(/may be read by others \(mode 0644\)/);
      expect(() => toPgConfig(dbCredentials({ ...base, sslmode: 'verify-full' }))).toThrow(/may be read by others/);
    } finally {
      chmodSync(key, 0o600);
    }
    expect(() => checkKeyFileMode(path.join(dir, 'missing.key'))).toThrow(/cannot be read: ENOENT/);
  });

  it('a key stored where its path belongs (a PEM block in Vault KV) is refused without being shown', () => {
    const config = loadConfig({ env: { HOME: path.join(dir, 'nohome') } }).config;
    const run = () => resolveDatabaseTarget({}, { HOME: dir }, { sslkey: pair.keyPem }, config);
    expect(run).toThrow(/^sslkey from Vault KV secret\/delphi\/config\/sslkey is not a file path \(it holds a PEM block; not shown\)$/);
    try {
      run();
    } catch (e) {
      expect(String((e as Error).message) + (e as UsageError).hint).not.toContain(pair.keyPem.split('\n')[1] as string);
    }
  });

  it('is found as libpq finds it: the flag, DELPHI_DB_SSLCERT, PGSSLCERT, Vault KV, the config, ~/.postgresql', () => {
    const config = loadConfig({ env: { HOME: path.join(dir, 'nohome') } }).config;
    const resolve = (flags: object, env: NodeJS.ProcessEnv, kv: Record<string, string> = {}) => resolveDatabaseTarget(flags, { HOME: dir, ...env }, kv, config);
    expect(resolve({}, {}).sslcert).toBeUndefined();
    mkdirSync(path.join(dir, '.postgresql'), { recursive: true });
    writeFileSync(path.join(dir, '.postgresql', 'postgresql.crt'), 'CERT');
    expect(resolve({}, {}).sslcert).toBe(path.join(dir, '.postgresql', 'postgresql.crt'));
    expect(resolve({}, {}, { sslcert: '/kv.pem' }).sslcert).toBe('/kv.pem');
    expect(resolve({}, { PGSSLCERT: '/pg.pem' }, { sslcert: '/kv.pem' }).sslcert).toBe('/pg.pem');
    expect(resolve({}, { PGSSLCERT: '/pg.pem', DELPHI_DB_SSLCERT: '/delphi.pem' }).sslcert).toBe('/delphi.pem');
    expect(resolve({ sslcert: '/flag.pem' }, { DELPHI_DB_SSLCERT: '/delphi.pem' }).sslcert).toBe('/flag.pem');
    expect(resolve({}, { PGSSLKEY: '/pg.key' }).sslkey).toBe('/pg.key');
  });
});
