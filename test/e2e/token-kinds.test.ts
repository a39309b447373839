import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEos } from '../helpers/cli.js';
import { startVaultFixture, type VaultFixture } from '../helpers/vault-fixture.js';

/**
 * eos with each kind of token a production server hands out (issue 25): the init root token
 * (the dev server's root token answers as one), a periodic token, a batch token, a token with
 * num_uses, an orphan. Each works, or says in one line why it will not last.
 */
describe('eos with every kind of token', () => {
  let fixture: VaultFixture;
  let home: string;
  let env: NodeJS.ProcessEnv;
  const token = async (body: Record<string, unknown>) => ((await fixture.write('auth/token/create', body)) as { auth: { client_token: string } }).auth.client_token;
  const test = async (vaultToken: string) => {
    const r = await runEos(['self', 'secrets', 'test', '--json'], { env: { ...env, VAULT_TOKEN: vaultToken } });
    return { code: r.code, steps: (JSON.parse(r.stdout) as { steps: { id: string; status: string; detail?: string; hint?: string }[] }).steps };
  };

  beforeAll(async () => {
    fixture = await startVaultFixture();
    home = mkdtempSync(path.join(tmpdir(), 'eos-tokens-'));
    const db = new URL(fixture.dbUrl);
    env = { HOME: home, VAULT_ADDR: fixture.addr, EOS_LOG_FILE: path.join(home, 'eos.log'), DELPHI_DB_HOST: db.hostname, DELPHI_DB_PORT: db.port, DELPHI_DB_NAME: fixture.dbName, DELPHI_DB_SSLMODE: 'disable' };
  });
  afterAll(async () => {
    await fixture?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('the root token of operator init (no TTL, no renewable field): test passes, the token never expires', async () => {
    const r = await test(fixture.rootToken);
    expect(r.code).toBe(0);
    expect(r.steps.find((s) => s.id === 'token')).toMatchObject({ status: 'pass', detail: expect.stringMatching(/policies root; no expiry$/) });
  });

  it('a periodic token and an orphan: test passes', async () => {
    for (const body of [{ period: '1h' }, { no_parent: true, ttl: '1h' }]) {
      const r = await test(await token(body));
      expect(r.code, JSON.stringify(body)).toBe(0);
      expect(r.steps.filter((s) => s.status === 'fail')).toEqual([]);
    }
  });

  it('a batch token: test warns that it is never renewed, and env says the lease ends with it', async () => {
    const batch = await token({ type: 'batch', ttl: '20m' });
    const r = await test(batch);
    expect(r.code).toBe(0);
    expect(r.steps.find((s) => s.id === 'token')).toMatchObject({ status: 'warn', detail: expect.stringMatching(/a batch token$/), hint: expect.stringMatching(/never renewed/) });
    const out = await runEos(['self', 'secrets', 'env', '--source', 'dynamic', '--role', 'delphi-readonly'], { env: { ...env, VAULT_TOKEN: batch } });
    expect(out.code).toBe(0);
    expect(out.stderr).toMatch(/^warning: the token expires in \d+ s, before the lease \(3600 s\), and cannot be renewed: Vault will revoke the lease with it/m);
  });

  it('a token with num_uses: test warns that eos spends it itself; spent, it is named as such', async () => {
    const limited = await token({ num_uses: 30, ttl: '1h' });
    const r = await test(limited);
    expect(r.steps.find((s) => s.id === 'token')).toMatchObject({ status: 'warn', detail: expect.stringMatching(/\d+ use\(s\) left$/), hint: expect.stringMatching(/each one a use/) });
    const few = await token({ num_uses: 2, ttl: '1h' });
    const spent = await runEos(['self', 'secrets', 'get', 'database/creds/delphi-readonly'], { env: { ...env, VAULT_TOKEN: few } });
    expect(spent.code).toBe(4);
    expect(spent.stderr).toMatch(/^error: Vault token expired, revoked or used up \(num_uses\)/m);
  });
});
