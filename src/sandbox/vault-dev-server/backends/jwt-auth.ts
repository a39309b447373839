import { createPublicKey, type KeyObject } from 'node:crypto';
import { compactVerify, createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import type { Clock } from '../../../util/clock.js';
import type { TokenStore } from '../state/tokens.js';
import {
  badRequest,
  boolField,
  durationField,
  listField,
  noContent,
  notFound,
  ok,
  stringField,
  unsupportedOperation,
  unsupportedPath,
  type VaultResponse,
} from '../wire.js';
import type { Backend, BackendRequest, MountInfo, SpecialPaths } from './backend.js';
import { authBlock, tokenParamsData } from './token-fields.js';

/**
 * The `jwt` auth method (OpenBao's builtin/credential/jwt, reduced to JWT login): a CI job or a
 * pod logs in with the identity token its platform signed. Verification follows OpenBao's
 * order and error texts: the signature (static PEM keys, a JWKS URL, or OIDC discovery), the
 * algorithm, iss, sub, aud, then exp/nbf/iat with leeways, then the role's bound claims.
 */

interface JwtConfig {
  pubkeys: KeyObject[];
  pubkeysPem: string[];
  jwksUrl: string;
  discoveryUrl: string;
  boundIssuer: string;
  supportedAlgs: string[];
  defaultRole: string;
}

interface JwtRole {
  roleType: string;
  boundAudiences: string[];
  boundSubject: string;
  boundClaims: Record<string, unknown> | null;
  boundClaimsType: 'string' | 'glob';
  userClaim: string;
  claimMappings: Record<string, string> | null;
  tokenTtl: number;
  tokenMaxTtl: number;
  tokenPolicies: string[];
  noDefaultPolicy: boolean;
  expirationLeeway: number;
  notBeforeLeeway: number;
  clockSkewLeeway: number;
}

/**
 * OpenBao's leeways: 0 (the stored default) means 150 s for exp/nbf when they are derived and
 * 60 s of clock skew on every time claim; a negative value means none.
 */
const CLAIM_DEFAULT_LEEWAY = 150;
const CLOCK_SKEW_DEFAULT = 60;
const leeway = (value: number, fallback: number) => (value < 0 ? 0 : value === 0 ? fallback : value);
/** The algorithms OpenBao accepts when jwt_supported_algs is not set. */
const DEFAULT_ALGS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'EdDSA'];

export class JwtAuthBackend implements Backend {
  readonly special: SpecialPaths = { unauthenticated: ['login'] };
  private config: JwtConfig | null = null;
  private readonly roles = new Map<string, JwtRole>();

  constructor(
    private readonly mount: MountInfo,
    private readonly clock: Clock,
    private readonly tokens: TokenStore,
  ) {}

  async handle(request: BackendRequest): Promise<VaultResponse> {
    const { subpath } = request;
    const path = subpath.replace(/\/+$/, '');
    if (path === 'login') {
      if (request.operation !== 'update') throw unsupportedOperation();
      return this.login(request.body);
    }
    if (path === 'config') return this.configRoute(request);
    if (path === 'role') {
      if (request.operation !== 'list' && request.operation !== 'read') throw unsupportedOperation();
      if (this.roles.size === 0) throw notFound();
      return ok({ data: { keys: [...this.roles.keys()].sort() } });
    }
    if (path.startsWith('role/')) return this.roleRoute(request, path.slice('role/'.length));
    throw unsupportedPath();
  }

  private async configRoute(request: BackendRequest): Promise<VaultResponse> {
    if (request.operation === 'read') {
      if (!this.config) throw notFound();
      const c = this.config;
      return ok({
        data: {
          bound_issuer: c.boundIssuer,
          default_role: c.defaultRole,
          jwks_url: c.jwksUrl,
          jwt_supported_algs: c.supportedAlgs,
          jwt_validation_pubkeys: c.pubkeysPem,
          oidc_discovery_url: c.discoveryUrl,
        },
      });
    }
    if (request.operation !== 'update') throw unsupportedOperation();
    const body = request.body;
    const pubkeysPem = listField(body, 'jwt_validation_pubkeys') ?? [];
    const jwksUrl = stringField(body, 'jwks_url') ?? '';
    const discoveryUrl = stringField(body, 'oidc_discovery_url') ?? '';
    if ([pubkeysPem.length > 0, jwksUrl !== '', discoveryUrl !== ''].filter(Boolean).length !== 1) {
      throw badRequest("exactly one of 'jwt_validation_pubkeys', 'jwks_url', 'jwks_pairs', 'oidc_discovery_url', or 'provider_config' must be set");
    }
    const pubkeys: KeyObject[] = [];
    for (const pem of pubkeysPem) {
      try {
        const key = createPublicKey(pem);
        if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'ec' && key.asymmetricKeyType !== 'ed25519') throw new Error('unsupported key type');
        pubkeys.push(key);
      } catch {
        throw badRequest('error parsing public key: data does not contain any valid RSA or ECDSA public keys');
      }
    }
    if (discoveryUrl.includes('.well-known')) throw badRequest("'oidc_discovery_url' contains '.well-known' component");
    if (jwksUrl) await fetchJwks(jwksUrl).catch(() => Promise.reject(badRequest('error checking jwks URL')));
    if (discoveryUrl) {
      await discoverJwksUrl(discoveryUrl).catch((err: Error) => Promise.reject(badRequest(`error checking oidc discovery URL: ${err.message}`)));
    }
    this.config = {
      pubkeys,
      pubkeysPem,
      jwksUrl,
      discoveryUrl,
      boundIssuer: stringField(body, 'bound_issuer') ?? '',
      supportedAlgs: listField(body, 'jwt_supported_algs') ?? [],
      defaultRole: stringField(body, 'default_role') ?? '',
    };
    return noContent();
  }

  private roleRoute(request: BackendRequest, name: string): VaultResponse {
    const existing = this.roles.get(name);
    switch (request.operation) {
      case 'read':
        if (!existing) throw notFound();
        return ok({
          data: {
            allowed_redirect_uris: null,
            bound_audiences: existing.boundAudiences,
            bound_claims: existing.boundClaims,
            bound_claims_type: existing.boundClaimsType,
            bound_subject: existing.boundSubject,
            callback_mode: 'client',
            claim_mappings: existing.claimMappings,
            clock_skew_leeway: existing.clockSkewLeeway,
            expiration_leeway: existing.expirationLeeway,
            groups_claim: '',
            max_age: 0,
            not_before_leeway: existing.notBeforeLeeway,
            oauth2_metadata: null,
            oidc_disable_confirmation: false,
            oidc_scopes: null,
            role_type: existing.roleType,
            ...tokenParamsData({ ttl: existing.tokenTtl, maxTtl: existing.tokenMaxTtl, policies: existing.tokenPolicies, noDefaultPolicy: existing.noDefaultPolicy }),
            token_policies_template_claims: false,
            user_claim: existing.userClaim,
            user_claim_json_pointer: false,
            verbose_oidc_logging: false,
          },
        });
      case 'delete':
        this.roles.delete(name);
        return noContent();
      case 'update': {
        const body = request.body;
        const roleType = stringField(body, 'role_type') ?? existing?.roleType ?? 'oidc';
        if (roleType !== 'jwt' && roleType !== 'oidc') throw badRequest(`invalid 'role_type': ${roleType}`);
        const boundClaimsType = stringField(body, 'bound_claims_type') ?? existing?.boundClaimsType ?? 'string';
        if (boundClaimsType !== 'string' && boundClaimsType !== 'glob') throw badRequest(`invalid 'bound_claims_type': ${boundClaimsType}`);
        const role: JwtRole = {
          roleType,
          boundAudiences: listField(body, 'bound_audiences') ?? existing?.boundAudiences ?? [],
          boundSubject: stringField(body, 'bound_subject') ?? existing?.boundSubject ?? '',
          boundClaims: (body.bound_claims as Record<string, unknown> | undefined) ?? existing?.boundClaims ?? null,
          boundClaimsType,
          userClaim: stringField(body, 'user_claim') ?? existing?.userClaim ?? '',
          claimMappings: (body.claim_mappings as Record<string, string> | undefined) ?? existing?.claimMappings ?? null,
          tokenTtl: durationField(body, 'token_ttl') ?? durationField(body, 'ttl') ?? existing?.tokenTtl ?? 0,
          tokenMaxTtl: durationField(body, 'token_max_ttl') ?? durationField(body, 'max_ttl') ?? existing?.tokenMaxTtl ?? 0,
          tokenPolicies: listField(body, 'token_policies') ?? listField(body, 'policies') ?? existing?.tokenPolicies ?? [],
          noDefaultPolicy: boolField(body, 'token_no_default_policy', existing?.noDefaultPolicy ?? false),
          expirationLeeway: durationField(body, 'expiration_leeway') ?? existing?.expirationLeeway ?? 0,
          notBeforeLeeway: durationField(body, 'not_before_leeway') ?? existing?.notBeforeLeeway ?? 0,
          clockSkewLeeway: durationField(body, 'clock_skew_leeway') ?? existing?.clockSkewLeeway ?? 0,
        };
        if (role.userClaim === '') throw badRequest('a user claim must be defined on the role');
        if (role.roleType === 'oidc') throw badRequest("'allowed_redirect_uris' must be set if 'role_type' is 'oidc' or unspecified.");
        if (role.boundAudiences.length === 0 && role.boundSubject === '' && (!role.boundClaims || Object.keys(role.boundClaims).length === 0)) {
          throw badRequest('must have at least one bound constraint when creating/updating a role');
        }
        if (role.tokenMaxTtl > 0 && role.tokenTtl > role.tokenMaxTtl) throw badRequest('ttl should not be greater than max ttl');
        this.roles.set(name, role);
        return noContent();
      }
      default:
        throw unsupportedOperation();
    }
  }

  private async login(body: Record<string, unknown>): Promise<VaultResponse> {
    const config = this.config;
    if (!config) throw badRequest('could not load configuration');
    const roleName = stringField(body, 'role') || config.defaultRole;
    if (!roleName) throw badRequest('missing role');
    const role = this.roles.get(roleName);
    if (!role) throw badRequest(`role "${roleName}" could not be found`);
    if (role.roleType === 'oidc') throw badRequest('role with oidc role_type is not allowed');
    const jwt = stringField(body, 'jwt') ?? '';
    if (jwt === '') throw badRequest('missing token');

    const claims = await this.validate(jwt, config, role).catch((err: Error) => Promise.reject(badRequest(`error validating token: ${err.message}`)));
    if (claims.aud !== undefined && audiences(claims.aud).length > 0 && role.boundAudiences.length === 0) {
      throw badRequest('audience claim found in JWT but no audiences bound to the role');
    }
    const user = claims[role.userClaim];
    if (user === undefined || user === null) throw badRequest(`claim "${role.userClaim}" not found in token`);
    if (typeof user !== 'string' && typeof user !== 'number' && typeof user !== 'boolean') throw badRequest(`claim "${role.userClaim}" could not be converted to string`);
    const boundProblem = checkBoundClaims(role, claims);
    if (boundProblem) throw badRequest(`error validating claims: ${boundProblem}`);

    const meta: Record<string, string> = { role: roleName };
    for (const [claim, key] of Object.entries(role.claimMappings ?? {})) {
      const value = claims[claim];
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') meta[key] = String(value);
    }
    const token = this.tokens.create({
      policies: role.noDefaultPolicy ? role.tokenPolicies : ['default', ...role.tokenPolicies],
      displayName: `${this.mount.path.replace(/\/$/, '')}-${String(user)}`,
      path: `auth/${this.mount.path}login`,
      ttl: role.tokenTtl,
      maxTtl: role.tokenMaxTtl,
      meta,
      orphan: true,
    });
    return ok({ auth: authBlock(token, token.creationTtl) });
  }

  /** The signature, then the claims, in the order and with the words of OpenBao's validator. */
  private async validate(jwt: string, config: JwtConfig, role: JwtRole): Promise<Record<string, unknown>> {
    let payload: Uint8Array | undefined;
    let lastError = 'no known key successfully validated the token signature';
    if (config.pubkeys.length > 0) {
      for (const key of config.pubkeys) {
        try {
          payload = (await compactVerify(jwt, key)).payload;
          break;
        } catch {
          // the next key may be the one
        }
      }
    } else {
      const jwksUrl = config.jwksUrl || (await discoverJwksUrl(config.discoveryUrl));
      try {
        payload = (await compactVerify(jwt, createLocalJWKSet(await fetchJwks(jwksUrl)))).payload;
      } catch {
        lastError = 'failed to verify id token signature';
      }
    }
    if (!payload) throw new Error(`error verifying token signature: ${lastError}`);
    const alg = decodeProtectedHeader(jwt).alg ?? '';
    const allowed = config.supportedAlgs.length > 0 ? config.supportedAlgs : DEFAULT_ALGS;
    if (!allowed.includes(alg)) throw new Error('invalid algorithm (alg) header parameter: token signed with unexpected algorithm');

    const claims = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
    if (config.boundIssuer && config.boundIssuer !== claims.iss) throw new Error('invalid issuer (iss) claim');
    if (role.boundSubject && role.boundSubject !== claims.sub) throw new Error('invalid subject (sub) claim');
    if (role.boundAudiences.length > 0 && !role.boundAudiences.some((a) => audiences(claims.aud).includes(a))) {
      throw new Error('invalid audience (aud) claim: audience claim does not match any expected audience');
    }
    const seconds = (name: string) => (typeof claims[name] === 'number' ? (claims[name] as number) : 0);
    const iat = seconds('iat');
    let exp = seconds('exp');
    let nbf = seconds('nbf');
    if (iat === 0 && exp === 0 && nbf === 0) throw new Error('no issued at (iat), not before (nbf), or expiration time (exp) claims in token');
    if (exp === 0) exp = Math.max(iat, nbf) + leeway(role.expirationLeeway, CLAIM_DEFAULT_LEEWAY);
    if (nbf === 0) nbf = iat !== 0 ? iat : exp - leeway(role.notBeforeLeeway, CLAIM_DEFAULT_LEEWAY);
    const now = this.clock.now() / 1000;
    const skew = leeway(role.clockSkewLeeway, CLOCK_SKEW_DEFAULT);
    if (now + skew < nbf) throw new Error('invalid not before (nbf) claim: token not yet valid');
    if (now - skew > exp) throw new Error('invalid expiration time (exp) claim: token is expired');
    if (iat !== 0 && now + skew < iat) throw new Error('invalid issued at (iat) claim: token issued in the future');
    return claims;
  }
}

function audiences(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  return Array.isArray(aud) ? aud.map(String) : [];
}

/** Vault's bound claims: every bound claim present, one of its values matching (globs: `*` only). */
function checkBoundClaims(role: JwtRole, claims: Record<string, unknown>): string | undefined {
  for (const [name, expected] of Object.entries(role.boundClaims ?? {})) {
    const actual = claimAt(claims, name);
    if (actual === undefined || actual === null) return `claim "${name}" is missing`;
    const actualValues = Array.isArray(actual) ? actual : [actual];
    const expectedValues = Array.isArray(expected) ? expected : typeof expected === 'string' ? expected.split(',').map((v) => v.trim()) : [expected];
    const match = expectedValues.some((e) =>
      actualValues.some((a) => (role.boundClaimsType === 'glob' ? typeof e === 'string' && typeof a === 'string' && globMatch(e, a) : a === e)),
    );
    if (!match) return `claim "${name}" does not match any associated bound claim values`;
  }
  return undefined;
}

/** A claim by name, or by JSON pointer (`/nested/key`) as Vault allows. */
function claimAt(claims: Record<string, unknown>, name: string): unknown {
  if (!name.startsWith('/')) return claims[name];
  let value: unknown = claims;
  for (const part of name.slice(1).split('/')) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  return value;
}

function globMatch(pattern: string, value: string): boolean {
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`, 's').test(value);
}

async function fetchJwks(url: string): Promise<JSONWebKeySet> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
  const body = (await res.json()) as JSONWebKeySet;
  if (!Array.isArray(body?.keys)) throw new Error('not a JSON Web Key Set');
  return body;
}

/** The jwks_uri of an OIDC issuer, from its discovery document (whose issuer must match). */
async function discoverJwksUrl(issuer: string): Promise<string> {
  const res = await fetch(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
  const doc = (await res.json()) as { issuer?: string; jwks_uri?: string };
  if (doc.issuer !== issuer) throw new Error(`issuer did not match the returned issuer, expected "${issuer}" got "${doc.issuer ?? ''}"`);
  if (!doc.jwks_uri) throw new Error('no jwks_uri in the discovery document');
  return doc.jwks_uri;
}
