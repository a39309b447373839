import { defaultsReachable } from '../../src/credentials/sources.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { NoCredentialsError } from '../../src/credentials/chain.js';
import { buildChain } from '../../src/credentials/build-chain.js';
import { resolveDatabaseTarget } from '../../src/db/target.js';
import { startVaultFixture, type VaultFixture } from '../helpers/vault-fixture.js';

describe('the credential chain', () => {
  let vault: VaultFixture;
  beforeAll(async () => {
    vault = await startVaultFixture();
    for (const [k, v] of Object.entries({ host: 'kv-host', port: '6543', name: 'kvdb', username: 'kv_user', password: 'kv-Secret-1' })) {
      await vault.write(`secret/data/delphi/database/${k}`, { data: { value: v } });
    }
    for (const [k, v] of Object.entries({ host: '10.1.2.3', port: '5433', database: 'delphi_kv' })) {
      await vault.write(`secret/data/delphi/config/${k}`, { data: { value: v } });
    }
  });
  afterAll(() => vault?.stop());

  const config = (sources?: string[]) => configSchema.parse({ credentials: sources ? { sources } : {}, database: { host: 'file-host' } });
  const up = () => ({ VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.rootToken });
  const down = { VAULT_ADDR: 'http://127.0.0.1:1', VAULT_TOKEN: 'x', VAULT_MAX_RETRIES: '0' };

  it('takes dynamic credentials first, at the database Vault KV names', async () => {
    const { chain } = buildChain({ config: config(), env: up() });
    const { credentials, attempts } = await chain.resolve();
    expect(credentials).toMatchObject({ source: 'dynamic', host: '10.1.2.3', port: 5433, database: 'delphi_kv' });
    expect(credentials.lease?.id).toMatch(/^database\/creds\/delphi-readonly\//);
    expect(attempts).toEqual([expect.objectContaining({ source: 'dynamic', ok: true })]);
    await fetch(`${vault.addr}/v1/sys/leases/revoke`, { method: 'PUT', headers: { 'X-Vault-Token': vault.rootToken }, body: JSON.stringify({ lease_id: credentials.lease?.id }) });
  });

  it('reads static credentials in the Eos KV layout', async () => {
    const { chain } = buildChain({ config: config(['kv']), env: up() });
    const { credentials } = await chain.resolve();
    expect(credentials).toMatchObject({ source: 'kv', host: 'kv-host', port: 6543, database: 'kvdb', user: 'kv_user', password: 'kv-Secret-1' });
  });

  it('falls to the environment when Vault is unreachable, recording why each source failed', async () => {
    const { chain } = buildChain({ config: config(), env: { ...down, PG_DSN: 'postgresql://dsn_user:dsn%20pw@db.example:5434/delphi?sslmode=require' } });
    const { credentials, attempts } = await chain.resolve();
    expect(credentials).toMatchObject({ source: 'env', user: 'dsn_user', password: 'dsn pw', host: 'db.example', port: 5434, sslmode: 'require' });
    expect(attempts.map((a) => [a.source, a.ok])).toEqual([['dynamic', false], ['kv', false], ['env', true]]);
    expect(attempts[0]?.reason).toMatch(/unreachable: ECONNREFUSED/);
  });

  it('uses DELPHI_DB_* when there is no PG_DSN, and defaults last with a loud warning', async () => {
    const env = buildChain({ config: config(['env']), env: { DELPHI_DB_USER: 'u', DELPHI_DB_PASSWORD: 'p', DELPHI_DB_HOST: 'h', DELPHI_DB_PORT: '5999' } });
    expect((await env.chain.resolve()).credentials).toMatchObject({ source: 'env', user: 'u', host: 'h', port: 5999, database: 'delphi' });
    const warnings: string[] = [];
    const defaults = buildChain({ config: config(['env', 'defaults']), env: { DELPHI_DB_HOST: 'localhost' }, warn: (w) => warnings.push(w) });
    const { credentials, attempts } = await defaults.chain.resolve();
    expect(credentials).toMatchObject({ source: 'defaults', user: 'delphi', host: 'localhost' });
    expect(attempts[0]?.reason).toBe('neither PG_DSN nor DELPHI_DB_USER and DELPHI_DB_PASSWORD are set');
    expect(warnings[0]).toMatch(/USING THE BUILT-IN DEVELOPMENT CREDENTIALS delphi\/delphi on localhost:5432/);
  });

  it('reads a PG_DSN that lists several hosts (what exec hands a worker on a site with a standby)', async () => {
    const { chain } = buildChain({ config: config(['env']), env: { ...down, PG_DSN: 'postgresql://w:p%40ss@db1:5432,db2:5433/delphi?sslmode=verify-full&target_session_attrs=read-write' } });
    const { credentials } = await chain.resolve();
    expect(credentials).toMatchObject({ source: 'env', user: 'w', password: 'p@ss', host: 'db1', port: 5432, sslmode: 'verify-full', targetSessionAttrs: 'read-write', hosts: [{ host: 'db1', port: 5432 }, { host: 'db2', port: 5433 }] });
    // As libpq: no target_session_attrs in the URL takes PGTARGETSESSIONATTRS; an empty port is 5432.
    const plain = buildChain({ config: config(['env']), env: { ...down, PGTARGETSESSIONATTRS: 'primary', PG_DSN: 'postgresql://w:p@db1:,db2:5433/delphi' } });
    expect((await plain.chain.resolve()).credentials).toMatchObject({ targetSessionAttrs: 'primary', hosts: [{ host: 'db1', port: 5432 }, { host: 'db2', port: 5433 }] });
    const bad = buildChain({ config: config(['env']), env: { ...down, PG_DSN: 'postgresql://w:p@db1:5432,db;2:5433/delphi?target_session_attrs=master' } });
    expect(((await bad.chain.resolve().catch((e: unknown) => e)) as Error).message).toMatch(/PG_DSN lists hosts, ports or a target_session_attrs eos cannot read/);
  });

  it('never gives the built-in development login to a list with a host elsewhere (a standby it would fail over to)', async () => {
    const mixed = buildChain({ config: config(['defaults']), env: { DELPHI_DB_HOST: '127.0.0.1,10.0.0.6' }, warn: () => undefined });
    const err = (await mixed.chain.resolve().catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/only tried on this machine's PostgreSQL; the target is 127\.0\.0\.1:5432,10\.0\.0\.6:5432/);
  });

  it('never sends the built-in development login to a database on another host: the target is the configured one, and only a loopback one gets it', async () => {
    const warnings: string[] = [];
    const remote = buildChain({ config: config(['env', 'defaults']), env: {}, warn: (w) => warnings.push(w) });
    const err = (await remote.chain.resolve().catch((e: unknown) => e)) as NoCredentialsError;
    expect(err).toBeInstanceOf(NoCredentialsError);
    expect(err.message).toMatch(/defaults: the built-in development credentials are only tried on this machine's PostgreSQL; the target is file-host:5432/);
    expect(warnings).toEqual([]);
    // Loopback, the configured port and database are used, not a fixed localhost:5432/delphi.
    const local = buildChain({ config: config(['defaults']), env: { DELPHI_DB_HOST: '127.0.0.1', DELPHI_DB_PORT: '6543', DELPHI_DB_NAME: 'pipeline' }, warn: () => undefined });
    expect((await local.chain.resolve()).credentials).toMatchObject({ source: 'defaults', host: '127.0.0.1', port: 6543, database: 'pipeline' });
  });

  it('fails closed when restricted to dynamic and Vault is down: exit 3, the reason, no fallback', async () => {
    const { chain } = buildChain({ config: config(['dynamic']), env: { ...down, PG_DSN: 'postgresql://a:b@c/d' } });
    const err = (await chain.resolve().catch((e: unknown) => e)) as NoCredentialsError;
    expect(err).toBeInstanceOf(NoCredentialsError);
    expect(err.exitCode).toBe(3);
    expect(err.message).toMatch(/^dynamic: Vault unreachable: Vault at http:\/\/127\.0\.0\.1:1 is unreachable/);
    expect(err.hint).toMatch(/allowed sources, in order: dynamic/);
  });

  it('falls back past a secret-id file that is missing right now (a state, not a malformed value), and stops on a malformed token', async () => {
    const approle = configSchema.parse({ vault: { address: 'http://127.0.0.1:1', auth: { method: 'approle', roleId: 'r', secretIdFile: '/nonexistent/secret-id' } }, credentials: { sources: ['dynamic', 'env'] } });
    const fallback = buildChain({ config: approle, env: { PG_DSN: 'postgresql://u:p@db.internal/delphi' } });
    expect((await fallback.chain.resolve()).credentials).toMatchObject({ source: 'env', host: 'db.internal' });
    const malformed = buildChain({ config: config(['dynamic', 'env']), env: { ...down, VAULT_TOKEN: 'hvs.a\nb', PG_DSN: 'postgresql://u:p@db.internal/delphi' } });
    await expect(malformed.chain.resolve()).rejects.toThrow(/^the Vault token from VAULT_TOKEN holds a line break/);
  });

  it('resolves the database target: flags > DELPHI_DB_* > Vault KV > file > defaults', () => {
    const file = configSchema.parse({ database: { host: 'file', port: 1111, name: 'filedb' } });
    const kv = { host: 'kv', port: '2222', database: 'kvdb', sslmode: 'require' };
    const t = resolveDatabaseTarget({ host: 'flag' }, { DELPHI_DB_PORT: '3333' }, kv, file);
    expect(t).toMatchObject({ host: 'flag', port: 3333, database: 'kvdb', sslmode: 'require' });
    expect(t.origins).toEqual({ host: 'flag', port: 'env', database: 'vault-kv', sslmode: 'vault-kv' });
    const d = resolveDatabaseTarget({}, {}, {}, configSchema.parse({}));
    expect(d).toMatchObject({ host: 'localhost', port: 5432, database: 'delphi', sslmode: 'prefer' });
    expect(() => resolveDatabaseTarget({}, { DELPHI_DB_PORT: 'x' }, {}, file)).toThrow(/port "x" \(from DELPHI_DB_PORT\)/);
  });
});

describe('the defaults source, as status and test check it', () => {
  it('is available only where a server accepts connections, and never logs in to find out', async () => {
    const { createServer } = await import('node:net');
    let connections = 0;
    let bytes = 0;
    const server = createServer((socket) => {
      connections += 1;
      socket.on('data', (d) => (bytes += d.length));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const open = await defaultsReachable({ host: '127.0.0.1', port });
      expect(open).toEqual({ reachable: true, reason: expect.stringMatching(/accepts connections at 127\.0\.0\.1:\d+; .*not tried/) });
      await expect.poll(() => connections).toBe(1);
      expect(bytes).toBe(0); // no startup packet: no login attempt
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    const closed = await defaultsReachable({ host: '127.0.0.1', port });
    expect(closed).toEqual({ reachable: false, reason: expect.stringMatching(/nothing accepts connections at 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/) });
  });
});
