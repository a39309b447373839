import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVaultDevServer, type VaultDevServer } from '../../src/sandbox/vault-dev-server/server.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * AppRole with a wrapped secret-id (issue 26), the trusted-orchestrator pattern: the orchestrator
 * asks Vault for a secret-id wrapped in a single-use token and hands eos only that. configure
 * checks it without using it up; the first login unwraps it (and a re-login in the same process
 * reuses what it unwrapped); nothing is written back, so a second process finds it used — as it
 * would if someone had intercepted it. A wrapping token from anywhere else is refused unopened.
 */
describe('AppRole login with a wrapped secret-id', () => {
  let vault: VaultDevServer;
  let roleId: string;
  const root = async (method: string, p: string, body?: unknown, wrapTtl?: string) => {
    const res = await fetch(`${vault.addr}/v1/${p}`, {
      method,
      headers: { 'X-Vault-Token': vault.rootToken, ...(wrapTtl ? { 'X-Vault-Wrap-TTL': wrapTtl } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return (res.status === 204 ? {} : await res.json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  beforeAll(async () => {
    vault = await startVaultDevServer();
    await root('POST', 'sys/auth/approle', { type: 'approle' });
    await root('POST', 'auth/approle/role/dashboard', { token_policies: ['default'], token_ttl: '10m' });
    roleId = (await root('GET', 'auth/approle/role/dashboard/role-id')).data.role_id;
  });
  afterAll(() => vault?.stop());

  const site = () => {
    const dir = tempDir('eos-wrapped-');
    const env = { HOME: dir, EOS_CONFIG: path.join(dir, 'config.json') };
    const file = path.join(dir, 'secret-id');
    const configure = (extra: string[] = []) =>
      runCli(['self', 'secrets', 'configure', '--addr', vault.addr, '--auth', 'approle', '--role-id', roleId, '--secret-id-file', file, '--yes', ...extra], { env });
    return { env, file, configure };
  };

  it('configure checks it without using it up; the first login unwraps it; a second process finds it used', async () => {
    const { env, file, configure } = site();
    const wrapped = (await root('POST', 'auth/approle/role/dashboard/secret-id', {}, '5m')).wrap_info;
    writeFileSync(file, `${wrapped.token}\n`, { mode: 0o600 });

    // Said outright here (the next test relies on it being found by itself).
    const configured = await configure(['--secret-id-wrapped']);
    expect(configured.code, configured.stderr).toBe(0);
    expect(JSON.parse(readFileSync(env.EOS_CONFIG, 'utf8')).vault.auth).toMatchObject({ method: 'approle', secretIdWrapped: true });
    expect(configured.stdout).toMatch(/the wrapped secret-id is valid \(made by auth\/approle\/role\/dashboard\/secret-id, TTL 300 s\) and is unwrapped at the first login, not now/);
    // Still wrapped, still unused.
    expect((await root('POST', 'sys/wrapping/lookup', { token: wrapped.token })).data.creation_path).toBe('auth/approle/role/dashboard/secret-id');

    const first = await runCli(['self', 'secrets', 'status', '--json'], { env });
    const report = JSON.parse(first.stdout);
    expect(report.token).toMatchObject({ ok: true, source: 'approle' });
    // Neither the wrapping token nor what it held is printed or kept anywhere.
    const secretId = (await root('GET', 'auth/approle/role/dashboard/secret-id?list=true')).data?.keys ?? [];
    for (const text of [first.stdout, first.stderr, configured.stdout, configured.stderr, readFileSync(env.EOS_CONFIG, 'utf8')]) {
      expect(text).not.toContain(wrapped.token);
      for (const accessor of secretId) expect(text).not.toContain(accessor);
    }
    // Never written back: the file holds the (now spent) wrapping token, not the secret-id.
    expect(readFileSync(file, 'utf8').trim()).toBe(wrapped.token);

    const second = await runCli(['self', 'secrets', 'status', '--json'], { env });
    const again = JSON.parse(second.stdout);
    // Vault is fine; the login is what failed, and status says so (exit 4, not 3).
    expect(second.code).toBe(4);
    expect(again.vault.ok).toBe(true);
    expect(again.token.ok).toBe(false);
    expect(again.token.error).toMatch(/the wrapped secret-id in .*secret-id was already unwrapped or has expired/);
    expect(again.token.hint).toMatch(/someone else may have/);
  });

  it('an unwrap whose answer is lost on the way is not retried, not blamed on someone else, and the delivery still serves', async () => {
    const { env, file, configure } = site();
    const wrapped = (await root('POST', 'auth/approle/role/dashboard/secret-id', {}, '5m')).wrap_info;
    writeFileSync(file, wrapped.token, { mode: 0o600 });
    expect((await configure()).code).toBe(0);
    // The connection carrying the unwrap is cut before Vault answers (a proxy dies, a reset).
    await fetch(`${vault.addr}/__dev/drop`, { method: 'POST', headers: { 'X-Vault-Token': vault.rootToken }, body: JSON.stringify({ path: 'sys/wrapping/unwrap', count: 1 }) });
    const lost = await runCli(['self', 'secrets', 'status', '--json'], { env });
    expect(lost.code).toBe(3);
    const report = JSON.parse(lost.stdout);
    expect(report.token.error).toMatch(/unreachable|connection/i);
    expect(report.token.error).not.toMatch(/already unwrapped/);
    // Sent once only: the wrapping token was never served, so the next start still logs in.
    expect((await root('POST', 'sys/wrapping/lookup', { token: wrapped.token })).data.creation_path).toBe('auth/approle/role/dashboard/secret-id');
    const next = await runCli(['self', 'secrets', 'status', '--json'], { env });
    expect(JSON.parse(next.stdout).token).toMatchObject({ ok: true, source: 'approle' });
  });

  it('says a plain secret-id where a wrapped one was configured is no wrapping token, and warns of a file others may read', async () => {
    const { file, configure } = site();
    writeFileSync(file, '0b1c7b5e-3c2f-4a8e-9d6b-1f2e3d4c5b6a', { mode: 0o600 });
    const plain = await configure(['--secret-id-wrapped']);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/^error: the secret-id file .*secret-id holds no wrapping token \(a wrapped secret-id was configured\)$/m);
    const wrapped = (await root('POST', 'auth/approle/role/dashboard/secret-id', {}, '5m')).wrap_info;
    writeFileSync(file, wrapped.token, { mode: 0o644 });
    chmodSync(file, 0o644);
    const open = await configure();
    expect(open.code, open.stderr).toBe(0);
    expect(open.stderr).toMatch(/AppRole secret-id file .*secret-id is mode 0644: others on this machine may read it/);
  });

  it('refuses, unopened, a wrapping token made anywhere but the secret-id endpoint', async () => {
    const { file, configure, env } = site();
    const elsewhere = (await root('POST', 'sys/wrapping/wrap', { secret_id: 'planted' }, '5m')).wrap_info;
    writeFileSync(file, elsewhere.token, { mode: 0o600 });
    const configured = await configure();
    expect(configured.code).toBe(4);
    expect(configured.stderr).toMatch(/^error: the wrapping token in .*secret-id was made by sys\/wrapping\/wrap, not by a secret-id of auth\/approle\//m);
    // Saved anyway (--force), the login refuses it the same way, still unopened.
    expect((await configure(['--force'])).code).toBe(0);
    const login = await runCli(['self', 'secrets', 'status', '--json'], { env });
    expect(JSON.parse(login.stdout).token.error).toMatch(/^the wrapping token in .*secret-id was made by sys\/wrapping\/wrap, not by a secret-id of auth\/approle\/: refused unopened$/);
    // Unopened: it can still be unwrapped by whoever it was meant for.
    expect((await root('POST', 'sys/wrapping/lookup', { token: elsewhere.token })).data.creation_path).toBe('sys/wrapping/wrap');
    for (const text of [configured.stdout, configured.stderr, login.stdout, login.stderr]) expect(text).not.toContain(elsewhere.token);
  });
});
