import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contractTarget, http, unique, type ContractTarget } from './target.js';

/**
 * Namespaces (issue 26): each with its own mounts, policies and tokens, reached by
 * X-Vault-Namespace or a path that starts with its name. The same tests against the dev server
 * and a real OpenBao.
 */
describe('Vault API contract: namespaces', () => {
  let target: ContractTarget;
  let vault: ReturnType<typeof http>;
  let ns: string;
  const inNs = (token?: string | null) => {
    const call = http(target, token === undefined ? target.rootToken : token);
    return (method: string, path: string, body?: unknown) => call(method, path, body, { 'X-Vault-Namespace': ns });
  };

  beforeAll(async () => {
    target = await contractTarget();
    vault = http(target);
    ns = unique('ns');
    const created = await vault('POST', `sys/namespaces/${ns}`);
    expect(created.status).toBe(200);
    expect(created.json.data).toMatchObject({ path: `${ns}/`, id: expect.any(String), locked: false, tainted: false, custom_metadata: {} });
  });
  afterAll(async () => {
    await vault('DELETE', `sys/namespaces/${ns}`);
    await target?.stop();
  });

  it('is listed, read, and made again as the same one', async () => {
    const listed = await vault('LIST', 'sys/namespaces');
    expect(listed.json.data.keys).toContain(`${ns}/`);
    expect(listed.json.data.key_info[`${ns}/`].path).toBe(`${ns}/`);
    const id = (await vault('GET', `sys/namespaces/${ns}`)).json.data.id;
    expect((await vault('POST', `sys/namespaces/${ns}`)).json.data.id).toBe(id);
  });

  it('keeps its own mounts: one mounted inside is there by header or by path prefix, and not in the root', async () => {
    const kv = unique('kv');
    expect((await inNs()('POST', `sys/mounts/${kv}`, { type: 'kv', options: { version: '2' } })).status).toBe(204);
    expect((await inNs()('POST', `${kv}/data/app`, { data: { where: 'inside' } })).status).toBe(200);
    expect((await inNs()('GET', `${kv}/data/app`)).json.data.data).toEqual({ where: 'inside' });
    expect((await vault('GET', `${ns}/${kv}/data/app`)).json.data.data).toEqual({ where: 'inside' });
    expect((await vault('GET', `${kv}/data/app`)).status).toBe(404);
    expect(Object.keys((await inNs()('GET', 'sys/mounts')).json.data)).toContain(`${kv}/`);
    expect(Object.keys((await vault('GET', 'sys/mounts')).json.data)).not.toContain(`${kv}/`);
  });

  it('keeps its own policies and tokens: a token made inside carries the namespace and has no say in the root', async () => {
    const kv = unique('kv');
    await inNs()('POST', `sys/mounts/${kv}`, { type: 'kv', options: { version: '2' } });
    await inNs()('POST', `${kv}/data/app`, { data: { a: '1' } });
    const policy = unique('reader');
    await inNs()('PUT', `sys/policies/acl/${policy}`, { policy: `path "${kv}/data/*" { capabilities = ["read"] }` });
    expect((await vault('GET', `sys/policies/acl/${policy}`)).status).toBe(404);
    const token = (await inNs()('POST', 'auth/token/create', { policies: [policy], ttl: '10m' })).json.auth.client_token as string;
    const id = (await vault('GET', `sys/namespaces/${ns}`)).json.data.id as string;
    expect(token.endsWith(`.${id}`)).toBe(true);
    const self = await inNs(token)('GET', 'auth/token/lookup-self');
    expect(self.json.data).toMatchObject({ namespace_path: `${ns}/`, policies: expect.arrayContaining([policy]) });
    expect((await inNs(token)('GET', `${kv}/data/app`)).json.data.data).toEqual({ a: '1' });
    // Without the header the request is the root namespace's: the token still looks after
    // itself there, but its policies open nothing; the path prefix names the namespace too.
    expect((await http(target, token)('GET', 'auth/token/lookup-self')).status).toBe(200);
    expect((await http(target, token)('GET', `${kv}/data/app`)).status).toBe(403);
    expect((await http(target, token)('GET', `${ns}/${kv}/data/app`)).json.data.data).toEqual({ a: '1' });
  });

  it('an unknown namespace is 404 `namespace not found`; sys/health inside one is refused', async () => {
    const r = await http(target)('GET', 'sys/mounts', undefined, { 'X-Vault-Namespace': unique('nowhere') });
    expect(r.status).toBe(404);
    expect(r.json.errors).toEqual(['namespace not found']);
    expect((await inNs(null)('GET', 'sys/health')).status).toBe(400);
  });

  it('a deleted namespace takes its mounts and tokens with it', async () => {
    const gone = unique('ns');
    await vault('POST', `sys/namespaces/${gone}`);
    const call = (token: string | null, method: string, path: string, body?: unknown) => http(target, token)(method, path, body, { 'X-Vault-Namespace': gone });
    await call(target.rootToken, 'POST', 'sys/mounts/kv', { type: 'kv', options: { version: '2' } });
    const token = (await call(target.rootToken, 'POST', 'auth/token/create', { policies: ['default'] })).json.auth.client_token as string;
    const deleted = await vault('DELETE', `sys/namespaces/${gone}`);
    expect(deleted.json.data).toEqual({ status: 'in-progress' });
    // OpenBao deletes in the background: wait for it, a few seconds at most.
    for (let i = 0; i < 50 && (await vault('GET', `sys/namespaces/${gone}`)).status !== 404; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await vault('GET', `sys/namespaces/${gone}`)).status).toBe(404);
    expect((await call(target.rootToken, 'GET', 'sys/mounts')).json.errors).toEqual(['namespace not found']);
    expect((await http(target, token)('GET', 'auth/token/lookup-self')).status).toBe(403);
  });
});
