import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contractTarget, http, unique, type ContractTarget } from './target.js';

/**
 * What real clients (hvac, the bao CLI, the Go api package) call besides what eos itself uses:
 * the status routes `bao status` reads, ?help=1, the by-token and by-accessor token routes,
 * PATCH, `tune … =system`, a LIST split over two packets, and Go's time format.
 */
describe('Vault API contract: what other clients call', () => {
  let target: ContractTarget;
  let vault: ReturnType<typeof http>;
  let kv: string;

  beforeAll(async () => {
    target = await contractTarget();
    vault = http(target);
    kv = unique('kv');
    await vault('POST', `sys/mounts/${kv}`, { type: 'kv', options: { version: '2' } });
  });
  afterAll(async () => {
    await vault('DELETE', `sys/mounts/${kv}`);
    await target?.stop();
  });

  const token = async (body: Record<string, unknown> = {}) => (await vault('POST', 'auth/token/create', { policies: ['default'], ttl: '1h', ...body })).json.auth;

  describe('status routes (bao status, hvac sys.*)', () => {
    it('answers sys/leader unauthenticated: a single node says HA is off', async () => {
      const r = await http(target, null)('GET', 'sys/leader');
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ ha_enabled: false });
    });

    it('answers sys/init unauthenticated', async () => {
      const r = await http(target, null)('GET', 'sys/init');
      expect(r.json).toEqual({ initialized: true });
    });

    it('answers sys/ha-status with one active node, in data and at the top level', async () => {
      const r = await vault('GET', 'sys/ha-status');
      expect(r.json.data.nodes).toHaveLength(1);
      expect(r.json.data.nodes[0]).toMatchObject({ active_node: true, last_echo: null });
      expect(r.json.nodes).toEqual(r.json.data.nodes);
      expect((await http(target, null)('GET', 'sys/ha-status')).status).toBe(403);
    });
  });

  describe('SCAN (OpenBao\'s recursive list)', () => {
    it('lists every key below a KV v2 folder, a level at a time; {} where there are none; a path without scan is 404', async () => {
      for (const key of ['c', 'a/b', 'a/d/e']) await vault('POST', `${kv}/data/scan-${key}`, { data: { v: 1 } });
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const scan = (path: string, t = target.rootToken) => fetch(`${target.addr}/v1/${path}?scan=true`, { headers: { 'X-Vault-Token': t } }).then(async (r) => ({ status: r.status, json: (await r.json()) as any }));
      expect((await scan(`${kv}/metadata/`)).json.data.keys).toEqual(['scan-c', 'scan-a/b', 'scan-a/d/e']);
      expect((await scan(`${kv}/metadata/scan-a`)).json.data.keys).toEqual(['b', 'd/e']);
      expect((await scan(`${kv}/metadata/nothing`)).json.data).toEqual({});
      expect((await scan('sys/mounts')).status).toBe(404);
      // `list` is not `scan`: a token that may list may not scan.
      await vault('PUT', `sys/policies/acl/lister-${kv}`, { policy: `path "${kv}/metadata/*" { capabilities = ["list"] }` });
      const lister = (await vault('POST', 'auth/token/create', { policies: [`lister-${kv}`], ttl: '5m' })).json.auth.client_token as string;
      expect((await scan(`${kv}/metadata/`, lister)).status).toBe(403);
      await vault('DELETE', `sys/policies/acl/lister-${kv}`);
    });
  });

  describe('?help=1', () => {
    it('describes a path and does nothing: a write with help=1 writes no secret', async () => {
      const key = unique('help');
      const r = await vault('POST', `${kv}/data/${key}?help=1`, { data: { a: 1 } });
      expect(r.status).toBe(200);
      expect(typeof r.json.help).toBe('string');
      expect(r.json.openapi).toBeTypeOf('object');
      expect((await vault('GET', `${kv}/data/${key}`)).status).toBe(404);
    });

    it('still wants a valid token', async () => {
      expect((await http(target, 'not-a-token')('GET', `${kv}/data/x?help=1`)).json).toEqual({ errors: ['permission denied'] });
    });
  });

  describe('token routes by token and by accessor', () => {
    it('looks a token up by token (403 "bad token" for an unknown one) and the caller without one', async () => {
      const t = await token();
      const r = await vault('POST', 'auth/token/lookup', { token: t.client_token });
      expect(r.json.data).toMatchObject({ id: t.client_token, accessor: t.accessor, policies: ['default'], renewable: true });
      expect(await vault('POST', 'auth/token/lookup', { token: 'not-a-token' })).toMatchObject({ status: 403, json: { errors: ['bad token'] } });
      expect((await vault('GET', 'auth/token/lookup')).json.data.id).toBe(target.rootToken);
    });

    it('looks a token up by accessor without showing its id', async () => {
      const t = await token();
      const r = await vault('POST', 'auth/token/lookup-accessor', { accessor: t.accessor });
      expect(r.json.data).toMatchObject({ id: '', accessor: t.accessor, policies: ['default'] });
      expect((await vault('POST', 'auth/token/lookup-accessor', { accessor: 'nope' })).json).toEqual({ errors: ['1 error occurred:\n\t* invalid accessor\n\n'] });
    });

    it('renews another token by token', async () => {
      const t = await token({ ttl: '10m' });
      const r = await vault('POST', 'auth/token/renew', { token: t.client_token, increment: '20m' });
      expect(r.json.auth).toMatchObject({ client_token: t.client_token, lease_duration: 1200, renewable: true });
      expect((await vault('POST', 'auth/token/renew', { token: 'not-a-token' })).json).toEqual({ errors: ['token not found'] });
    });

    it('revokes by token and by accessor; an unknown one is no error', async () => {
      const a = await token();
      const b = await token();
      expect((await vault('POST', 'auth/token/revoke', { token: a.client_token })).status).toBe(204);
      expect((await http(target, a.client_token)('GET', 'auth/token/lookup-self')).status).toBe(403);
      expect((await vault('POST', 'auth/token/revoke-accessor', { accessor: b.accessor })).status).toBe(204);
      expect((await http(target, b.client_token)('GET', 'auth/token/lookup-self')).status).toBe(403);
      expect((await vault('POST', 'auth/token/revoke', { token: 'not-a-token' })).status).toBe(204);
      const unknown = await vault('POST', 'auth/token/revoke-accessor', { accessor: 'nope' });
      expect(unknown.status).toBe(200);
      expect(unknown.json.warnings).toEqual(['No token found with this accessor']);
    });
  });

  describe('KV v2 PATCH (vault kv patch, vault kv metadata patch)', () => {
    const merge = { 'Content-Type': 'application/merge-patch+json' };

    it('patches metadata: only the fields given change, and the metadata version counts', async () => {
      const key = unique('meta');
      await vault('POST', `${kv}/data/${key}`, { data: { a: 1 } });
      const before = (await vault('GET', `${kv}/metadata/${key}`)).json.data;
      expect(before).toMatchObject({ current_metadata_version: 0, max_versions: 0, cas_required: false, oldest_version: 0 });
      expect((await vault('PATCH', `${kv}/metadata/${key}`, { max_versions: 5 }, merge)).status).toBe(204);
      const after = (await vault('GET', `${kv}/metadata/${key}`)).json.data;
      expect(after).toMatchObject({ current_metadata_version: 1, max_versions: 5, cas_required: false, current_version: 1 });
      const missing = await vault('PATCH', `${kv}/metadata/${unique('none')}`, { max_versions: 5 }, merge);
      expect(missing.status).toBe(404);
      expect(missing.text).toBe('');
    });

    it('patches data into a new version, null removing a field; it wants the merge-patch type', async () => {
      const key = unique('data');
      await vault('POST', `${kv}/data/${key}`, { data: { a: 1, b: 2 } });
      const r = await vault('PATCH', `${kv}/data/${key}`, { data: { b: null, c: 3 } }, merge);
      expect(r.json.data.version).toBe(2);
      expect((await vault('GET', `${kv}/data/${key}`)).json.data.data).toEqual({ a: 1, c: 3 });
      const wrongType = await vault('PATCH', `${kv}/data/${key}`, { data: { d: 4 } });
      expect(wrongType.status).toBe(415);
      expect(wrongType.json.errors[0]).toBe('PATCH requires Content-Type of application/merge-patch+json, provided application/json');
    });

    it('trims versions past max_versions, and only then moves oldest_version', async () => {
      const key = unique('trim');
      await vault('POST', `${kv}/metadata/${key}`, { max_versions: 2 });
      for (let i = 1; i <= 3; i += 1) await vault('POST', `${kv}/data/${key}`, { data: { i } });
      const meta = (await vault('GET', `${kv}/metadata/${key}`)).json.data;
      expect(meta).toMatchObject({ current_version: 3, oldest_version: 2 });
      expect(Object.keys(meta.versions).sort()).toEqual(['2', '3']);
    });
  });

  describe('mounts', () => {
    it('tunes a TTL back to the system value with "system"', async () => {
      await vault('POST', `sys/mounts/${kv}/tune`, { default_lease_ttl: '1h', max_lease_ttl: '2h' });
      expect((await vault('GET', `sys/mounts/${kv}/tune`)).json.data).toMatchObject({ default_lease_ttl: 3600, max_lease_ttl: 7200 });
      expect((await vault('POST', `sys/mounts/${kv}/tune`, { default_lease_ttl: 'system', max_lease_ttl: 'system' })).status).toBe(204);
      const tuned = await vault('GET', `sys/mounts/${kv}/tune`);
      expect(tuned.json.data).toMatchObject({ default_lease_ttl: 2764800, max_lease_ttl: 2764800 });
      expect(tuned.json.default_lease_ttl).toBe(2764800);
    });
  });

  describe('wire details', () => {
    it('answers a LIST whose request line comes in two TCP packets', async () => {
      const { hostname, port } = new URL(target.addr);
      const reply = await new Promise<string>((resolve, reject) => {
        // Over TLS when the target is https (a production-mode server), its CA from NODE_EXTRA_CA_CERTS.
        const open = (ready: () => void) => (target.addr.startsWith('https:') ? tls.connect({ port: Number(port), host: hostname, servername: hostname }, ready) : net.connect(Number(port), hostname, ready));
        const socket = open(() => {
          socket.setNoDelay(true);
          socket.write('LI');
          setTimeout(() => socket.write(`ST /v1/sys/policies/acl HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${target.rootToken}\r\nConnection: close\r\n\r\n`), 50);
        });
        let text = '';
        socket.on('data', (d: Buffer) => (text += d.toString()));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      expect(reply.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
      expect(JSON.parse(reply.slice(reply.indexOf('{'), reply.lastIndexOf('}') + 1)).data.keys).toContain('default');
    });

    it('writes times as Go does: RFC 3339 with up to nine fractional digits, trailing zeros cut', async () => {
      const t = await token();
      const looked = (await vault('POST', 'auth/token/lookup', { token: t.client_token })).json.data;
      const written = (await vault('POST', `${kv}/data/${unique('t')}`, { data: { a: 1 } })).json.data;
      const times = [looked.issue_time, looked.expire_time, written.created_time] as string[];
      for (const time of times) expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?(Z|[+-]\d\d:\d\d)$/);
      // Finer than milliseconds (a 1-in-a-million chance that all three end in 000 µs).
      expect(times.some((time) => (/\.(\d+)/.exec(time)?.[1]?.length ?? 0) > 3)).toBe(true);
    });
  });

  describe('AppRole extras', () => {
    it('reads a role with every token field, and looks a secret ID up (unknown: an empty 204)', async () => {
      const mount = unique('approle');
      await vault('POST', `sys/auth/${mount}`, { type: 'approle' });
      try {
        await vault('POST', `auth/${mount}/role/r`, { token_ttl: '20m', token_policies: 'app' });
        const role = (await vault('GET', `auth/${mount}/role/r`)).json.data;
        expect(role).toMatchObject({
          bind_secret_id: true,
          local_secret_ids: false,
          token_bound_cidrs: [],
          token_explicit_max_ttl: 0,
          token_no_default_policy: false,
          token_num_uses: 0,
          token_period: 0,
          token_policies: ['app'],
          token_ttl: 1200,
          token_type: 'default',
        });
        expect(role).not.toHaveProperty('policies');
        // bao write -f sends a JSON null
        const created = await vault('POST', `auth/${mount}/role/r/secret-id`, 'null', { 'Content-Type': 'application/json' });
        const { secret_id: secretId, secret_id_accessor: accessor } = created.json.data;
        const looked = await vault('POST', `auth/${mount}/role/r/secret-id/lookup`, { secret_id: secretId });
        expect(looked.json.data).toMatchObject({ secret_id_accessor: accessor, secret_id_num_uses: 0, secret_id_ttl: 0, metadata: {}, cidr_list: [] });
        expect((await vault('POST', `auth/${mount}/role/r/secret-id/lookup`, { secret_id: 'nope' })).status).toBe(204);
        expect((await vault('POST', `auth/${mount}/role/r/secret-id/lookup`, {})).json).toEqual({ errors: ['missing secret_id'] });
      } finally {
        await vault('DELETE', `sys/auth/${mount}`);
      }
    });
  });
});
