import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contractTarget, http, unique, type ContractTarget } from './target.js';

/** A key pair that signs identity tokens, as a CI platform's issuer does. */
async function signer(alg: 'RS256' | 'ES256', kid: string) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, kid, publicKey, privateKey, pem: await exportSPKI(publicKey), jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } as JWK };
}
type Signer = Awaited<ReturnType<typeof signer>>;

const now = () => Math.floor(Date.now() / 1000);

async function sign(key: Signer, claims: Record<string, unknown>, times: { iat?: number; exp?: number; nbf?: number } = {}): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' });
  jwt.setIssuedAt(times.iat ?? now());
  jwt.setExpirationTime(times.exp ?? now() + 300);
  if (times.nbf !== undefined) jwt.setNotBefore(times.nbf);
  return jwt.sign(key.privateKey as CryptoKey);
}

describe('Vault API contract: the jwt auth method', () => {
  let target: ContractTarget;
  let vault: ReturnType<typeof http>;
  let anonymous: ReturnType<typeof http>;
  let rsa: Signer;
  let ec: Signer;
  let stranger: Signer;
  let issuerServer: Server;
  let issuerUrl: string;
  const mounts: string[] = [];
  const policy = unique('jwt-reader');

  /** A fresh jwt mount configured with `config`; returns its name. */
  async function mount(config: Record<string, unknown>): Promise<string> {
    const name = unique('jwt');
    mounts.push(name);
    expect((await vault('POST', `sys/auth/${name}`, { type: 'jwt' })).status).toBe(204);
    const r = await vault('POST', `auth/${name}/config`, config);
    expect(r.status, r.text).toBe(204);
    return name;
  }

  const claims = (extra: Record<string, unknown> = {}) => ({ iss: issuerUrl, aud: 'eos-ci', sub: 'repo:delphi/pipeline:ref:refs/heads/main', ref: 'refs/heads/main', ...extra });

  beforeAll(async () => {
    target = await contractTarget();
    vault = http(target);
    anonymous = http(target, null);
    [rsa, ec, stranger] = await Promise.all([signer('RS256', 'rsa-1'), signer('ES256', 'ec-1'), signer('RS256', 'rsa-1')]);
    // The issuer's discovery document and keys, on 127.0.0.1 (a real Vault/OpenBao reaches it too).
    issuerServer = createServer((req, res) => {
      res.setHeader('Content-Type', 'application/json');
      if (req.url === '/.well-known/openid-configuration') res.end(JSON.stringify({ issuer: issuerUrl, jwks_uri: `${issuerUrl}/keys` }));
      else if (req.url === '/keys') res.end(JSON.stringify({ keys: [rsa.jwk, ec.jwk] }));
      else res.writeHead(404).end('{}');
    });
    await new Promise<void>((resolve) => issuerServer.listen(0, '127.0.0.1', resolve));
    issuerUrl = `http://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;
    await vault('PUT', `sys/policies/acl/${policy}`, { policy: 'path "secret/data/x" { capabilities = ["read"] }' });
  });
  afterAll(async () => {
    for (const name of mounts) await vault('DELETE', `sys/auth/${name}`);
    await vault('DELETE', `sys/policies/acl/${policy}`);
    await new Promise((resolve) => issuerServer?.close(resolve));
    await target?.stop();
  });

  async function role(mountName: string, name: string, fields: Record<string, unknown> = {}) {
    const r = await vault('POST', `auth/${mountName}/role/${name}`, {
      role_type: 'jwt',
      user_claim: 'sub',
      bound_audiences: 'eos-ci',
      token_policies: policy,
      token_ttl: '15s',
      token_max_ttl: '30s',
      ...fields,
    });
    expect(r.status, r.text).toBe(204);
  }

  const login = (mountName: string, body: Record<string, unknown>) => anonymous('POST', `auth/${mountName}/login`, body);

  describe('config and roles', () => {
    it('wants exactly one source of keys, and keys it can parse', async () => {
      const name = unique('jwt');
      mounts.push(name);
      await vault('POST', `sys/auth/${name}`, { type: 'jwt' });
      const none = await vault('POST', `auth/${name}/config`, { bound_issuer: 'x' });
      expect(none.json).toEqual({ errors: ["exactly one of 'jwt_validation_pubkeys', 'jwks_url', 'jwks_pairs', 'oidc_discovery_url', or 'provider_config' must be set"] });
      const two = await vault('POST', `auth/${name}/config`, { jwt_validation_pubkeys: [rsa.pem], jwks_url: `${issuerUrl}/keys` });
      expect(two.status).toBe(400);
      const bad = await vault('POST', `auth/${name}/config`, { jwt_validation_pubkeys: ['-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----'] });
      expect(bad.status).toBe(400);
      expect(bad.json.errors[0]).toMatch(/^error parsing public key: /);
    });

    it('refuses a role without a user claim or without any bound constraint', async () => {
      const name = await mount({ jwt_validation_pubkeys: [rsa.pem] });
      expect((await vault('POST', `auth/${name}/role/r`, { role_type: 'jwt', bound_audiences: 'x' })).json).toEqual({ errors: ['a user claim must be defined on the role'] });
      expect((await vault('POST', `auth/${name}/role/r`, { role_type: 'jwt', user_claim: 'sub' })).json).toEqual({ errors: ['must have at least one bound constraint when creating/updating a role'] });
      expect((await vault('GET', `auth/${name}/role/r`)).status).toBe(404);
      await role(name, 'r', { claim_mappings: { ref: 'git_ref' } });
      expect((await vault('GET', `auth/${name}/role/r`)).json.data).toMatchObject({
        role_type: 'jwt',
        user_claim: 'sub',
        bound_audiences: ['eos-ci'],
        bound_claims_type: 'string',
        claim_mappings: { ref: 'git_ref' },
        token_ttl: 15,
        token_max_ttl: 30,
        token_policies: [policy],
        expiration_leeway: 0,
        clock_skew_leeway: 0,
        token_type: 'default',
      });
    });
  });

  describe('login', () => {
    let keys: string;
    beforeAll(async () => {
      keys = await mount({ jwt_validation_pubkeys: [rsa.pem, ec.pem], bound_issuer: issuerUrl });
      await role(keys, 'ci');
      await role(keys, 'main-only', { bound_claims_type: 'glob', bound_claims: { ref: 'refs/heads/ma*' } });
    });

    it('turns a valid RS256 or ES256 identity token into a Vault token with the role\'s policies and TTL', async () => {
      for (const key of [rsa, ec]) {
        const r = await login(keys, { role: 'ci', jwt: await sign(key, claims()) });
        expect(r.status, r.text).toBe(200);
        expect(r.json.auth).toMatchObject({ policies: ['default', policy].sort(), token_policies: ['default', policy].sort(), lease_duration: 15, renewable: true, metadata: { role: 'ci' } });
        const self = await http(target, r.json.auth.client_token)('GET', 'auth/token/lookup-self');
        // The display name is the mount and the user claim, as Vault makes it.
        expect(self.json.data).toMatchObject({ path: `auth/${keys}/login`, display_name: `${keys}-repo:delphi/pipeline:ref:refs/heads/main`, explicit_max_ttl: 0 });
        expect(self.json.data.ttl).toBeLessThanOrEqual(15);
        // Renewal is capped at the role's max TTL, with Vault's warning.
        const renewed = await http(target, r.json.auth.client_token)('PUT', 'auth/token/renew-self', { increment: '1h' });
        expect(renewed.json.auth.lease_duration).toBeLessThanOrEqual(30);
        // The effective max TTL is what is left of the 30 s, so a slow run sees 29 s.
        expect(renewed.json.warnings).toHaveLength(1);
        expect(renewed.json.warnings[0]).toMatch(/^TTL of "1h" exceeded the effective max_ttl of "(30|2\d)s"; TTL value is capped accordingly$/);
      }
    });

    it('refuses an expired token, with OpenBao\'s message', async () => {
      const r = await login(keys, { role: 'ci', jwt: await sign(rsa, claims(), { iat: now() - 600, exp: now() - 120 }) });
      expect(r.status).toBe(400);
      expect(r.json.errors).toEqual(['error validating token: invalid expiration time (exp) claim: token is expired']);
    });

    it('refuses a token not valid yet', async () => {
      const r = await login(keys, { role: 'ci', jwt: await sign(rsa, claims(), { iat: now(), nbf: now() + 600, exp: now() + 900 }) });
      expect(r.json.errors).toEqual(['error validating token: invalid not before (nbf) claim: token not yet valid']);
    });

    it('refuses the wrong audience', async () => {
      const r = await login(keys, { role: 'ci', jwt: await sign(rsa, claims({ aud: 'someone-else' })) });
      expect(r.status).toBe(400);
      expect(r.json.errors).toEqual(['error validating token: invalid audience (aud) claim: audience claim does not match any expected audience']);
    });

    it('refuses the wrong issuer', async () => {
      const r = await login(keys, { role: 'ci', jwt: await sign(rsa, claims({ iss: 'https://evil.example' })) });
      expect(r.json.errors).toEqual(['error validating token: invalid issuer (iss) claim']);
    });

    it('matches bound claims with globs, and refuses a claim that matches none', async () => {
      expect((await login(keys, { role: 'main-only', jwt: await sign(rsa, claims({ ref: 'refs/heads/main' })) })).status).toBe(200);
      const r = await login(keys, { role: 'main-only', jwt: await sign(rsa, claims({ ref: 'refs/heads/feature' })) });
      expect(r.status).toBe(400);
      expect(r.json.errors).toEqual(['error validating claims: claim "ref" does not match any associated bound claim values']);
      const missing = await login(keys, { role: 'main-only', jwt: await sign(rsa, { iss: issuerUrl, aud: 'eos-ci', sub: 'x' }) });
      expect(missing.json.errors).toEqual(['error validating claims: claim "ref" is missing']);
    });

    it('refuses a bad signature', async () => {
      const r = await login(keys, { role: 'ci', jwt: await sign(stranger, claims()) });
      expect(r.status).toBe(400);
      expect(r.json.errors).toEqual(['error validating token: error verifying token signature: no known key successfully validated the token signature']);
      const [head, body] = (await sign(rsa, claims())).split('.');
      const tampered = `${head}.${body}.${'A'.repeat(342)}`;
      expect((await login(keys, { role: 'ci', jwt: tampered })).status).toBe(400);
    });

    it('names what is missing: the role, an unknown role, the token', async () => {
      expect((await login(keys, { jwt: 'x' })).json).toEqual({ errors: ['missing role'] });
      expect((await login(keys, { role: 'nope', jwt: 'x' })).json).toEqual({ errors: ['role "nope" could not be found'] });
      expect((await login(keys, { role: 'ci' })).json).toEqual({ errors: ['missing token'] });
    });
  });

  describe('keys from the issuer', () => {
    it('verifies with a JWKS URL', async () => {
      const name = await mount({ jwks_url: `${issuerUrl}/keys` });
      await role(name, 'ci');
      expect((await login(name, { role: 'ci', jwt: await sign(ec, claims()) })).status).toBe(200);
      const bad = await login(name, { role: 'ci', jwt: await sign(stranger, claims()) });
      expect(bad.status).toBe(400);
      expect(bad.json.errors[0]).toMatch(/^error validating token: error verifying token signature: /);
    });

    it('finds the keys by OIDC discovery, and checks the discovery document\'s issuer', async () => {
      const name = await mount({ oidc_discovery_url: issuerUrl, bound_issuer: issuerUrl });
      await role(name, 'ci');
      expect((await login(name, { role: 'ci', jwt: await sign(rsa, claims()) })).status).toBe(200);
      const wrongName = unique('jwt');
      mounts.push(wrongName);
      await vault('POST', `sys/auth/${wrongName}`, { type: 'jwt' });
      const wrong = await vault('POST', `auth/${wrongName}/config`, { oidc_discovery_url: `${issuerUrl}/nothing-here` });
      expect(wrong.status).toBe(400);
      expect(wrong.json.errors[0]).toMatch(/^error checking oidc discovery URL: /);
    });
  });
});
