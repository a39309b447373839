import { request as plainRequest } from 'node:http';
import { request as tlsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contractTarget, http, unique, type ContractTarget } from './target.js';

/** A request sent as written (fetch would resolve the dots itself), over TLS when the target is https (a production-mode server). */
const httpRequest: typeof plainRequest = ((options: Parameters<typeof plainRequest>[0], callback: Parameters<typeof plainRequest>[1]) =>
  (process.env.EOS_TEST_VAULT_ADDR?.startsWith('https:') ? tlsRequest : plainRequest)(options as never, callback as never)) as typeof plainRequest;

describe('Vault API contract: KV v1 and v2 (§3)', () => {
  let target: ContractTarget;
  let vault: ReturnType<typeof http>;
  let v1: string;
  let v2: string;
  beforeAll(async () => {
    target = await contractTarget();
    vault = http(target);
    v1 = unique('kv1');
    v2 = unique('kv2');
    await vault('POST', `sys/mounts/${v1}`, { type: 'kv', options: { version: '1' } });
    await vault('POST', `sys/mounts/${v2}`, { type: 'kv', options: { version: '2' } });
  });
  afterAll(async () => {
    await vault?.('DELETE', `sys/mounts/${v1}`);
    await vault?.('DELETE', `sys/mounts/${v2}`);
    await target?.stop();
  });

  describe('v1', () => {
    it('writes with 204, reads the object back as data, lists, deletes', async () => {
      expect((await vault('POST', `${v1}/delphi/database/password`, { value: 'p1' })).status).toBe(204);
      const read = await vault('GET', `${v1}/delphi/database/password`);
      expect(read.status).toBe(200);
      expect(read.json.data).toEqual({ value: 'p1' });
      expect(read.json.lease_id).toBe('');
      await vault('POST', `${v1}/delphi/database/host`, { value: 'db' });
      expect((await vault('GET', `${v1}/delphi/database?list=true`)).json.data.keys).toEqual(['host', 'password']);
      expect((await vault('GET', `${v1}/delphi?list=true`)).json.data.keys).toEqual(['database/']);
      expect((await vault('DELETE', `${v1}/delphi/database/host`)).status).toBe(204);
      const gone = await vault('GET', `${v1}/delphi/database/host`);
      expect(gone.status).toBe(404);
      expect(gone.json).toEqual({ errors: [] });
    });

    it('answers a list of nothing with 404', async () => {
      expect((await vault('GET', `${v1}/nothing-here?list=true`)).status).toBe(404);
    });
  });

  describe('v2', () => {
    it('writes a version and reads it with its metadata', async () => {
      const write = await vault('POST', `${v2}/data/delphi/config/host`, { data: { value: 'db1' } });
      expect(write.status).toBe(200);
      expect(write.json.data).toMatchObject({ version: 1, deletion_time: '', destroyed: false, custom_metadata: null });
      expect(Date.parse(write.json.data.created_time)).not.toBeNaN();
      await vault('POST', `${v2}/data/delphi/config/host`, { data: { value: 'db2' } });

      const latest = await vault('GET', `${v2}/data/delphi/config/host`);
      expect(latest.json.data.data).toEqual({ value: 'db2' });
      expect(latest.json.data.metadata).toMatchObject({ version: 2, deletion_time: '', destroyed: false });
      const first = await vault('GET', `${v2}/data/delphi/config/host?version=1`);
      expect(first.json.data.data).toEqual({ value: 'db1' });
    });

    it('refuses a write without data, and a wrong check-and-set version', async () => {
      const empty = await vault('POST', `${v2}/data/x`, { options: {} });
      expect(empty.status).toBe(400);
      expect(empty.json.errors[0]).toBe('no data provided');
      await vault('POST', `${v2}/data/cas`, { data: { a: 1 } });
      const cas = await vault('POST', `${v2}/data/cas`, { data: { a: 2 }, options: { cas: 0 } });
      expect(cas.status).toBe(400);
      expect(cas.json.errors[0]).toMatch(/check-and-set parameter did not match the current version/);
      expect((await vault('POST', `${v2}/data/cas`, { data: { a: 2 }, options: { cas: 1 } })).status).toBe(200);
    });

    it('answers a missing secret with 404 {"errors":[]}', async () => {
      const r = await vault('GET', `${v2}/data/never/written`);
      expect(r.status).toBe(404);
      expect(r.json).toEqual({ errors: [] });
    });

    it('answers a soft-deleted secret with 404 and a success-shaped body without errors', async () => {
      await vault('POST', `${v2}/data/soft`, { data: { a: 1 } });
      expect((await vault('DELETE', `${v2}/data/soft`)).status).toBe(204);
      const r = await vault('GET', `${v2}/data/soft`);
      expect(r.status).toBe(404);
      expect(r.json).not.toHaveProperty('errors');
      expect(r.json.data.data).toBeNull();
      expect(r.json.data.metadata.deletion_time).not.toBe('');
      // Undelete brings it back.
      expect((await vault('POST', `${v2}/undelete/soft`, { versions: [1] })).status).toBe(204);
      expect((await vault('GET', `${v2}/data/soft`)).json.data.data).toEqual({ a: 1 });
    });

    it('lists and deletes through metadata/', async () => {
      await vault('POST', `${v2}/data/m/one`, { data: { a: 1 } });
      await vault('POST', `${v2}/data/m/two/deep`, { data: { a: 1 } });
      expect((await vault('LIST', `${v2}/metadata/m`)).json.data.keys).toEqual(['one', 'two/']);
      const meta = await vault('GET', `${v2}/metadata/m/one`);
      // oldest_version stays 0 until max_versions trims the history (OpenBao).
      expect(meta.json.data).toMatchObject({ current_version: 1, oldest_version: 0, cas_required: false });
      expect(meta.json.data.versions['1']).toMatchObject({ destroyed: false, deletion_time: '' });
      expect((await vault('DELETE', `${v2}/metadata/m/one`)).status).toBe(204);
      expect((await vault('GET', `${v2}/data/m/one`)).status).toBe(404);
      expect((await vault('LIST', `${v2}/metadata/m`)).json.data.keys).toEqual(['two/']);
    });

    it('answers a v1-style path on a v2 mount with 404 and the versioned-path warning', async () => {
      await vault('POST', `${v2}/data/plain`, { data: { a: 1 } });
      const r = await vault('GET', `${v2}/plain`);
      expect(r.status).toBe(404);
      expect(r.json.warnings[0]).toMatch(/^Invalid path for a versioned K\/V secrets engine/);
    });
  });

  describe('paths and cubbyhole', () => {
    it('decodes percent-escapes in the path: a%20b is the key "a b"', async () => {
      expect((await vault('POST', `${v2}/data/a%20b`, { data: { v: '1' } })).status).toBe(200);
      expect((await vault('LIST', `${v2}/metadata/`)).json.data.keys).toContain('a b');
      expect((await vault('GET', `${v2}/data/a b`.replace(' ', '%20'))).json.data.data).toEqual({ v: '1' });
      expect((await vault('POST', `${v1}/c%2Fd`, { v: '2' })).status).toBe(204);
      expect((await vault('GET', `${v1}/c/d`)).json.data).toEqual({ v: '2' });
    });

    it('answers a path with //, . or .. with a 307 to its clean form, as Go does under OpenBao', async () => {
      // Sent as written: fetch would resolve the dots itself.
      const raw = (p: string) =>
        new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
          const url = new URL(target.addr);
          const req = httpRequest({ host: url.hostname, port: url.port, path: p, method: 'GET', headers: { 'X-Vault-Token': target.rootToken } }, (res) => {
            res.resume();
            resolve({ status: res.statusCode ?? 0, location: res.headers.location });
          });
          req.on('error', reject);
          req.end();
        });
      for (const p of [`/v1/${v2}//data/x`, `/v1/${v2}/./data/x`, `/v1/${v2}/a/../data/x`]) {
        expect(await raw(p), p).toEqual({ status: 307, location: `/v1/${v2}/data/x` });
      }
    });

    it('refuses a . or .. that only decoding reveals: 400 relative paths not supported', async () => {
      const raw = (p: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const url = new URL(target.addr);
          const req = httpRequest({ host: url.hostname, port: url.port, path: p, method: 'GET', headers: { 'X-Vault-Token': target.rootToken } }, (res) => {
            let body = '';
            res.on('data', (d) => (body += d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          });
          req.on('error', reject);
          req.end();
        });
      for (const p of [`/v1/${v2}/%2e%2e/sys/policies/acl/default`, `/v1/${v2}/data/a%2F%2E%2E%2Fx`]) {
        const r = await raw(p);
        expect([p, r.status], r.body).toEqual([p, 400]);
        expect(r.body).toMatch(/relative paths not supported/);
      }
    });

    it('gives a token made again with the same chosen id none of what the revoked one kept in its cubbyhole', async () => {
      const id = unique('cubby-owner');
      const first = http(target, (await vault('POST', 'auth/token/create', { id, ttl: '10m' })).json.auth.client_token);
      expect((await first('POST', 'cubbyhole/kept', { pw: 'hunter2' })).status).toBe(204);
      expect((await vault('POST', 'auth/token/revoke', { token: id })).status).toBe(204);
      const again = http(target, (await vault('POST', 'auth/token/create', { id, ttl: '10m' })).json.auth.client_token);
      expect((await again('GET', 'cubbyhole/kept')).status).toBe(404);
    });

    it("keeps each token's cubbyhole its own, answered without a lease", async () => {
      const own = await vault('POST', 'cubbyhole/note', { x: '1' });
      expect(own.status).toBe(204);
      const read = await vault('GET', 'cubbyhole/note');
      expect(read.json).toMatchObject({ data: { x: '1' }, lease_duration: 0 });
      expect((await vault('LIST', 'cubbyhole/')).json.data.keys).toContain('note');
      const other = http(target, (await vault('POST', 'auth/token/create', { ttl: '10m' })).json.auth.client_token);
      expect((await other('GET', 'cubbyhole/note')).status).toBe(404);
      expect((await other('POST', 'cubbyhole/note', { y: '2' })).status).toBe(204);
      expect((await vault('GET', 'cubbyhole/note')).json.data).toEqual({ x: '1' });
      expect((await vault('DELETE', 'cubbyhole/note')).status).toBe(204);
    });
  });
});
