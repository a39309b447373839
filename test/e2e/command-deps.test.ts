import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContextDeps } from '../../src/commands/context.js';
import { openVaultSession } from '../../src/vault/session.js';
import { runEos } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { startVaultFixture, type VaultFixture } from '../helpers/vault-fixture.js';

/**
 * A command takes what it opens from its context, and a test may hand it its own (gh's factory):
 * here, recording ones, to pin what each command opens — and what it must never open.
 */
describe('what a command opens, through its context', () => {
  let vault: VaultFixture;
  beforeAll(async () => {
    vault = await startVaultFixture();
    await vault.write('secret/data/delphi/config/host', { data: { value: 'db.internal' } });
  });
  afterAll(() => vault?.stop());

  function recording() {
    const opened: string[] = [];
    const deps: ContextDeps = {
      openVaultSession: async (options) => {
        opened.push('vault');
        return openVaultSession(options);
      },
      openDatabase: async () => {
        opened.push('database');
        throw new Error('this command must not open the database');
      },
    };
    return { opened, deps };
  }

  const user = () => {
    const home = tempDir();
    return { HOME: home, XDG_STATE_HOME: path.join(home, 'state'), EOS_LOG_FILE: path.join(home, 'eos.log'), VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.rootToken };
  };

  it('config show reads the stored target from Vault KV (and says where each field came from), never opening the database', async () => {
    const { opened, deps } = recording();
    const r = await runEos(['self', 'config', 'show', '--json'], { env: user(), deps });
    expect(r.code).toBe(0);
    expect(opened).toEqual(['vault']);
    // What every command would use, not the file's copy (there is none) or localhost:5432.
    expect(JSON.parse(r.stdout).target).toMatchObject({ host: 'db.internal', origins: { host: 'vault-kv', port: 'default' }, kvRead: true });
    // Fields that are absent (sslrootcert) cost a read each, never a LIST as well.
    const stats = (await (await fetch(`${vault.addr}/__dev/stats`, { headers: { 'X-Vault-Token': vault.rootToken } })).json()) as { byPath: Record<string, number> };
    expect(Object.keys(stats.byPath).filter((p) => p.startsWith('secret/metadata/'))).toEqual([]);
    const text = await runEos(['self', 'config', 'show'], { env: user(), deps: recording().deps });
    expect(text.stdout).toMatch(/^database +db\.internal:5432\/delphi sslmode=prefer \(host from vault-kv, port from default, name from default, sslmode from default\)$/m);
  });

  it('get opens the Vault session it was given, once, and never the database', async () => {
    const { opened, deps } = recording();
    const r = await runEos(['self', 'secrets', 'get', 'secret/delphi/config/host', '--field', 'value', '--reveal'], { env: user(), deps });
    expect(r).toMatchObject({ code: 0, stdout: 'db.internal\n' });
    expect(opened).toEqual(['vault']);
  });

  it('a failure that is neither eos\'s nor PostgreSQL\'s is not taken for the database\'s (a refused connection to Vault is not exit 5)', async () => {
    const r = await runEos(['self', 'secrets', 'get', 'secret/delphi/config/host'], {
      env: user(),
      deps: { openVaultSession: () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })) },
    });
    // Not a PostgreSQL error and no database opened: reported as it is, naming its cause.
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ECONNREFUSED 127\.0\.0\.1:1/);
  });

  it('warns once when the Vault address is plain HTTP to another host, and not for loopback', async () => {
    const env = user();
    const local = await runEos(['self', 'secrets', 'get', 'secret/delphi/config/host'], { env });
    expect(local.code).toBe(0);
    expect(local.stderr).not.toMatch(/plain HTTP/);
    // 0.0.0.0 is not a loopback name, yet on Linux a connection to it reaches this machine.
    const remote = await runEos(['self', 'secrets', 'get', 'secret/delphi/config/host'], { env: { ...env, VAULT_ADDR: vault.addr.replace('127.0.0.1', '0.0.0.0') } });
    expect(remote.code, remote.stderr).toBe(0);
    expect(remote.stderr.match(/plain HTTP to another host/g)).toHaveLength(1);
    expect(remote.stderr).toMatch(/^warning: http:\/\/0\.0\.0\.0:\d+ is plain HTTP to another host: the Vault token and every secret cross the network in clear \(use https:\/\/\)$/m);

    // configure, which proves the address before it saves it, says so too.
    const configured = await runEos(['self', 'secrets', 'configure', '--addr', vault.addr.replace('127.0.0.1', '0.0.0.0'), '--yes'], { env });
    expect(configured.code, configured.stderr).toBe(0);
    expect(configured.stderr.match(/plain HTTP to another host/g)).toHaveLength(1);

    // status, which talks to Vault on its own client, says both what a session says.
    const status = await runEos(['self', 'secrets', 'status', '--json'], { env: { ...env, VAULT_ADDR: vault.addr.replace('127.0.0.1', '0.0.0.0'), VAULT_SKIP_VERIFY: 'true' } });
    expect(status.stderr.match(/plain HTTP to another host/g)).toHaveLength(1);
    expect(status.stderr).toMatch(/^warning: TLS verification of .* is OFF \(VAULT_SKIP_VERIFY\)/m);
  });

  it('a database host from KV that is not a host name is refused where it is read, naming where it came from', async () => {
    const hostile = "db.internal'; DROP ROLE x; --";
    await vault.write('secret/data/delphi/config/host', { data: { value: hostile } });
    try {
      const env = user();
      const status = await runEos(['self', 'secrets', 'status', '--json'], { env });
      const report = JSON.parse(status.stdout) as { database: unknown; databaseError?: string };
      expect(report.database).toBeNull();
      expect(report.databaseError).toBe(`database host "${hostile}" (from Vault KV secret/delphi/config/host) is not a host name or an IP address`);
      const text = await runEos(['self', 'secrets', 'status'], { env });
      expect(text.stdout).toMatch(/^database +✗ database host .* \(from Vault KV secret\/delphi\/config\/host\) is not a host name or an IP address$/m);
      // A command that would connect stops there, exit 2, naming the value and where it came from.
      const env2 = await runEos(['self', 'secrets', 'env', '--source', 'env'], { env: { ...env, DELPHI_DB_USER: 'u', DELPHI_DB_PASSWORD: 'p' } });
      expect(env2.code).toBe(2);
      expect(env2.stderr).toMatch(/^error: .*database host .* \(from Vault KV secret\/delphi\/config\/host\) is not a host name or an IP address/m);
    } finally {
      await vault.write('secret/data/delphi/config/host', { data: { value: 'db.internal' } });
    }
  });
});
