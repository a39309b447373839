import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contractTarget, http, sleep, unique, type ContractTarget } from './target.js';

/**
 * Response wrapping (issue 26): an answer asked for with X-Vault-Wrap-TTL comes back as
 * wrap_info alone, behind a single-use token that sys/wrapping/unwrap exchanges for it once.
 * The same tests against the dev server and a real OpenBao.
 */
describe('Vault API contract: response wrapping', () => {
  let target: ContractTarget;
  let vault: ReturnType<typeof http>;
  const wrapped = (ttl: string) => ({ 'X-Vault-Wrap-TTL': ttl });

  beforeAll(async () => {
    target = await contractTarget();
    vault = http(target);
  });
  afterAll(() => target?.stop());

  it('wraps a new token: wrap_info only, nothing in clear; unwrapped once, then never again', async () => {
    const r = await vault('POST', 'auth/token/create', { policies: ['default'], ttl: '1h' }, wrapped('60s'));
    expect(r.status).toBe(200);
    expect(r.json.auth).toBeNull();
    expect(r.json.data).toBeNull();
    const info = r.json.wrap_info;
    expect(info).toMatchObject({ ttl: 60, creation_path: 'auth/token/create', token: expect.stringMatching(/^(s|hvs)\./), wrapped_accessor: expect.any(String) });
    expect(r.text).not.toMatch(/client_token/);

    // lookup tells where it came from, with no token of its own, and does not use it up.
    const looked = await http(target, null)('POST', 'sys/wrapping/lookup', { token: info.token });
    expect(looked.json.data).toMatchObject({ creation_path: 'auth/token/create', creation_ttl: 60 });
    const unwrapped = await http(target, info.token)('POST', 'sys/wrapping/unwrap');
    expect(unwrapped.status).toBe(200);
    expect(unwrapped.json.auth.accessor).toBe(info.wrapped_accessor);
    expect((await http(target, unwrapped.json.auth.client_token)('GET', 'auth/token/lookup-self')).status).toBe(200);
    const again = await http(target, info.token)('POST', 'sys/wrapping/unwrap');
    expect(again.status).toBe(400);
    expect(again.json.errors).toEqual(['wrapping token is not valid or does not exist']);
  });

  it('a path that wants no token does not look at a wrapping token, and does not use it up', async () => {
    const info = (await vault('POST', 'sys/wrapping/wrap', { a: 'b' }, wrapped('60s'))).json.wrap_info;
    expect((await http(target, info.token)('GET', 'sys/health')).status).toBe(200);
    expect((await http(target, info.token)('GET', 'sys/seal-status')).status).toBe(200);
    expect((await http(target, info.token)('POST', 'sys/wrapping/unwrap')).json.data).toEqual({ a: 'b' });
  });

  it('a wrapping token opens nothing else, and such a try uses it up (it has one use)', async () => {
    const info = (await vault('POST', 'auth/token/create', { policies: ['default'], ttl: '1h' }, wrapped('60s'))).json.wrap_info;
    const elsewhere = await http(target, info.token)('GET', 'auth/token/lookup-self');
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.json.errors).toEqual(['1 error occurred:\n\t* permission denied\n\n']);
    expect((await http(target, info.token)('POST', 'sys/wrapping/unwrap')).json.errors).toEqual(['wrapping token is not valid or does not exist']);
  });

  it('wraps an AppRole secret-id, which logs in once unwrapped (the trusted orchestrator)', async () => {
    const mount = unique('approle');
    await vault('POST', `sys/auth/${mount}`, { type: 'approle' });
    try {
      await vault('POST', `auth/${mount}/role/app`, { token_policies: ['default'], token_ttl: '10m' });
      const roleId = (await vault('GET', `auth/${mount}/role/app/role-id`)).json.data.role_id;
      const r = await vault('POST', `auth/${mount}/role/app/secret-id`, {}, wrapped('2m'));
      expect(r.json.data).toBeNull();
      expect(r.json.wrap_info).toMatchObject({ creation_path: `auth/${mount}/role/app/secret-id`, ttl: 120 });
      const secret = (await vault('POST', 'sys/wrapping/unwrap', { token: r.json.wrap_info.token })).json.data;
      expect(secret).toMatchObject({ secret_id: expect.any(String), secret_id_accessor: r.json.wrap_info.wrapped_accessor });
      const login = await http(target, null)('POST', `auth/${mount}/login`, { role_id: roleId, secret_id: secret.secret_id });
      expect(login.status).toBe(200);
    } finally {
      await vault('DELETE', `sys/auth/${mount}`);
    }
  });

  it('wraps data of its own only when asked to; rewrap moves it behind a new token', async () => {
    const unasked = await vault('POST', 'sys/wrapping/wrap', { a: 'b' });
    expect(unasked.status).toBe(400);
    expect(unasked.json.errors).toEqual(['endpoint requires response wrapping to be used']);
    const first = (await vault('POST', 'sys/wrapping/wrap', { a: 'b' }, wrapped('5m'))).json.wrap_info;
    expect(first).toMatchObject({ creation_path: 'sys/wrapping/wrap', ttl: 300 });
    expect(first.wrapped_accessor).toBeUndefined();
    const second = (await vault('POST', 'sys/wrapping/rewrap', { token: first.token })).json.wrap_info;
    expect(second.token).not.toBe(first.token);
    expect((await vault('POST', 'sys/wrapping/unwrap', { token: first.token })).status).toBe(400);
    expect((await vault('POST', 'sys/wrapping/unwrap', { token: second.token })).json.data).toEqual({ a: 'b' });
  });

  it('a wrapping token ends with its TTL; a bad header and an empty token are refused', async () => {
    const short = (await vault('POST', 'sys/wrapping/wrap', { a: 'b' }, wrapped('1s'))).json.wrap_info;
    await sleep(2500);
    expect((await vault('POST', 'sys/wrapping/unwrap', { token: short.token })).json.errors).toEqual(['wrapping token is not valid or does not exist']);
    const bad = await vault('POST', 'sys/wrapping/wrap', { a: 'b' }, wrapped('abc'));
    expect(bad.status).toBe(400);
    expect(bad.json.errors).toEqual(['error parsing X-Vault-Wrap-TTL header: time: invalid duration "abc"']);
    const empty = await http(target, null)('POST', 'sys/wrapping/unwrap');
    expect(empty.status).toBe(403);
    expect(empty.json.errors).toEqual(['error validating wrapping token: token is empty']);
    // A TTL of 0 wraps nothing; a negative one is refused.
    const zero = await vault('POST', 'auth/token/lookup-self', {}, wrapped('0'));
    expect(zero.json.wrap_info).toBeNull();
    expect(zero.json.data.policies).toEqual(['root']);
    expect((await vault('POST', 'sys/wrapping/wrap', { a: 'b' }, wrapped('-5s'))).json.errors).toEqual(['error parsing X-Vault-Wrap-TTL header: requested wrap ttl cannot be negative']);
    expect((await vault('POST', 'sys/wrapping/wrap', { a: 'b' }, wrapped('0'))).json.errors).toEqual(['endpoint requires response wrapping to be used']);
    // A write that answers nothing is not wrapped: there is nothing to keep.
    expect((await vault('PUT', `sys/policies/acl/${unique('p')}`, { policy: 'path "a" { capabilities = ["read"] }' }, wrapped('60s'))).status).toBe(204);
  });
});
