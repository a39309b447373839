import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenInfoSchema } from '../../src/vault/responses.js';
import { contractTarget, http, REAL_VAULT, sleep, unique, type ContractTarget } from './target.js';

describe('Vault API contract: tokens and AppRole (§2)', () => {
  let target: ContractTarget;
  let vault: ReturnType<typeof http>;
  beforeAll(async () => {
    target = await contractTarget();
    vault = http(target);
  });
  afterAll(() => target?.stop());

  describe('tokens', () => {
    it('looks up the root token: no TTL, no expiry, root policy', async () => {
      const r = await vault('GET', 'auth/token/lookup-self');
      expect(r.json.data).toMatchObject({ ttl: 0, expire_time: null, policies: ['root'], id: target.rootToken });
      // `root` from operator init and the dev server; `token` when `bao server -dev` mints it.
      expect(['root', 'token']).toContain(r.json.data.display_name);
      // What eos reads of it fits: `renewable` and `issue_time` are there only for a token the
      // expiration manager tracks, which the root token of `operator init` (and the dev
      // server's, which stands for it) is not.
      expect(tokenInfoSchema.safeParse(r.json.data).success).toBe(true);
      if (!REAL_VAULT) expect(Object.keys(r.json.data)).not.toEqual(expect.arrayContaining(['renewable']));
    });

    it('honours the limits a token is made with: num_uses, a period, batch, a chosen id, a policy name with a comma', async () => {
      const twice = await vault('POST', 'auth/token/create', { num_uses: 2, ttl: '10m' });
      const spent = http(target, twice.json.auth.client_token);
      expect((await spent('GET', 'auth/token/lookup-self')).status).toBe(200);
      expect((await spent('GET', 'auth/token/lookup-self')).status).toBe(200);
      expect((await spent('GET', 'auth/token/lookup-self')).status).toBe(403);

      const periodic = await vault('POST', 'auth/token/create', { period: '1h', policies: ['default'] });
      expect(periodic.json.auth).toMatchObject({ lease_duration: 3600, renewable: true });
      const renewed = await http(target, periodic.json.auth.client_token)('POST', 'auth/token/renew-self', { increment: '10h' });
      expect(renewed.json.auth.lease_duration).toBe(3600);
      expect((await http(target, periodic.json.auth.client_token)('GET', 'auth/token/lookup-self')).json.data.period).toBe(3600);

      const batch = await vault('POST', 'auth/token/create', { type: 'batch', ttl: '10m', policies: ['default'] });
      expect(batch.json.auth).toMatchObject({ accessor: '', renewable: false, token_type: 'batch' });
      expect((await http(target, batch.json.auth.client_token)('GET', 'auth/token/lookup-self')).json.data.type).toBe('batch');
      expect((await http(target, batch.json.auth.client_token)('POST', 'auth/token/renew-self', {})).status).toBe(400);

      const id = unique('chosen-token-id');
      expect((await vault('POST', 'auth/token/create', { id, ttl: '10m' })).json.auth.client_token).toBe(id);
      expect((await vault('POST', 'auth/token/create', { policies: 'a,b', ttl: '10m' })).json.auth.policies).toEqual(['a,b', 'default']);
    });

    it('issues through a token role only what the role allows: its policies, orphan, period; an unknown role is 400', async () => {
      const name = unique('web');
      expect((await vault('POST', `auth/token/roles/${name}`, { allowed_policies: ['app'], orphan: true, token_period: '2h' })).status).toBe(204);
      const role = await vault('GET', `auth/token/roles/${name}`);
      expect(role.json.data).toMatchObject({ name, allowed_policies: ['app'], orphan: true, token_period: 7200, renewable: true });
      expect((await vault('LIST', 'auth/token/roles')).json.data.keys).toContain(name);

      const issued = await vault('POST', `auth/token/create/${name}`, { policies: ['app'] });
      expect(issued.json.auth).toMatchObject({ policies: ['app', 'default'], lease_duration: 7200, orphan: true });
      // Nothing asked: the role's own list.
      expect((await vault('POST', `auth/token/create/${name}`, {})).json.auth.policies).toEqual(['app', 'default']);
      const forbidden = await vault('POST', `auth/token/create/${name}`, { policies: ['admin'] });
      expect(forbidden.status).toBe(400);
      expect(forbidden.json.errors).toEqual([`token policies (["admin" "default"]) must be subset of the role's allowed policies (["app" "default"]) or glob policies ([])`]);
      const unknown = await vault('POST', `auth/token/create/${unique('nope')}`, {});
      expect(unknown.status).toBe(400);
      expect(unknown.json.errors[0]).toMatch(/^unknown role /);
      expect((await vault('DELETE', `auth/token/roles/${name}`)).status).toBe(204);
      expect((await vault('GET', `auth/token/roles/${name}`)).status).toBe(404);
    });

    it('gives a token no more than its maker holds: a role without a list, a limited or spent token, a periodic token', async () => {
      const policy = unique('maker');
      await vault('PUT', `sys/policies/acl/${policy}`, { policy: 'path "auth/token/create*" { capabilities = ["update"] }\npath "secret/*" { capabilities = ["deny"] }' });
      const open = unique('open');
      await vault('POST', `auth/token/roles/${open}`, {});
      try {
        const maker = http(target, (await vault('POST', 'auth/token/create', { policies: [policy], ttl: '10m' })).json.auth.client_token);
        // A role without allowed policies bounds nothing: the maker's own policies do.
        const rooted = await maker('POST', `auth/token/create/${open}`, { policies: ['root'] });
        expect(rooted.status).toBe(400);
        expect((await maker('POST', `auth/token/create/${open}`, { policies: ['admin'] })).status).toBe(400);
        expect((await maker('POST', 'auth/token/create', { period: '768h' })).status).toBe(400);

        const limited = http(target, (await vault('POST', 'auth/token/create', { num_uses: 3, ttl: '10m' })).json.auth.client_token);
        const child = await limited('POST', 'auth/token/create-orphan', { ttl: '5m' });
        expect(child.status).toBe(400);
        expect(child.json.errors.join(' ')).toMatch(/restricted use token cannot generate child tokens/);
        // That was one use, refused or not; a read that finds nothing is another; the lookup is the last.
        expect((await limited('GET', `secret/data/${unique('nope')}`)).status).toBe(404);
        const last = await limited('GET', 'auth/token/lookup-self');
        expect(last.status).toBe(200);
        expect(last.json.data.num_uses).toBe(-1);
        expect((await limited('GET', 'auth/token/lookup-self')).status).toBe(403);
      } finally {
        await vault('DELETE', `auth/token/roles/${open}`);
        await vault('DELETE', `sys/policies/acl/${policy}`);
      }
    });

    it('refuses an orphan or a chosen id to a token without root or sudo', async () => {
      const policy = unique('creator');
      await vault('PUT', `sys/policies/acl/${policy}`, { policy: 'path "auth/token/create" { capabilities = ["update"] }' });
      try {
        const creator = http(target, (await vault('POST', 'auth/token/create', { policies: [policy], ttl: '10m' })).json.auth.client_token);
        const orphan = await creator('POST', 'auth/token/create', { no_parent: true, ttl: '5m' });
        expect(orphan.status).toBe(400);
        expect(orphan.json.errors.join(' ')).toMatch(/root or sudo privileges required to create orphan token/);
        expect((await creator('POST', 'auth/token/create', { id: unique('x'), ttl: '5m' })).status).toBe(400);
      } finally {
        await vault('DELETE', `sys/policies/acl/${policy}`);
      }
    });

    it('serves lookup-self as an update too (PUT or POST), as the Vault CLI may send it', async () => {
      for (const method of ['PUT', 'POST']) {
        const r = await vault(method, 'auth/token/lookup-self', {});
        expect([method, r.status]).toEqual([method, 200]);
        expect(r.json.data.policies).toEqual(['root']);
      }
    });

    it('a child token the expiration manager tracks says whether it is renewable, and since when', async () => {
      const created = await vault('POST', 'auth/token/create', { ttl: '1h', policies: ['app'] });
      const looked = await http(target, created.json.auth.client_token)('GET', 'auth/token/lookup-self');
      expect(looked.json.data).toMatchObject({ renewable: true, issue_time: expect.any(String) });
    });

    it('reads a JSON body sent under the form content type (curl -d) as JSON, and a real form as a form', async () => {
      const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
      const json = await vault('POST', 'auth/token/create', ' {"policies":["app"],"ttl":"10m"}', form);
      expect(json.status).toBe(200);
      // Ignored, the body would give a token with the parent's policies: root.
      expect(json.json.auth.policies).toEqual(['app', 'default']);
      expect(json.json.auth.lease_duration).toBe(600);
      const real = await vault('POST', 'auth/token/create', 'policies=app&ttl=5m', form);
      expect(real.status).toBe(200);
      expect(real.json.auth.policies).toEqual(['app', 'default']);
      expect(real.json.auth.lease_duration).toBe(300);
    });

    it('creates a child token with its TTL and policies, and looks it up', async () => {
      const created = await vault('POST', 'auth/token/create', { ttl: '1h', policies: ['app'] });
      expect(created.status).toBe(200);
      const auth = created.json.auth;
      expect(auth).toMatchObject({ lease_duration: 3600, renewable: true, token_type: 'service', orphan: false });
      expect(auth.policies).toEqual(['app', 'default']);
      expect(typeof auth.client_token).toBe('string');
      expect(typeof auth.accessor).toBe('string');

      const looked = await http(target, auth.client_token)('GET', 'auth/token/lookup-self');
      expect(looked.json.data).toMatchObject({ creation_ttl: 3600, display_name: 'token', explicit_max_ttl: 0, renewable: true, type: 'service', id: auth.client_token });
      expect(looked.json.data.ttl).toBeGreaterThan(3590);
      expect(Date.parse(looked.json.data.expire_time)).toBeGreaterThan(Date.now() + 3500_000);
    });

    it('takes a JSON body of null as an empty one (bao write -f, the Go client\'s Write(path, nil))', async () => {
      const created = await vault('POST', 'auth/token/create', 'null', { 'Content-Type': 'application/json' });
      expect(created.status).toBe(200);
      expect((created.json as { auth: { client_token: string; policies: string[] } }).auth.client_token).toMatch(/\w{20,}/);
    });

    it('renews a token, capping at its max TTL with the warning', async () => {
      const created = await vault('POST', 'auth/token/create', { ttl: '10s', explicit_max_ttl: '30s' });
      const child = http(target, created.json.auth.client_token);
      const renewed = await child('PUT', 'auth/token/renew-self', { increment: '20s' });
      expect(renewed.status).toBe(200);
      expect(renewed.json.data).toBeNull();
      expect(renewed.json.auth.lease_duration).toBe(20);
      const capped = await child('PUT', 'auth/token/renew-self', { increment: '1h' });
      expect(capped.json.auth.lease_duration).toBeLessThanOrEqual(30);
      expect(capped.json.warnings[0]).toMatch(/^TTL of "1h" exceeded the effective max_ttl of "(29|30)s"; TTL value is capped accordingly$/);
    });

    it('refuses to renew the root token and a non-renewable token', async () => {
      const root = await vault('PUT', 'auth/token/renew-self', {});
      expect(root.status).toBe(400);
      // Without a lease entry: invalid lease ID; OpenBao's -dev root token has one: not renewable.
      expect(root.json.errors[0]).toMatch(/invalid lease ID|lease is not renewable/);
      const fixed = await vault('POST', 'auth/token/create', { ttl: '1h', renewable: false });
      const r = await http(target, fixed.json.auth.client_token)('PUT', 'auth/token/renew-self', {});
      expect(r.status).toBe(400);
      expect(r.json.errors[0]).toMatch(/lease is not renewable/);
    });

    it('revokes itself: the token is refused afterwards', async () => {
      const created = await vault('POST', 'auth/token/create', { ttl: '1h' });
      const child = http(target, created.json.auth.client_token);
      expect((await child('PUT', 'auth/token/revoke-self')).status).toBe(204);
      const after = await child('GET', 'auth/token/lookup-self');
      expect(after.status).toBe(403);
      expect(after.json.errors).toEqual(['permission denied']);
    });

    it('refuses a token once its TTL has passed', async () => {
      const created = await vault('POST', 'auth/token/create', { ttl: '2s' });
      const child = http(target, created.json.auth.client_token);
      expect((await child('GET', 'auth/token/lookup-self')).status).toBe(200);
      await sleep(3000);
      expect((await child('GET', 'auth/token/lookup-self')).status).toBe(403);
    });
  });

  describe('AppRole', () => {
    let mount: string;
    beforeAll(async () => {
      mount = unique('approle');
      expect((await vault('POST', `sys/auth/${mount}`, { type: 'approle' })).status).toBe(204);
    });

    it('refuses to enable the same path twice', async () => {
      const r = await vault('POST', `sys/auth/${mount}`, { type: 'approle' });
      expect(r.status).toBe(400);
      expect(r.json.errors[0]).toMatch(/path is already in use/);
    });

    it('logs in with role-id and secret-id and gets an orphan token with the role policies', async () => {
      expect((await vault('POST', `auth/${mount}/role/app`, { token_ttl: '20m', token_max_ttl: '1h', token_policies: ['app'] })).status).toBe(204);
      const roleId = (await vault('GET', `auth/${mount}/role/app/role-id`)).json.data.role_id;
      const secret = await vault('POST', `auth/${mount}/role/app/secret-id`);
      expect(secret.json.data).toHaveProperty('secret_id_accessor');
      const login = await http(target, null)('POST', `auth/${mount}/login`, { role_id: roleId, secret_id: secret.json.data.secret_id });
      expect(login.status).toBe(200);
      expect(login.json.auth).toMatchObject({ policies: ['app', 'default'], metadata: { role_name: 'app' }, lease_duration: 1200, renewable: true, token_type: 'service', orphan: true });
      const looked = await http(target, login.json.auth.client_token)('GET', 'auth/token/lookup-self');
      expect(looked.json.data.path).toBe(`auth/${mount}/login`);
      expect(looked.json.data.meta).toEqual({ role_name: 'app' });
    });

    it('answers login mistakes with Vault\'s messages: 400, but a 500 for a missing role_id', async () => {
      await vault('POST', `auth/${mount}/role/app2`, { token_ttl: '20m' });
      const roleId = (await vault('GET', `auth/${mount}/role/app2/role-id`)).json.data.role_id;
      const anonymous = http(target, null);
      // OpenBao's alias look-ahead refuses a missing role_id first, as an internal error.
      const missing = await anonymous('POST', `auth/${mount}/login`, { secret_id: 'x' });
      expect(missing.status).toBe(500);
      expect(missing.json.errors[0]).toContain('missing role_id');
      const cases: [unknown, string][] = [
        [{ role_id: roleId }, 'missing secret_id'],
        [{ role_id: roleId, secret_id: 'not-a-secret-id' }, 'invalid role or secret ID'],
        [{ role_id: 'not-a-role-id', secret_id: 'x' }, 'invalid role or secret ID'],
      ];
      for (const [body, message] of cases) {
        const r = await anonymous('POST', `auth/${mount}/login`, body);
        expect(r.status).toBe(400);
        expect(r.json.errors[0]).toBe(message);
      }
    });
  });
});
