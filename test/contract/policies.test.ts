import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REAL_VAULT, contractTarget, http, unique, type ContractTarget } from './target.js';

/** The policy refusal: a valid token whose policies lack the path (reference §0). */
const POLICY_DENIED = { errors: ['1 error occurred:\n\t* permission denied\n\n'] };

describe('Vault API contract: ACL policies', () => {
  let target: ContractTarget;
  let vault: ReturnType<typeof http>;
  let kv: string;
  const policies: string[] = [];

  /** Writes a policy under a fresh name and returns a token holding it (and default). */
  async function tokenWith(text: string, extra: string[] = []): Promise<ReturnType<typeof http>> {
    const name = unique('p');
    policies.push(name);
    expect((await vault('PUT', `sys/policies/acl/${name}`, { policy: text.replaceAll('KV', kv) })).status).toBe(204);
    const created = await vault('POST', 'auth/token/create', { policies: [name, ...extra], ttl: '10m' });
    return http(target, created.json.auth.client_token);
  }

  beforeAll(async () => {
    target = await contractTarget();
    vault = http(target);
    kv = unique('kv');
    await vault('POST', `sys/mounts/${kv}`, { type: 'kv', options: { version: '2' } });
    for (const key of ['a', 'b', 'deep/x/y', 'team/one/cfg', 'team/two/cfg']) await vault('POST', `${kv}/data/${key}`, { data: { v: key } });
  });
  afterAll(async () => {
    for (const name of policies) await vault('DELETE', `sys/policies/acl/${name}`);
    await vault('DELETE', `sys/mounts/${kv}`);
    await target?.stop();
  });

  describe('sys/policies/acl and sys/policy', () => {
    it('writes, reads, lists and deletes a policy; the name is lower-cased with a warning', async () => {
      const name = unique('Mixed');
      const text = `path "${kv}/data/a" {\n  capabilities = ["read"]\n}\n`;
      const written = await vault('PUT', `sys/policies/acl/${name}`, { policy: text });
      expect(written.status).toBe(200);
      expect(written.json.warnings).toEqual([`policy name was converted to ${name.toLowerCase()}`]);
      const read = await vault('GET', `sys/policies/acl/${name.toLowerCase()}`);
      expect(read.json.data).toMatchObject({ name: name.toLowerCase(), policy: text, cas_required: false });
      expect(read.json.data.version).toBeGreaterThanOrEqual(1);
      const listed = await vault('LIST', 'sys/policies/acl');
      expect(listed.json.data.keys).toEqual(expect.arrayContaining(['default', 'root', name.toLowerCase()]));
      expect((await vault('DELETE', `sys/policies/acl/${name.toLowerCase()}`)).status).toBe(204);
      expect((await vault('GET', `sys/policies/acl/${name.toLowerCase()}`)).status).toBe(404);
      expect((await vault('DELETE', `sys/policies/acl/${name.toLowerCase()}`)).status).toBe(204);
    });

    it('serves the old sys/policy form: rules, and policies beside keys, copied to the top level', async () => {
      const name = unique('old');
      policies.push(name);
      await vault('PUT', `sys/policy/${name}`, { policy: `path "${kv}/data/b" { capabilities = ["read"] }` });
      const read = await vault('GET', `sys/policy/${name}`);
      expect(read.json.data.rules).toContain(`${kv}/data/b`);
      expect(read.json.rules).toBe(read.json.data.rules);
      const list = await vault('GET', 'sys/policy');
      expect(list.json.data.policies).toEqual(list.json.data.keys);
      expect(list.json.policies).toContain(name);
    });

    it('takes a policy written as JSON', async () => {
      const reader = await tokenWith(JSON.stringify({ path: { 'KV/data/a': { capabilities: ['read'] } } }));
      expect((await reader('GET', `${kv}/data/a`)).status).toBe(200);
      expect((await reader('GET', `${kv}/data/b`)).status).toBe(403);
    });

    it('refuses a policy it cannot parse with 400 "failed to parse policy"', async () => {
      const bad = async (policy: string) => vault('PUT', `sys/policies/acl/${unique('bad')}`, { policy });
      expect((await bad('path "x" { capabilities = ["fly"] }')).json).toEqual({ errors: ['failed to parse policy: path "x": invalid capability "fly"'] });
      expect((await bad('path "x" {\n capabilities = ["read"]\n foo = 1\n}')).json).toEqual({
        errors: ['failed to parse policy: 1 error occurred:\n\t* path "x": invalid key "foo" on line 3\n\n'],
      });
      const syntax = await bad('path "x" { capabilities = ["read" }');
      expect(syntax.status).toBe(400);
      expect(syntax.json.errors[0]).toMatch(/^failed to parse policy: /);
      expect((await bad('')).json).toEqual({ errors: ["'policy' parameter not supplied or empty"] });
    });

    it('keeps the built-in policies: default cannot be deleted, root neither deleted nor changed', async () => {
      expect((await vault('DELETE', 'sys/policies/acl/default')).json).toEqual({ errors: ['cannot delete default policy'] });
      expect((await vault('DELETE', 'sys/policies/acl/root')).json).toEqual({ errors: ['cannot delete "root" policy'] });
      expect((await vault('PUT', 'sys/policies/acl/root', { policy: 'path "x" { capabilities = ["read"] }' })).json).toEqual({ errors: ['cannot update "root" policy'] });
      expect((await vault('GET', 'sys/policies/acl/root')).json.data).toMatchObject({ name: 'root', policy: '' });
      expect((await vault('GET', 'sys/policies/acl/default')).json.data.policy).toContain('auth/token/lookup-self');
    });
  });

  describe('enforcement', () => {
    it('lets a token with only default look itself up and renew leases, and refuses the rest with the policy 403', async () => {
      const created = await vault('POST', 'auth/token/create', { policies: ['default'], ttl: '10m' });
      const only = http(target, created.json.auth.client_token);
      expect((await only('GET', 'auth/token/lookup-self')).status).toBe(200);
      const refused = await only('GET', `${kv}/data/a`);
      expect(refused.status).toBe(403);
      expect(refused.json).toEqual(POLICY_DENIED);
      expect((await only('GET', 'sys/mounts')).json).toEqual(POLICY_DENIED);
      expect((await only('POST', 'auth/token/create', {})).json).toEqual(POLICY_DENIED);
    });

    it('grants an exact path and nothing beside it', async () => {
      const t = await tokenWith('path "KV/data/a" { capabilities = ["read"] }');
      expect((await t('GET', `${kv}/data/a`)).json.data.data).toEqual({ v: 'a' });
      expect((await t('GET', `${kv}/data/b`)).status).toBe(403);
      expect((await t('GET', `${kv}/data/a/more`)).status).toBe(403);
      // read does not give write
      expect((await t('POST', `${kv}/data/a`, { data: { v: 'changed' } })).json).toEqual(POLICY_DENIED);
    });

    it('grants everything below a path ending in *', async () => {
      const t = await tokenWith('path "KV/data/deep/*" { capabilities = ["read"] }');
      expect((await t('GET', `${kv}/data/deep/x/y`)).status).toBe(200);
      expect((await t('GET', `${kv}/data/a`)).status).toBe(403);
    });

    it('matches + against exactly one segment', async () => {
      const t = await tokenWith('path "KV/data/team/+/cfg" { capabilities = ["read"] }');
      expect((await t('GET', `${kv}/data/team/one/cfg`)).status).toBe(200);
      expect((await t('GET', `${kv}/data/team/two/cfg`)).status).toBe(200);
      expect((await t('GET', `${kv}/data/deep/x/y`)).status).toBe(403);
      expect((await t('GET', `${kv}/data/team/one/two/cfg`)).status).toBe(403);
    });

    it('lets deny in one policy override a grant of the same path in another', async () => {
      const name = unique('grant');
      policies.push(name);
      await vault('PUT', `sys/policies/acl/${name}`, { policy: `path "${kv}/data/*" { capabilities = ["read"] }` });
      const t = await tokenWith('path "KV/data/b" { capabilities = ["deny"] }\npath "KV/data/*" { capabilities = ["deny"] }', [name]);
      expect((await t('GET', `${kv}/data/a`)).json).toEqual(POLICY_DENIED);
    });

    it('uses the most specific rule: an exact path over a glob, a longer glob over a shorter', async () => {
      const t = await tokenWith(['path "KV/data/*" { capabilities = ["read"] }', 'path "KV/data/b" { capabilities = ["list"] }', 'path "KV/data/deep/*" { capabilities = ["deny"] }'].join('\n'));
      expect((await t('GET', `${kv}/data/a`)).status).toBe(200);
      expect((await t('GET', `${kv}/data/b`)).status).toBe(403);
      expect((await t('GET', `${kv}/data/deep/x/y`)).status).toBe(403);
    });

    it('asks create for a new secret and update for an existing one', async () => {
      const creator = await tokenWith('path "KV/data/c/*" { capabilities = ["create"] }');
      const updater = await tokenWith('path "KV/data/c/*" { capabilities = ["update"] }');
      const key = unique('k');
      expect((await updater('POST', `${kv}/data/c/${key}`, { data: { a: 1 } })).status).toBe(403);
      expect((await creator('POST', `${kv}/data/c/${key}`, { data: { a: 1 } })).status).toBe(200);
      expect((await creator('POST', `${kv}/data/c/${key}`, { data: { a: 2 } })).status).toBe(403);
      expect((await updater('POST', `${kv}/data/c/${key}`, { data: { a: 3 } })).status).toBe(200);
    });

    it('checks a LIST against the path with a trailing slash', async () => {
      const t = await tokenWith('path "KV/metadata/team/" { capabilities = ["list"] }');
      expect((await t('LIST', `${kv}/metadata/team`)).json.data.keys).toEqual(['one/', 'two/']);
      expect((await t('LIST', `${kv}/metadata/deep`)).status).toBe(403);
    });

    it('applies a changed policy to tokens that already hold it', async () => {
      const name = unique('live');
      policies.push(name);
      await vault('PUT', `sys/policies/acl/${name}`, { policy: `path "${kv}/data/a" { capabilities = ["read"] }` });
      const t = http(target, (await vault('POST', 'auth/token/create', { policies: [name], ttl: '10m' })).json.auth.client_token);
      expect((await t('GET', `${kv}/data/a`)).status).toBe(200);
      await vault('PUT', `sys/policies/acl/${name}`, { policy: `path "${kv}/data/b" { capabilities = ["read"] }` });
      expect((await t('GET', `${kv}/data/a`)).status).toBe(403);
      expect((await t('GET', `${kv}/data/b`)).status).toBe(200);
    });

    it('needs sudo besides the capability on root paths (listing leases, revoke-prefix)', async () => {
      const plain = await tokenWith('path "sys/leases/lookup/*" { capabilities = ["list"] }\npath "sys/leases/revoke-prefix/*" { capabilities = ["update"] }');
      const sudo = await tokenWith('path "sys/leases/lookup/*" { capabilities = ["list", "sudo"] }\npath "sys/leases/revoke-prefix/*" { capabilities = ["update", "sudo"] }');
      expect((await plain('LIST', `sys/leases/lookup/${kv}/`)).json).toEqual(POLICY_DENIED);
      expect((await plain('POST', `sys/leases/revoke-prefix/${kv}/nothing`, {})).json).toEqual(POLICY_DENIED);
      expect((await sudo('LIST', `sys/leases/lookup/${kv}/`)).status).toBe(404); // allowed; no leases there
      expect((await sudo('POST', `sys/leases/revoke-prefix/${kv}/nothing`, {})).status).toBe(204);
    });

    it('lets the mount lookup through only for a token with access below the mount', async () => {
      const t = await tokenWith('path "KV/data/a" { capabilities = ["read"] }');
      expect((await t('GET', `sys/internal/ui/mounts/${kv}`)).json.data.options).toEqual({ version: '2' });
      const none = await tokenWith('path "elsewhere/*" { capabilities = ["read"] }');
      const refused = await none('GET', `sys/internal/ui/mounts/${kv}`);
      expect(refused.status).toBe(403);
      expect(refused.json.errors[0]).toBe(`preflight capability check returned 403, please ensure client's policies grant access to path "${kv}/"`);
      // an unknown mount looks the same, so mounts cannot be probed
      expect((await vault('GET', `sys/internal/ui/mounts/${unique('none')}`)).status).toBe(403);
    });

    it('gives AppRole logins the role\'s token_policies, and enforces them', async () => {
      const mount = unique('approle');
      const name = unique('ar');
      policies.push(name);
      await vault('PUT', `sys/policies/acl/${name}`, { policy: `path "${kv}/data/a" { capabilities = ["read"] }` });
      await vault('POST', `sys/auth/${mount}`, { type: 'approle' });
      try {
        await vault('POST', `auth/${mount}/role/r`, { token_policies: name, token_ttl: '5m' });
        const roleId = (await vault('GET', `auth/${mount}/role/r/role-id`)).json.data.role_id;
        const secretId = (await vault('POST', `auth/${mount}/role/r/secret-id`, {})).json.data.secret_id;
        const login = await http(target, null)('POST', `auth/${mount}/login`, { role_id: roleId, secret_id: secretId });
        expect(login.json.auth.policies).toEqual(['default', name].sort());
        const t = http(target, login.json.auth.client_token);
        expect((await t('GET', `${kv}/data/a`)).status).toBe(200);
        expect((await t('GET', `${kv}/data/b`)).json).toEqual(POLICY_DENIED);
      } finally {
        await vault('DELETE', `sys/auth/${mount}`);
      }
    });
  });

  describe('a trailing slash', () => {
    it('does not slip past an exact-path deny to the secret (KV v1 and v2)', async () => {
      const v1 = unique('kv1');
      expect((await vault('POST', `sys/mounts/${v1}`, { type: 'kv' })).status).toBe(204);
      await vault('POST', `${v1}/x`, { v: 'v1-denied-secret' });
      await vault('POST', `${kv}/data/denied`, { data: { v: 'v2-denied-secret' } });
      const reader = await tokenWith(
        `path "${v1}/x" { capabilities = ["deny"] }\npath "${v1}/*" { capabilities = ["read", "list"] }\n` +
          'path "KV/data/denied" { capabilities = ["deny"] }\npath "KV/data/*" { capabilities = ["read"] }',
      );
      try {
        for (const path of [`${v1}/x`, `KV/data/denied`]) expect((await reader('GET', path.replace('KV', kv))).status, path).toBe(403);
        // OpenBao: kv v1 `x/` is another key (404), kv v2 `denied/` has no version (500). Never the secret.
        for (const path of [`${v1}/x/`, `${kv}/data/denied/`]) {
          const r = await reader('GET', path);
          expect(r.status, path).not.toBe(200);
          expect(r.text, path).not.toMatch(/denied-secret/);
        }
      } finally {
        await vault('DELETE', `sys/mounts/${v1}`);
      }
    });

    it('does not slip past an exact-path deny on routes that serve `x/` as `x`: a policy, an AppRole role-id, a delete', async () => {
      const secretName = unique('secret-policy');
      await vault('PUT', `sys/policies/acl/${secretName}`, { policy: 'path "denied-secret-text" { capabilities = ["read"] }' });
      const mount = unique('approle');
      await vault('POST', `sys/auth/${mount}`, { type: 'approle' });
      await vault('POST', `auth/${mount}/role/admin`, { token_policies: 'default' });
      const reader = await tokenWith(
        `path "sys/policies/acl/*" { capabilities = ["read", "delete"] }
path "sys/policies/acl/${secretName}" { capabilities = ["deny"] }
` +
          `path "auth/${mount}/role/*" { capabilities = ["read"] }
path "auth/${mount}/role/admin/role-id" { capabilities = ["deny"] }`,
      );
      try {
        // The dev server checks `x/` against the rules of `x/` and of `x`: refused. OpenBao
        // checks `x/` only; its policy route serves `x/` as `x` and gives the denied policy's
        // text away, while AppRole's routes end at `role-id` (404) (seen 2026-12-07;
        // docs/vault-dev-server.md). Stricter here, never looser.
        for (const [path, openbao] of [[`sys/policies/acl/${secretName}/`, 200], [`auth/${mount}/role/admin/role-id/`, 404]] as const) {
          const r = await reader('GET', path);
          if (REAL_VAULT) expect(r.status, `${path}: OpenBao's own answer changed`).toBe(openbao);
          else {
            expect(r.status, path).toBe(403);
            expect(r.text).not.toMatch(/denied-secret-text|role_id/);
          }
        }
        // A delete of `x/` deletes nothing, on both.
        await reader('DELETE', `sys/policies/acl/${secretName}/`);
        expect((await vault('GET', `sys/policies/acl/${secretName}`)).status).toBe(200);
      } finally {
        await vault('DELETE', `sys/policies/acl/${secretName}`);
        await vault('DELETE', `sys/auth/${mount}`);
      }
    });
  });

  describe('sys/capabilities', () => {
    it('answers capabilities-self sorted, with `capabilities` for one path, deny where nothing is granted, root for root', async () => {
      const t = await tokenWith('path "KV/data/a" { capabilities = ["update", "read", "list"] }');
      const one = await t('POST', 'sys/capabilities-self', { path: `${kv}/data/a` });
      expect(one.json.data).toEqual({ capabilities: ['list', 'read', 'update'], [`${kv}/data/a`]: ['list', 'read', 'update'] });
      expect(one.json.capabilities).toEqual(['list', 'read', 'update']);
      const two = await t('POST', 'sys/capabilities-self', { paths: [`${kv}/data/b`, 'sys/leases/renew'] });
      expect(two.json.data).toEqual({ [`${kv}/data/b`]: ['deny'], 'sys/leases/renew': ['update'] });
      expect((await vault('POST', 'sys/capabilities-self', { path: `${kv}/data/a` })).json.data.capabilities).toEqual(['root']);
      expect((await vault('POST', 'sys/capabilities-self', {})).json).toEqual({ errors: ['paths must be supplied'] });
    });

    it('answers for another token by token or accessor, and refuses unknown ones', async () => {
      const created = await vault('POST', 'auth/token/create', { policies: ['default'], ttl: '10m' });
      const { client_token: token, accessor } = created.json.auth;
      const byToken = await vault('POST', 'sys/capabilities', { token, path: 'cubbyhole/x' });
      expect(byToken.json.data.capabilities).toEqual(['create', 'delete', 'list', 'read', 'update']);
      const byAccessor = await vault('POST', 'sys/capabilities-accessor', { accessor, path: 'sys/leases/lookup' });
      expect(byAccessor.json.data.capabilities).toEqual(['update']);
      expect((await vault('POST', 'sys/capabilities', { token: 'not-a-token', path: 'x' })).json).toEqual({ errors: ['1 error occurred:\n\t* invalid token\n\n'] });
      expect((await vault('POST', 'sys/capabilities-accessor', { accessor: 'nope', path: 'x' })).json).toEqual({ errors: ['1 error occurred:\n\t* invalid accessor\n\n'] });
    });
  });
});
