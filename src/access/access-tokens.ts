/**
 * Our own access tokens: JWTs (RFC 9068 profile, `typ: at+jwt`) signed ES256 with the keys
 * capability's current `jwt` key and verified against every current and retired public key.
 */
import { createHash, randomUUID } from 'node:crypto';
import { decodeProtectedHeader, errors, importJWK, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { PulsegateError } from '../errors.js';
import type { AccessContext, JsonWebKey, PublicJwk } from './deps.js';

/** Our claims on top of the registered ones (iss, aud, sub, exp, nbf, iat, jti). */
export interface AccessClaims {
  readonly sub: string;
  readonly kind: 'user' | 'client';
  readonly role: string;
  readonly care_units: readonly string[];
  readonly vendor_devices?: readonly string[];
  /** Space-separated SMART scopes; absent for plain user sessions. */
  readonly scope?: string;
  /** Break-glass session: its id and expiry (Unix seconds). */
  readonly bg?: { readonly id: string; readonly exp: number };
}

/** A verified token: our claims plus its id and expiry. */
export interface VerifiedAccessToken extends AccessClaims {
  readonly jti: string;
  readonly exp: number;
}

/** An issued token. */
export interface IssuedAccessToken {
  readonly token: string;
  readonly jti: string;
  /** Seconds until expiry. */
  readonly expiresIn: number;
}

type ImportedKey = Awaited<ReturnType<typeof importJWK>>;

const ALGORITHM = 'ES256';
const TYP = 'at+jwt';
const KEY_LIST_TTL_MS = 30_000;
/** Verified tokens remembered (by SHA-256) so a busy client does not cost an ECDSA verify per request. */
const VERIFIED_CACHE_SIZE = 10_000;

/** Public members only: a JWKS must never carry private or symmetric key material. */
export function publicJwk(jwk: JsonWebKey): PublicJwk {
  const { kty = '', crv, x, y, n, e, kid, alg, use } = jwk;
  return JSON.parse(JSON.stringify({ kty, crv, x, y, n, e, kid, alg, use })) as PublicJwk;
}

/** Issues and verifies access tokens; caches imported verification keys by kid. */
export function createAccessTokens(ctx: AccessContext) {
  const imported = new Map<string, { x: string; key: ImportedKey }>();

  let known: { at: number; keys: JsonWebKey[] } | undefined;
  /**
   * Tokens whose signature and claims already verified, until they expire. A token is immutable,
   * so the answer cannot change before `exp`; the account behind it (disabled, narrowed) is still
   * read from the database on every request by the authenticator.
   */
  const verified = new Map<string, VerifiedAccessToken>();

  /**
   * The public key for `kid`. The key list is reused for up to 30 s; an unknown kid always
   * refetches, so a key rotated in on another node verifies at once.
   */
  async function jwkFor(kid: string): Promise<JsonWebKey | undefined> {
    const now = ctx.now();
    const hit = known && now - known.at < KEY_LIST_TTL_MS ? known.keys.find((k) => k.kid === kid) : undefined;
    if (hit) return hit;
    known = { at: now, keys: await ctx.keys.verificationKeys('jwt') };
    return known.keys.find((k) => k.kid === kid);
  }

  async function keyFor(kid: unknown): Promise<ImportedKey> {
    if (typeof kid !== 'string') throw new PulsegateError('AUTH_TOKEN_INVALID');
    const jwk = await jwkFor(kid);
    if (jwk?.kty !== 'EC' || jwk.crv !== 'P-256') throw new PulsegateError('AUTH_TOKEN_INVALID');
    const cached = imported.get(kid);
    if (cached && cached.x === `${jwk.x}.${jwk.y}`) return cached.key;
    const key = await importJWK(publicJwk(jwk), ALGORITHM);
    imported.set(kid, { x: `${jwk.x}.${jwk.y}`, key });
    return key;
  }

  return {
    /** Signs a token that lives `ttlSeconds` (or until `bg.exp`, whichever the caller chose). */
    async issue(claims: AccessClaims, ttlSeconds: number): Promise<IssuedAccessToken> {
      const signing = await ctx.keys.signingKey('jwt');
      if (signing.alg !== ALGORITHM) throw new PulsegateError('INTERNAL', 'The jwt signing key is not ES256');
      const iat = Math.floor(ctx.now() / 1000);
      const jti = randomUUID();
      const token = await new SignJWT({ ...claims })
        .setProtectedHeader({ alg: ALGORITHM, kid: signing.kid, typ: TYP })
        .setIssuer(ctx.config.issuer)
        .setAudience(ctx.config.audience)
        .setSubject(claims.sub)
        .setIssuedAt(iat)
        .setNotBefore(iat)
        .setExpirationTime(iat + ttlSeconds)
        .setJti(jti)
        .sign(signing.privateKey);
      return { token, jti, expiresIn: ttlSeconds };
    },

    /** Verifies signature, algorithm, kid, typ, iss, aud, exp and nbf; maps each failure to its code. */
    async verify(token: string): Promise<VerifiedAccessToken> {
      const digest = createHash('sha256').update(token).digest('base64url');
      const hit = verified.get(digest);
      if (hit && hit.exp * 1000 > ctx.now()) return hit;
      if (hit) verified.delete(digest);
      let header: ReturnType<typeof decodeProtectedHeader>;
      try {
        header = decodeProtectedHeader(token);
      } catch {
        throw new PulsegateError('AUTH_TOKEN_INVALID');
      }
      // Pinned before any key lookup: `none` and HMAC (keyed with our public key) never get further.
      if (header.alg !== ALGORITHM) throw new PulsegateError('AUTH_TOKEN_ALGORITHM');
      const key = await keyFor(header.kid);
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key, {
          algorithms: [ALGORITHM],
          issuer: ctx.config.issuer,
          audience: ctx.config.audience,
          typ: TYP,
          currentDate: new Date(ctx.now()),
          requiredClaims: ['sub', 'exp', 'iat', 'jti'],
        }));
      } catch (error) {
        throw mapJoseError(error);
      }
      const claims = checkShape(payload);
      if (verified.size >= VERIFIED_CACHE_SIZE) verified.clear();
      verified.set(digest, claims);
      return claims;
    },
  };
}

/** The verifier's public shape. */
export type AccessTokens = ReturnType<typeof createAccessTokens>;

function mapJoseError(error: unknown): PulsegateError {
  if (error instanceof errors.JWTExpired) return new PulsegateError('AUTH_TOKEN_EXPIRED');
  if (error instanceof errors.JOSEAlgNotAllowed) return new PulsegateError('AUTH_TOKEN_ALGORITHM');
  if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'aud') {
    return new PulsegateError('AUTH_TOKEN_AUDIENCE');
  }
  return new PulsegateError('AUTH_TOKEN_INVALID');
}

const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** Our own signature is on it, but a token from an older version may still lack a claim. */
function checkShape(p: JWTPayload): VerifiedAccessToken {
  const kind = p.kind;
  const bg = p.bg as { id?: unknown; exp?: unknown } | undefined;
  const ok =
    typeof p.sub === 'string' &&
    typeof p.jti === 'string' &&
    typeof p.exp === 'number' &&
    (kind === 'user' || kind === 'client') &&
    typeof p.role === 'string' &&
    strings(p.care_units) &&
    (p.vendor_devices === undefined || strings(p.vendor_devices)) &&
    (p.scope === undefined || typeof p.scope === 'string') &&
    (bg === undefined || (typeof bg.id === 'string' && typeof bg.exp === 'number'));
  if (!ok) throw new PulsegateError('AUTH_TOKEN_INVALID');
  return p as unknown as VerifiedAccessToken;
}
