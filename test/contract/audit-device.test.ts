import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVaultDevServer } from '../../src/sandbox/vault-dev-server/server.js';
import { http, REAL_VAULT, unique, type ContractTarget } from './target.js';

/**
 * Vault's `file` audit device (issue 28), as OpenBao has it: declared in the server's
 * configuration — enabling or disabling one through the API is refused —, a request and a
 * response entry per logical request, tokens, accessors and data strings as `hmac-sha256:` of
 * the device's salt (sys/audit-hash gives the same hash), lease ids, paths and addresses in
 * clear. Against OpenBao: EOS_TEST_VAULT_AUDIT_FILE names the file of a device declared at
 * `file/` (`audit "file" "file/" { options = { file_path = "…" } }` in its configuration).
 */
describe('Vault API contract: the file audit device', () => {
  let target: ContractTarget;
  let vault: ReturnType<typeof http>;
  let logFile: string;
  let dir: string | undefined;

  beforeAll(async () => {
    if (REAL_VAULT) {
      logFile = process.env.EOS_TEST_VAULT_AUDIT_FILE ?? '';
      if (!logFile) throw new Error('EOS_TEST_VAULT_AUDIT_FILE is required with EOS_TEST_VAULT_ADDR for the audit device contract tests');
      target = { addr: (process.env.EOS_TEST_VAULT_ADDR as string).replace(/\/+$/, ''), rootToken: process.env.EOS_TEST_VAULT_TOKEN as string, pgUrl: '', devServer: null, stop: async () => undefined };
    } else {
      dir = mkdtempSync(path.join(tmpdir(), 'eos-audit-device-'));
      logFile = path.join(dir, 'audit.log');
      const server = await startVaultDevServer({ audit: [{ path: 'file/', filePath: logFile }] });
      target = { addr: server.addr, rootToken: server.rootToken, pgUrl: '', devServer: server, stop: () => server.stop() };
    }
    vault = http(target);
  });
  afterAll(async () => {
    await target?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const entries = () =>
    readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { type: string; error?: string; auth?: { client_token?: string; accessor?: string; policies?: string[] }; request: { path: string; operation: string; client_token?: string; data?: Record<string, unknown>; remote_address?: string }; response?: { data?: Record<string, unknown>; secret?: { lease_id?: string } } });

  it('lists the declared device and refuses to enable or disable one through the API', async () => {
    const table = await vault('GET', 'sys/audit');
    expect(table.status).toBe(200);
    expect(table.json.data['file/']).toMatchObject({ path: 'file/', type: 'file', local: false, options: { file_path: logFile } });
    expect(table.json['file/']).toEqual(table.json.data['file/']);
    const enable = await vault('PUT', `sys/audit/${unique('other')}`, { type: 'file', options: { file_path: path.join(tmpdir(), 'nope.log') } });
    expect([enable.status, enable.json.errors]).toEqual([400, ['cannot enable audit device via API; use declarative, config-based audit device management instead']]);
    const disable = await vault('DELETE', 'sys/audit/file');
    expect([disable.status, disable.json.errors]).toEqual([400, ['cannot disable configuration-managed audit device']]);
    expect((await vault('DELETE', `sys/audit/${unique('absent')}`)).status).toBe(204);
    const empty = await vault('PUT', 'sys/audit-hash/file', { input: '' });
    expect([empty.status, empty.json.errors]).toEqual([400, ['the "input" parameter is empty']]);
    const unknown = await vault('PUT', 'sys/audit-hash/nothere', { input: 'x' });
    expect([unknown.status, unknown.json.errors]).toEqual([400, ['unknown audit backend "nothere/"']]);
  });

  it('writes a request and a response entry per request, secrets hashed as sys/audit-hash hashes them, and the refusal', async () => {
    const mount = unique('kv-audit');
    expect((await vault('POST', `sys/mounts/${mount}`, { type: 'kv', options: { version: '1' } })).status).toBe(204);
    expect((await vault('POST', `${mount}/item`, { password: 'S3cret-value' })).status).toBe(204);
    const created = await vault('POST', 'auth/token/create', { policies: ['default'], ttl: '10m' });
    const token = created.json.auth.client_token as string;
    const refused = await http(target, token)('GET', `${mount}/item`);
    expect(refused.status).toBe(403);
    const read = await vault('GET', `${mount}/item`);
    expect(read.json.data.password).toBe('S3cret-value');

    const hash = async (input: string) => (await vault('PUT', 'sys/audit-hash/file', { input })).json.data.hash as string;
    const log = entries();
    const forPath = log.filter((e) => e.request.path === `${mount}/item`);
    // Write, refused read, read: each a request and a response entry.
    expect(forPath.map((e) => `${e.type} ${e.request.operation}`)).toEqual(['request create', 'response create', 'request read', 'response read', 'request read', 'response read']);
    const written = forPath[0];
    expect(written?.request.data?.password).toBe(await hash('S3cret-value'));
    const refusedEntry = forPath[3];
    expect(refusedEntry?.error).toMatch(/permission denied/);
    expect(refusedEntry?.auth?.client_token).toBe(await hash(token));
    expect(refusedEntry?.request.client_token).toBe(await hash(token));
    expect(refusedEntry?.request.remote_address).toBe('127.0.0.1');
    const answered = forPath[5];
    expect(answered?.response?.data?.password).toBe(await hash('S3cret-value'));
    // Unwrapping is audited too, the wrapping token hashed like any other.
    const wrapped = await vault('POST', 'sys/wrapping/wrap', { secret: 'W-value' }, { 'X-Vault-Wrap-TTL': '60' });
    const wrappingToken = wrapped.json.wrap_info.token as string;
    expect((await vault('POST', 'sys/wrapping/unwrap', { token: wrappingToken })).status).toBe(200);
    // This unwrap's entries (other tests may unwrap on the same server meanwhile).
    const wrappingHash = await hash(wrappingToken);
    const unwraps = entries().filter((e) => e.request.path === 'sys/wrapping/unwrap' && e.request.data?.token === wrappingHash);
    expect(unwraps.map((e) => e.type)).toEqual(['request', 'response']);
    expect(unwraps[0]?.request.data?.token).toBe(wrappingHash);
    // Nothing secret in clear anywhere in the log.
    const text = readFileSync(logFile, 'utf8');
    expect(text).not.toContain('S3cret-value');
    expect(text).not.toContain(token);
    expect(text).not.toContain(target.rootToken);
    expect(text).not.toContain('W-value');
    expect(text).not.toContain(wrappingToken);
  });
});
