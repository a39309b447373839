import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { vaultTls } from '../../src/setup/tls-report.js';
import { resolveVaultSettings } from '../../src/config/vault-settings.js';
import { createVaultClient } from '../../src/vault/client.js';
import { makeTestPki } from '../helpers/pki.js';
import { VaultBadRequestError, VaultError, VaultPermissionDeniedError, VaultServerError, VaultTlsError, VaultUnreachableError } from '../../src/vault/errors.js';
import { VaultResponseError } from '../../src/vault/responses.js';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

/** A scripted HTTP server: each request is answered by the next handler (the last one repeats). */
async function scripted(handlers: Handler[], tls?: { key: Buffer; cert: Buffer }) {
  const seen: { method: string; url: string; body: string; headers: IncomingMessage['headers'] }[] = [];
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', body, headers: req.headers });
      const handler = handlers[Math.min(seen.length - 1, handlers.length - 1)] as Handler;
      handler(req, body, res);
    });
  };
  const server: Server = tls ? createHttpsServer(tls, listener) : createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  servers.push(server);
  return { url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`, seen };
}
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Handler => (_req, _body, res) => {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};
const TOKEN_DATA = { accessor: 'a1', display_name: 'token', policies: ['default'], ttl: 100, creation_ttl: 100, expire_time: '2026-11-29T05:00:00Z', explicit_max_ttl: 0, renewable: true, path: 'auth/token/create', meta: null };
const TOKEN_OK = json(200, { data: TOKEN_DATA, lease_id: '', renewable: false, lease_duration: 0, warnings: null, auth: null });

function client(addr: string, extra: Record<string, string> = {}, sleeps: number[] = []) {
  const settings = resolveVaultSettings({ address: addr }, { VAULT_TOKEN: 'hvs.test', ...extra }, configSchema.parse({}));
  return createVaultClient({
    settings,
    token: 'hvs.test',
    // A clock whose every wait is over at once, and noted.
    clock: {
      now: () => Date.now(),
      setTimeout: (fn: () => void) => (queueMicrotask(fn), { cancel: () => undefined }),
      sleep: async (ms: number) => {
        sleeps.push(ms);
      },
    },
    random: () => 0.5,
  });
}

describe('the Vault client: retries like Vault\'s own client', () => {
  it('retries 503 and 429, waiting Retry-After when given, else (attempt+1) × 1000–1500 ms', async () => {
    const server = await scripted([json(503, { errors: ['no active'] }, { 'Retry-After': '3' }), json(429, { errors: ['rate'] }), TOKEN_OK]);
    const sleeps: number[] = [];
    const info = await client(server.url, {}, sleeps).lookupSelf();
    expect(info.policies).toEqual(['default']);
    expect(server.seen).toHaveLength(3);
    expect(sleeps).toEqual([3000, 2500]);
  });

  it('retries 412 and 500, and gives up after VAULT_MAX_RETRIES with a typed error', async () => {
    const server = await scripted([json(412, { errors: [] }), json(500, { errors: ['1 error occurred:\n\t* boom\n\n'] })]);
    const err = await client(server.url, { VAULT_MAX_RETRIES: '3' }).lookupSelf().catch((e: unknown) => e);
    expect(server.seen).toHaveLength(4);
    expect((err as Error).message).toMatch(/HTTP 500\): boom/);
  });

  it('never retries 400, 403 or 501', async () => {
    for (const [status, errors] of [[400, ['bad']], [403, ['permission denied']], [501, ['not init']]] as const) {
      const server = await scripted([json(status, { errors })]);
      const err = await client(server.url).lookupSelf().catch((e: unknown) => e);
      expect(server.seen).toHaveLength(1);
      expect(err).toBeInstanceOf(status === 403 ? VaultPermissionDeniedError : status === 400 ? VaultBadRequestError : VaultServerError);
      expect((err as VaultError).status).toBe(status);
    }
  });

  it('retries a refused connection, then reports Vault unreachable (exit 3)', async () => {
    const sleeps: number[] = [];
    const err = await client('http://127.0.0.1:1', {}, sleeps).lookupSelf().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VaultUnreachableError);
    expect((err as VaultUnreachableError).exitCode).toBe(3);
    expect(sleeps).toHaveLength(2);
  });

  it('follows one 307 from a standby, re-sending the method and the body', async () => {
    const leader = await scripted([json(200, { lease_id: 'l', renewable: true, lease_duration: 5, warnings: null, data: null })]);
    const standby = await scripted([(_req, _body, res) => {
      res.writeHead(307, { Location: `${leader.url}/v1/sys/leases/renew/database/creds/r/abc` });
      res.end();
    }]);
    const renewal = await client(standby.url).renewLease('database/creds/r/abc', 30);
    expect(renewal.lease_duration).toBe(5);
    expect(leader.seen).toEqual([expect.objectContaining({ method: standby.seen[0]?.method, url: '/v1/sys/leases/renew/database/creds/r/abc' })]);
    expect(JSON.parse(leader.seen[0]?.body ?? '{}')).toEqual({ increment: 30 });
    expect(leader.seen[0]?.headers['x-vault-token']).toBe('hvs.test');
  });

  it('renews and revokes by the lease in the path; a token refused there (an older policy) is asked again with it in the body, once', async () => {
    const renewed = json(200, { lease_id: 'database/creds/r/abc', renewable: true, lease_duration: 5, warnings: null, data: null });
    const server = await scripted([json(403, { errors: ['1 error occurred:\n\t* permission denied\n\n'] }), renewed, renewed, json(204, null), json(204, null)]);
    const c = client(server.url);
    expect((await c.renewLease('database/creds/r/abc', 30)).lease_duration).toBe(5);
    expect((await c.renewLease('database/creds/r/abc', 30)).lease_duration).toBe(5);
    await c.revokeLease('database/creds/r/abc');
    await c.revokeLease('database/creds/r/def');
    // Refused the renewal path, the token may still hold the revocation path: each is asked on its own.
    expect(server.seen.map((r) => `${r.url} ${r.body}`)).toEqual([
      '/v1/sys/leases/renew/database/creds/r/abc {"increment":30}',
      '/v1/sys/leases/renew {"increment":30,"lease_id":"database/creds/r/abc"}',
      '/v1/sys/leases/renew {"increment":30,"lease_id":"database/creds/r/abc"}',
      '/v1/sys/leases/revoke/database/creds/r/abc {}',
      '/v1/sys/leases/revoke/database/creds/r/def {}',
    ]);
  });

  it('refuses a redirect that would carry the token in clear to another host', async () => {
    const standby = await scripted([(_req, _body, res) => {
      res.writeHead(307, { Location: 'http://vault-b.invalid:8200/v1/auth/token/lookup-self' });
      res.end();
    }]);
    const sleeps: number[] = [];
    const err = await client(standby.url, {}, sleeps).lookupSelf().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VaultUnreachableError);
    expect((err as Error).message).toBe(`refusing the redirect from ${standby.url} to http://vault-b.invalid:8200: it would send the Vault token in clear to a host eos was not pointed at`);
    expect(standby.seen).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('something other than Vault is named once: a web page is "not a Vault server", plain HTTP to a TLS listener says to use https, a redirect page is followed', async () => {
    const page = await scripted([(_req, _body, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html>It works!</html>');
    }]);
    await expect(client(page.url).lookupSelf()).rejects.toThrow(new RegExp(`^${page.url} is not a Vault server: it answered HTTP 200 with text/html, not Vault's JSON$`));
    const tlsPort = await scripted([(_req, _body, res) => {
      res.writeHead(400);
      res.end('Client sent an HTTP request to an HTTPS server.\n');
    }]);
    const err = (await client(tlsPort.url).lookupSelf().catch((e: unknown) => e)) as VaultUnreachableError;
    expect(err.message).toMatch(/is a TLS listener/);
    expect(err.hint).toMatch(/use https:\/\//);
    const leader = await scripted([TOKEN_OK]);
    const balancer = await scripted([(_req, _body, res) => {
      res.writeHead(301, { 'Content-Type': 'text/html', Location: `${leader.url}/v1/auth/token/lookup-self` });
      res.end('<html><body>301 Moved Permanently</body></html>');
    }]);
    expect((await client(balancer.url).lookupSelf()).policies).toEqual(['default']);
  });

  it('follows no redirect with VAULT_DISABLE_REDIRECTS', async () => {
    const standby = await scripted([(_req, _body, res) => {
      res.writeHead(307, { Location: 'http://127.0.0.1:1/v1/x' });
      res.end();
    }]);
    await expect(client(standby.url, { VAULT_DISABLE_REDIRECTS: 'true' }).lookupSelf()).rejects.toThrow(/answered HTTP 307, a redirect to http:\/\/127\.0\.0\.1:1: it is a standby/);
    expect(standby.seen).toHaveLength(1);
  });
});

describe('the Vault client over TLS', () => {
  let pki: ReturnType<typeof makeTestPki>;
  let caFile: string;
  let tls: { key: Buffer; cert: Buffer };
  beforeAll(() => {
    pki = makeTestPki();
    caFile = pki.caFile;
    tls = { key: pki.key, cert: pki.cert };
  });
  afterAll(() => pki?.remove());

  it('fails without the CA (a TLS error with the VAULT_CACERT hint, not retried) and works with VAULT_CACERT', async () => {
    const server = await scripted([TOKEN_OK], tls);
    const sleeps: number[] = [];
    const err = await client(server.url, {}, sleeps).lookupSelf().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VaultTlsError);
    expect((err as VaultTlsError).hint).toMatch(/VAULT_CACERT/);
    expect((err as VaultTlsError).exitCode).toBe(3);
    expect(sleeps).toEqual([]);
    expect((await client(server.url, { VAULT_CACERT: caFile }).lookupSelf()).policies).toEqual(['default']);
  });

  it('checks the server name, which VAULT_TLS_SERVER_NAME can set', async () => {
    const server = await scripted([TOKEN_OK], tls);
    const viaName = server.url.replace('127.0.0.1', 'localhost');
    const err = await client(viaName, { VAULT_CACERT: caFile }).lookupSelf().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VaultTlsError);
    // The CA is right; the name is what to fix, and the hint says with what.
    expect((err as Error).message).toMatch(/^the TLS certificate of https:\/\/localhost:\d+ does not name localhost/);
    expect((err as VaultTlsError).hint).toMatch(/VAULT_TLS_SERVER_NAME/);
    expect((await client(viaName, { VAULT_CACERT: caFile, VAULT_TLS_SERVER_NAME: 'vault.test' }).lookupSelf()).policies).toEqual(['default']);
  });

  it("test's TLS report of Vault: verified with VAULT_CACERT, not without; a certificate ending soon is a warning", async () => {
    const server = await scripted([TOKEN_OK], tls);
    const settings = (extra: Record<string, string>) => resolveVaultSettings({ address: server.url }, { VAULT_TOKEN: 'hvs.test', ...extra }, configSchema.parse({}));
    const withCa = await vaultTls(settings({ VAULT_CACERT: caFile }));
    expect(withCa.detail).toMatch(/^TLSv1\.[23], CN=vault\.test until \d{4}-\d{2}-\d{2}, verified$/);
    expect(withCa.concern).toMatch(/within 30 days/);
    const without = await vaultTls(settings({}));
    expect(without).toMatchObject({ detail: expect.stringMatching(/NOT verified$/), concern: expect.stringMatching(/not checked/) });
    const skipped = await vaultTls(settings({ VAULT_CACERT: caFile, VAULT_SKIP_VERIFY: 'true' }));
    expect(skipped.concern).toMatch(/VAULT_SKIP_VERIFY is on/);
  });

  it('refuses a redirect to another host when no certificate is checked (VAULT_SKIP_VERIFY)', async () => {
    const standby = await scripted([(_req, _body, res) => {
      res.writeHead(307, { Location: 'https://vault-b.invalid:8200/v1/auth/token/lookup-self' });
      res.end();
    }], tls);
    await expect(client(standby.url, { VAULT_SKIP_VERIFY: 'true' }).lookupSelf()).rejects.toThrow(/it would send the Vault token unchecked \(VAULT_SKIP_VERIFY\) to a host eos was not pointed at/);
    expect(standby.seen).toHaveLength(1);
  });

  it('refuses a redirect that downgrades https to http', async () => {
    const plain = await scripted([TOKEN_OK]);
    const standby = await scripted([(_req, _body, res) => {
      res.writeHead(307, { Location: `${plain.url}/v1/auth/token/lookup-self` });
      res.end();
    }], tls);
    await expect(client(standby.url, { VAULT_CACERT: caFile }).lookupSelf()).rejects.toThrow(/downgrade https to http/);
    expect(plain.seen).toHaveLength(0);
  });
});

describe('the Vault client: answers are parsed at the boundary', () => {
  it('returns typed token data for a lookup-self that fits the API', async () => {
    const server = await scripted([TOKEN_OK]);
    const info = await client(server.url).lookupSelf();
    expect(info).toMatchObject({ accessor: 'a1', ttl: 100, renewable: true, explicit_max_ttl: 0 });
  });

  it('names the path and the field when an answer does not fit, instead of failing later', async () => {
    const server = await scripted([json(200, { data: { ...TOKEN_DATA, ttl: '100' }, lease_id: '', renewable: false, lease_duration: 0, warnings: null, auth: null })]);
    const err = await client(server.url).lookupSelf().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VaultResponseError);
    expect((err as Error).message).toMatch(/auth\/token\/lookup-self .*data\.ttl/);
    expect((err as VaultResponseError).exitCode).toBe(1);
  });

  it('refuses a lease renewal without a lease_duration, and a login answer without an auth block', async () => {
    const renewal = await scripted([json(200, { lease_id: 'database/creds/r/x', renewable: true, warnings: null })]);
    const err = await client(renewal.url).renewLease('database/creds/r/x', 60).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VaultResponseError);
    expect((err as Error).message).toMatch(/sys\/leases\/renew .*lease_duration/);
    const login = await scripted([json(200, { lease_id: '', renewable: false, lease_duration: 0, data: null, warnings: null, auth: null })]);
    const loginErr = await client(login.url).approleLogin('approle', 'role', 'secret').catch((e: unknown) => e);
    expect(loginErr).toBeInstanceOf(VaultResponseError);
    expect((loginErr as Error).message).toMatch(/auth\/approle\/login .*auth: missing/);
  });

  // OpenBao's handlers, surveyed: what a real server sends that a dev-mode answer never shows.
  it('takes the shapes OpenBao really sends: a batch token without policies, a list without keys, creds without a password', async () => {
    const batch = await scripted([json(200, { data: { ...TOKEN_DATA, accessor: '', policies: null, type: 'batch', renewable: false }, lease_id: '', renewable: false, lease_duration: 0, warnings: null, auth: null })]);
    expect((await client(batch.url).lookupSelf()).policies).toEqual([]);
    const list = await scripted([json(200, { data: {}, lease_id: '', renewable: false, lease_duration: 0, warnings: ['nothing listed'], auth: null })]);
    expect(await client(list.url).list('secret/metadata/delphi')).toEqual([]);
    const { databaseCredsSchema } = await import('../../src/vault/responses.js');
    const rsa = await scripted([json(200, { lease_id: 'database/creds/r/1', renewable: true, lease_duration: 60, data: { username: 'v-x', rsa_private_key: 'k' }, warnings: null, auth: null })]);
    expect((await client(rsa.url).read('database/creds/r', databaseCredsSchema)).data).toEqual({ username: 'v-x', rsa_private_key: 'k' });
  });

  it('a login Vault holds back for login MFA is refused by name (exit 4), not carried on with an empty token', async () => {
    const held = { client_token: '', accessor: '', policies: null, metadata: null, lease_duration: 0, renewable: false, mfa_requirement: { mfa_request_id: 'r1', mfa_constraints: {} } };
    const server = await scripted([json(200, { lease_id: '', renewable: false, lease_duration: 0, data: null, warnings: null, auth: held })]);
    const err = await client(server.url).approleLogin('approle', 'role', 'secret').catch((e: unknown) => e);
    expect((err as VaultError).exitCode).toBe(4);
    expect((err as Error).message).toBe('Vault holds the login at auth/approle/login back for multi-factor authentication (login MFA), which eos cannot answer');
    expect((err as VaultError).hint).toMatch(/login MFA enforcement/);
  });

  it('checks the data of a read against the caller\'s schema', async () => {
    const { databaseCredsSchema } = await import('../../src/vault/responses.js');
    const server = await scripted([json(200, { lease_id: 'database/creds/r/1', renewable: true, lease_duration: 60, data: { username: 'v-x', password: 7 }, warnings: null, auth: null })]);
    const err = await client(server.url).read('database/creds/r', databaseCredsSchema).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VaultResponseError);
    expect((err as Error).message).toMatch(/database\/creds\/r .*data\.password/);
  });
});
