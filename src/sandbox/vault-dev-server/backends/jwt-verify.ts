import type { KeyObject } from 'node:crypto';
import { compactVerify, createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet } from 'jose';

/**
 * How the jwt auth method checks an identity token, in OpenBao's order and with its texts: the
 * signature (static PEM keys, a JWKS URL, or OIDC discovery), the algorithm, iss, sub, aud,
 * then exp/nbf/iat with leeways; and the role's bound claims.
 */

export interface JwtConfig {
  pubkeys: KeyObject[];
  pubkeysPem: string[];
  jwksUrl: string;
  discoveryUrl: string;
  boundIssuer: string;
  supportedAlgs: string[];
  defaultRole: string;
}

export interface JwtRole {
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

/** The signature, then the claims, in the order and with the words of OpenBao's validator. */
export async function verifyJwt(jwt: string, config: JwtConfig, role: JwtRole, nowMs: number): Promise<Record<string, unknown>> {
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
  const now = nowMs / 1000;
  const skew = leeway(role.clockSkewLeeway, CLOCK_SKEW_DEFAULT);
  if (now + skew < nbf) throw new Error('invalid not before (nbf) claim: token not yet valid');
  if (now - skew > exp) throw new Error('invalid expiration time (exp) claim: token is expired');
  if (iat !== 0 && now + skew < iat) throw new Error('invalid issued at (iat) claim: token issued in the future');
  return claims;
}

export function audiences(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  return Array.isArray(aud) ? aud.map(String) : [];
}

/** Vault's bound claims: every bound claim present, one of its values matching (globs: `*` only). */
export function checkBoundClaims(role: JwtRole, claims: Record<string, unknown>): string | undefined {
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

export async function fetchJwks(url: string): Promise<JSONWebKeySet> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
  const body = (await res.json()) as JSONWebKeySet;
  if (!Array.isArray(body?.keys)) throw new Error('not a JSON Web Key Set');
  return body;
}

/** The jwks_uri of an OIDC issuer, from its discovery document (whose issuer must match). */
export async function discoverJwksUrl(issuer: string): Promise<string> {
  const res = await fetch(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
  const doc = (await res.json()) as { issuer?: string; jwks_uri?: string };
  if (doc.issuer !== issuer) throw new Error(`issuer did not match the returned issuer, expected "${issuer}" got "${doc.issuer ?? ''}"`);
  if (!doc.jwks_uri) throw new Error('no jwks_uri in the discovery document');
  return doc.jwks_uri;
}
