/**
 * The OAuth 2.0 token endpoint for SMART Backend Services (SMART App Launch 2.x, "Backend
 * Services"): `client_credentials` with a `private_key_jwt` client assertion (RFC 7523 §2.2).
 */
import { createHash } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, type JWTPayload, jwtVerify } from 'jose';
import { type ErrorCode, PulsegateError } from '../errors.js';
import type { AccessTokens } from './access-tokens.js';
import { CLIENT_ASSERTION_ALGORITHMS } from './clients.js';
import type { AccessContext, JsonWebKey } from './deps.js';
import { grantScopes, splitScopes } from './smart-scopes.js';
import { jsonArray } from './views.js';

/** RFC 7523 §2.2 client assertion type. */
export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Backend Services: "exp … no more than five minutes in the future". */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;

/** A token endpoint success (RFC 6749 §5.1). */
export interface TokenResult {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
}

/** Builds the token endpoint handler. */
export function createTokenEndpoint(ctx: AccessContext, tokens: AccessTokens) {
  const { db } = ctx.store;

  async function refuse(
    code: ErrorCode,
    clientId: string | undefined,
    source: string | undefined,
  ): Promise<never> {
    await ctx.audit.append({
      actor: clientId ? { type: 'client', id: clientId } : { type: 'anonymous' },
      action: 'auth.token',
      ...(clientId ? { resource: { type: 'client', id: clientId } } : {}),
      outcome: 'failure',
      code,
      ...(source ? { source } : {}),
    });
    throw new PulsegateError(code);
  }

  /** Records the assertion's jti until it expires; false when it was already used (a replay). */
  async function firstUse(clientId: string, jti: string, exp: number): Promise<boolean> {
    const now = ctx.now();
    await db.deleteFrom('used_jtis').where('expires_at', '<', now).execute();
    // Hashed so that an arbitrarily long jti has a bounded key; scoped per client (RFC 7523 §3).
    const key = createHash('sha256').update(`${clientId}\n${jti}`).digest('hex');
    const inserted = await db
      .insertInto('used_jtis')
      .values({ jti: key, expires_at: exp * 1000 })
      .onConflict((oc) => oc.column('jti').doNothing())
      .returning(['jti'])
      .executeTakeFirst();
    return inserted !== undefined;
  }

  return async function token(
    form: Record<string, string>,
    req: { source?: string; tokenUrl: string },
  ): Promise<TokenResult> {
    const { source } = req;
    if (form.grant_type === undefined)
      throw new PulsegateError('VALIDATION_FAILED', 'grant_type is required');
    if (form.grant_type !== 'client_credentials') return refuse('AUTH_GRANT_UNSUPPORTED', undefined, source);
    const assertion = form.client_assertion;
    if (form.client_assertion_type !== JWT_BEARER_ASSERTION || typeof assertion !== 'string') {
      return refuse('AUTH_CLIENT_INVALID', undefined, source);
    }

    // Unverified peek at iss to find the client's keys; everything is verified below.
    let claimedId: string | undefined;
    let alg: string | undefined;
    let kid: unknown;
    try {
      claimedId = decodeJwt(assertion).iss;
      ({ alg, kid } = decodeProtectedHeader(assertion));
    } catch {
      return refuse('AUTH_CLIENT_INVALID', undefined, source);
    }
    if (typeof claimedId !== 'string' || claimedId.length > 128)
      return refuse('AUTH_CLIENT_INVALID', undefined, source);
    if (form.client_id !== undefined && form.client_id !== claimedId) {
      return refuse('AUTH_CLIENT_INVALID', undefined, source);
    }
    const client = await db
      .selectFrom('service_clients')
      .selectAll()
      .where('id', '=', claimedId)
      .executeTakeFirst();
    if (client?.disabled !== 0) return refuse('AUTH_CLIENT_INVALID', undefined, source);
    // SMART Backend Services: `kid` is required and names one key of the client's JWKS.
    if (
      !(CLIENT_ASSERTION_ALGORITHMS as readonly string[]).includes(alg ?? '') ||
      typeof kid !== 'string' ||
      !kid
    ) {
      return refuse('AUTH_CLIENT_INVALID', client.id, source);
    }

    let payload: JWTPayload;
    try {
      const jwks = JSON.parse(client.jwks) as { keys: JsonWebKey[] };
      ({ payload } = await jwtVerify(assertion, createLocalJWKSet(jwks), {
        algorithms: [...CLIENT_ASSERTION_ALGORITHMS],
        issuer: client.id,
        subject: client.id,
        audience: req.tokenUrl,
        currentDate: new Date(ctx.now()),
        requiredClaims: ['exp', 'jti'],
      }));
    } catch {
      return refuse('AUTH_CLIENT_INVALID', client.id, source);
    }
    const nowSeconds = Math.floor(ctx.now() / 1000);
    const exp = payload.exp as number;
    const jti = payload.jti as string;
    if (exp > nowSeconds + MAX_ASSERTION_LIFETIME_SECONDS || typeof jti !== 'string' || jti.length === 0) {
      return refuse('AUTH_CLIENT_INVALID', client.id, source);
    }
    if (!(await firstUse(client.id, jti, exp))) return refuse('AUTH_ASSERTION_REPLAYED', client.id, source);

    const registered = jsonArray(client.scopes);
    const granted = grantScopes(splitScopes(form.scope), registered);
    if (granted.length === 0) return refuse('AUTH_SCOPE_INVALID', client.id, source);

    const scope = granted.join(' ');
    const ttl = ctx.config.accessTokenTtlSeconds;
    const issued = await tokens.issue(
      { sub: client.id, kind: 'client', role: client.role, care_units: jsonArray(client.care_units), scope },
      ttl,
    );
    await ctx.audit.append({
      actor: { type: 'client', id: client.id, name: client.name, role: client.role },
      action: 'auth.token',
      resource: { type: 'client', id: client.id },
      outcome: 'success',
      ...(source ? { source } : {}),
    });
    return { access_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn, scope };
  };
}
