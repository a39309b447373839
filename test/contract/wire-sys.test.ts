import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contractTarget, devControl, http, REAL_VAULT, unique, type ContractTarget } from './target.js';

const ENVELOPE_KEYS = ['auth', 'data', 'lease_duration', 'lease_id', 'renewable', 'request_id', 'warnings', 'wrap_info'];

describe('Vault API contract: wire format and sys/', () => {
  let target: ContractTarget;
  let vault: ReturnType<typeof http>;
  beforeAll(async () => {
    target = await contractTarget();
    vault = http(target);
  });
  afterAll(() => target?.stop());

  describe('wire format (§0)', () => {
    it('answers a success with the full envelope and Cache-Control: no-store', async () => {
      const r = await vault('GET', 'auth/token/lookup-self');
      expect(r.status).toBe(200);
      expect(Object.keys(r.json).filter((k) => ENVELOPE_KEYS.includes(k)).sort()).toEqual(ENVELOPE_KEYS);
      expect(r.json).toMatchObject({ lease_id: '', renewable: false, lease_duration: 0, wrap_info: null, warnings: null, auth: null });
      expect(r.json.request_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.headers.get('cache-control')).toBe('no-store');
    });

    it('refuses a body over 32 MiB with 413, token or not, and goes on serving', async () => {
      const huge = `{"data":{"v":"${'a'.repeat(32 * 1024 * 1024)}"}}`;
      for (const token of [target.rootToken, null]) {
        const r = await http(target, token)('POST', `secret/data/${unique('huge')}`, huge);
        expect(r.status).toBe(413);
        expect(r.json).toEqual({ errors: ['http: request body too large'] });
      }
      expect((await vault('GET', 'auth/token/lookup-self')).status).toBe(200);
    });

    it('answers an empty success with 204 and no body', async () => {
      const mount = unique('kv1');
      const r = await vault('POST', `sys/mounts/${mount}`, { type: 'kv' });
      expect(r.status).toBe(204);
      expect(r.text).toBe('');
      await vault('DELETE', `sys/mounts/${mount}`);
    });

    it('refuses a missing or bad token with 403 permission denied', async () => {
      for (const token of [null, 'hvs.not-a-real-token']) {
        const r = await http(target, token)('GET', 'auth/token/lookup-self');
        expect(r.status).toBe(403);
        expect(r.json).toEqual({ errors: ['permission denied'] });
      }
    });

    it('accepts the token as a Bearer authorization too', async () => {
      const r = await http(target, null)('GET', 'auth/token/lookup-self', undefined, { Authorization: `Bearer ${target.rootToken}` });
      expect(r.status).toBe(200);
    });

    it('answers 404 {"errors":[]} for a read that found nothing', async () => {
      const mount = unique('kv1');
      await vault('POST', `sys/mounts/${mount}`, { type: 'kv' });
      const r = await vault('GET', `${mount}/missing`);
      expect(r.status).toBe(404);
      expect(r.json).toEqual({ errors: [] });
      await vault('DELETE', `sys/mounts/${mount}`);
    });

    it('answers 404 with the route message for an unknown mount', async () => {
      const path = `${unique('nomount')}/x`;
      const r = await vault('GET', path);
      expect(r.status).toBe(404);
      expect(r.json.errors[0]).toBe(`no handler for route "${path}". route entry not found.`);
    });

    it('answers 405 for an operation the path does not support', async () => {
      const r = await vault('DELETE', 'auth/token/lookup-self');
      expect(r.status).toBe(405);
      expect(r.json.errors[0]).toMatch(/unsupported operation/);
    });

    it('treats PUT like POST, LIST like GET ?list=true, and takes form-encoded bodies', async () => {
      const mount = unique('kv1');
      await vault('PUT', `sys/mounts/${mount}`, { type: 'kv' });
      expect((await vault('PUT', `${mount}/a`, { v: '1' })).status).toBe(204);
      const form = await vault('POST', `${mount}/dir/b`, 'v=2&w=3', { 'Content-Type': 'application/x-www-form-urlencoded' });
      expect(form.status).toBe(204);
      expect((await vault('GET', `${mount}/dir/b`)).json.data).toEqual({ v: '2', w: '3' });
      const viaQuery = await vault('GET', `${mount}/?list=true`);
      const viaMethod = await vault('LIST', `${mount}/`);
      expect(viaQuery.json.data.keys).toEqual(['a', 'dir/']);
      expect(viaMethod.json.data.keys).toEqual(['a', 'dir/']);
      await vault('DELETE', `sys/mounts/${mount}`);
    });

    it('echoes X-Vault-Namespace', async () => {
      const r = await vault('GET', 'sys/seal-status', undefined, { 'X-Vault-Namespace': 'team-a/' });
      expect(r.headers.get('x-vault-namespace')).toBe('team-a/');
    });

    it('accepts durations as seconds or strings', async () => {
      const a = await vault('POST', 'auth/token/create', { ttl: 120 });
      const b = await vault('POST', 'auth/token/create', { ttl: '2m' });
      expect(a.json.auth.lease_duration).toBe(120);
      expect(b.json.auth.lease_duration).toBe(120);
    });
  });

  describe('sys/health and sys/seal-status (§1)', () => {
    it('answers unauthenticated with the health body', async () => {
      const r = await http(target, null)('GET', 'sys/health');
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ initialized: true, sealed: false, standby: false, replication_performance_mode: 'disabled', replication_dr_mode: 'disabled' });
      expect(typeof r.json.version).toBe('string');
      expect(typeof r.json.server_time_utc).toBe('number');
      expect(typeof r.json.cluster_name).toBe('string');
    });

    it('uses the status codes asked for in the query, and answers HEAD', async () => {
      expect((await http(target, null)('GET', 'sys/health?activecode=299')).status).toBe(299);
      const head = await http(target, null)('HEAD', 'sys/health');
      expect(head.status).toBe(200);
      expect(head.text).toBe('');
    });

    it('answers only GET and HEAD on sys/health (405 with an empty list), and 400 to a status code that is not a number', async () => {
      for (const method of ['POST', 'PUT', 'LIST', 'DELETE']) {
        const r = await vault(method, 'sys/health');
        expect([method, r.status]).toEqual([method, 405]);
        expect(r.json).toEqual({ errors: [] });
      }
      const bad = await vault('GET', 'sys/health?activecode=abc');
      expect(bad.status).toBe(400);
      expect(bad.json).toEqual({ errors: [] });
    });

    it('reports the seal status unauthenticated', async () => {
      const r = await http(target, null)('GET', 'sys/seal-status');
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ initialized: true, sealed: false });
      for (const key of ['type', 't', 'n', 'progress', 'version', 'cluster_name', 'cluster_id', 'storage_type']) expect(r.json).toHaveProperty(key);
    });
  });

  describe('sys/mounts (§1)', () => {
    it('lists mounts in data and at the top level', async () => {
      const r = await vault('GET', 'sys/mounts');
      expect(r.status).toBe(200);
      expect(r.json.data['sys/']).toMatchObject({ type: 'system' });
      expect(r.json['sys/']).toEqual(r.json.data['sys/']);
      expect(r.json.data['cubbyhole/']).toMatchObject({ type: 'cubbyhole' });
    });

    it('enables kv-v2 as kv with version 2, refuses a path in use, tunes, and disables', async () => {
      const mount = unique('kv2');
      expect((await vault('POST', `sys/mounts/${mount}`, { type: 'kv-v2' })).status).toBe(204);
      const listed = (await vault('GET', 'sys/mounts')).json.data[`${mount}/`];
      expect(listed).toMatchObject({ type: 'kv', options: { version: '2' } });
      expect(listed.config).toMatchObject({ default_lease_ttl: 0, max_lease_ttl: 0 });

      const again = await vault('POST', `sys/mounts/${mount}`, { type: 'kv' });
      expect(again.status).toBe(400);
      expect(again.json.errors[0]).toBe(`path is already in use at ${mount}/`);

      expect((await vault('POST', `sys/mounts/${mount}/tune`, { default_lease_ttl: '1h', max_lease_ttl: 7200 })).status).toBe(204);
      expect((await vault('GET', `sys/mounts/${mount}/tune`)).json.data).toMatchObject({ default_lease_ttl: 3600, max_lease_ttl: 7200 });

      expect((await vault('DELETE', `sys/mounts/${mount}`)).status).toBe(204);
      expect((await vault('GET', 'sys/mounts')).json.data[`${mount}/`]).toBeUndefined();
      // Disabling what is not mounted is still a success.
      expect((await vault('DELETE', `sys/mounts/${mount}`)).status).toBe(204);
    });

    it('never unmounts its own stores: cubbyhole, sys and identity, or the token auth method', async () => {
      for (const mount of ['cubbyhole', 'sys', 'identity']) {
        const r = await vault('DELETE', `sys/mounts/${mount}`);
        expect([mount, r.status, r.json]).toEqual([mount, 400, { errors: [`cannot unmount "${mount}/"`] }]);
      }
      const token = await vault('DELETE', 'sys/auth/token');
      expect([token.status, token.json]).toEqual([400, { errors: ['token credential backend cannot be disabled'] }]);
      // Still there, and still serving.
      expect((await vault('GET', 'auth/token/lookup-self')).status).toBe(200);
    });

    it('tells the KV version of a mount through sys/internal/ui/mounts', async () => {
      const v1 = unique('kv1');
      const v2 = unique('kv2');
      await vault('POST', `sys/mounts/${v1}`, { type: 'kv', options: { version: '1' } });
      await vault('POST', `sys/mounts/${v2}`, { type: 'kv', options: { version: '2' } });
      const a = await vault('GET', `sys/internal/ui/mounts/${v2}/delphi/config/host`);
      expect(a.status).toBe(200);
      expect(a.json.data).toMatchObject({ path: `${v2}/`, type: 'kv', options: { version: '2' } });
      const b = await vault('GET', `sys/internal/ui/mounts/${v1}/x`);
      expect(['1', '', undefined, null]).toContain(b.json.data.options?.version);
      await vault('DELETE', `sys/mounts/${v1}`);
      await vault('DELETE', `sys/mounts/${v2}`);
    });
  });

  describe.skipIf(REAL_VAULT)('states only the dev server can be put in', () => {
    it('answers 503 "Vault is sealed" to everything but health and seal-status while sealed', async () => {
      await devControl(target, 'POST', 'seal');
      try {
        const r = await vault('GET', 'auth/token/lookup-self');
        expect(r.status).toBe(503);
        expect(r.json).toEqual({ errors: ['Vault is sealed'] });
        const health = await http(target, null)('GET', 'sys/health');
        expect(health.status).toBe(503);
        expect(health.json.sealed).toBe(true);
        expect((await http(target, null)('GET', 'sys/health?sealedcode=200')).status).toBe(200);
        expect((await http(target, null)('GET', 'sys/seal-status')).json.sealed).toBe(true);
      } finally {
        await devControl(target, 'POST', 'unseal');
      }
      expect((await vault('GET', 'auth/token/lookup-self')).status).toBe(200);
    });

    it('answers 429 for a standby and redirects requests to the leader with 307', async () => {
      await devControl(target, 'POST', 'standby', { redirect: 'http://127.0.0.1:1' });
      try {
        const health = await http(target, null)('GET', 'sys/health');
        expect(health.status).toBe(429);
        expect(health.json.standby).toBe(true);
        expect((await http(target, null)('GET', 'sys/health?standbyok=true')).status).toBe(200);
        const r = await vault('GET', 'auth/token/lookup-self?x=1');
        expect(r.status).toBe(307);
        expect(r.headers.get('location')).toBe('http://127.0.0.1:1/v1/auth/token/lookup-self?x=1');
      } finally {
        await devControl(target, 'POST', 'standby', { redirect: null });
      }
    });

    it('answers 400 to sys/health inside a namespace, as OpenBao does', async () => {
      const r = await http(target, null)('GET', 'sys/health', undefined, { 'X-Vault-Namespace': 'ns1/' });
      expect(r.status).toBe(400);
    });
  });
});
