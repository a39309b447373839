import { createPublicKey, type KeyObject } from 'node:crypto';
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
import { audiences, checkBoundClaims, discoverJwksUrl, fetchJwks, verifyJwt, type JwtConfig, type JwtRole } from './jwt-verify.js';
import { authBlock, tokenParamsData } from './token-fields.js';

/**
 * The `jwt` auth method (OpenBao's builtin/credential/jwt, reduced to JWT login): its config,
 * roles and login, for a CI job or a pod that logs in with the identity token its platform
 * signed. How the token is checked is jwt-verify.ts.
 */

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

    const claims = await verifyJwt(jwt, config, role, this.clock.now()).catch((err: Error) => Promise.reject(badRequest(`error validating token: ${err.message}`)));
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
}
