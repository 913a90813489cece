import type { Selectable } from 'kysely';
import { PulsegateError } from '../errors.js';
import type { UsersTable } from '../store/tables/access.js';
import type { AccessTokens, VerifiedAccessToken } from './access-tokens.js';
import { hashApiToken, looksLikeApiToken, sameHash } from './api-tokens.js';
import type { AccessContext } from './deps.js';
import { windowOf } from './login.js';
import { withinWindow } from './policy.js';
import type { Principal } from './principal.js';
import { type Role, VENDOR_LIMITED } from './roles.js';
import { splitScopes } from './smart-scopes.js';
import { jsonArray } from './views.js';

const BEARER = /^Bearer ([\x21-\x7e]{1,8192})$/i;

/**
 * Turns an `Authorization` header into a principal: our ES256 JWT or a `pgt_` API token.
 * Role, care units and devices come from the current database row, so disabling or narrowing
 * an account takes effect on its next request, not when its token expires.
 */
export function createAuthenticator(ctx: AccessContext, tokens: AccessTokens) {
  const { db } = ctx.store;

  /** The principal for a user row, refusing disabled accounts and closed vendor windows. */
  function userPrincipal(
    row: Selectable<UsersTable> | undefined,
    extra: Pick<Principal, 'scopes' | 'credentialId' | 'breakGlass' | 'apiToken'>,
  ): Principal {
    if (!row) throw new PulsegateError('AUTH_TOKEN_INVALID');
    if (row.disabled !== 0) throw new PulsegateError('AUTH_ACCOUNT_DISABLED');
    const role = row.role as Role;
    const vendor = VENDOR_LIMITED.has(role);
    if (vendor && !withinWindow(windowOf(row), ctx.now())) {
      throw new PulsegateError('ACCESS_VENDOR_WINDOW_CLOSED');
    }
    return {
      kind: 'user',
      id: row.id,
      name: row.username,
      role,
      careUnits: jsonArray(row.care_units),
      vendorDevices: vendor ? jsonArray(row.vendor_devices) : [],
      ...extra,
      ...(row.access_not_before !== null ? { accessNotBefore: row.access_not_before } : {}),
      ...(row.access_not_after !== null ? { accessNotAfter: row.access_not_after } : {}),
    };
  }

  async function fromApiToken(token: string): Promise<Principal> {
    if (!looksLikeApiToken(token)) throw new PulsegateError('AUTH_TOKEN_INVALID');
    const hash = hashApiToken(token);
    const row = await db
      .selectFrom('api_tokens')
      .selectAll()
      .where('token_hash', '=', hash)
      .executeTakeFirst();
    if (!row || !sameHash(row.token_hash, hash)) throw new PulsegateError('AUTH_TOKEN_INVALID');
    if (row.revoked_at !== null) throw new PulsegateError('AUTH_TOKEN_REVOKED');
    if (row.expires_at !== null && row.expires_at <= ctx.now())
      throw new PulsegateError('AUTH_TOKEN_EXPIRED');
    const user = await db.selectFrom('users').selectAll().where('id', '=', row.user_id).executeTakeFirst();
    return userPrincipal(user, { scopes: [], credentialId: row.id, apiToken: true });
  }

  async function breakGlassOf(claims: VerifiedAccessToken, userId: string): Promise<Principal['breakGlass']> {
    if (!claims.bg) return undefined;
    const session = await db
      .selectFrom('break_glass')
      .selectAll()
      .where('id', '=', claims.bg.id)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!session) throw new PulsegateError('AUTH_TOKEN_INVALID');
    return { id: session.id, expiresAt: Number(session.expires_at) };
  }

  async function fromJwt(token: string): Promise<Principal> {
    const claims = await tokens.verify(token);
    const scopes = splitScopes(claims.scope) ?? [];
    if (claims.kind === 'user') {
      const user = await db.selectFrom('users').selectAll().where('id', '=', claims.sub).executeTakeFirst();
      const breakGlass = await breakGlassOf(claims, claims.sub);
      return userPrincipal(user, { scopes, credentialId: claims.jti, ...(breakGlass ? { breakGlass } : {}) });
    }
    const client = await db
      .selectFrom('service_clients')
      .selectAll()
      .where('id', '=', claims.sub)
      .executeTakeFirst();
    if (!client) throw new PulsegateError('AUTH_TOKEN_INVALID');
    if (client.disabled !== 0) throw new PulsegateError('AUTH_ACCOUNT_DISABLED');
    // A client token always carries its granted scopes; none would mean "everything the role allows".
    if (scopes.length === 0) throw new PulsegateError('AUTH_TOKEN_INVALID');
    return {
      kind: 'client',
      id: client.id,
      name: client.name,
      role: client.role as Role,
      careUnits: jsonArray(client.care_units),
      vendorDevices: [],
      scopes,
      credentialId: claims.jti,
    };
  }

  return async function authenticate(authorization: string | undefined, _req: { source?: string }) {
    if (authorization === undefined || authorization.trim() === '') throw new PulsegateError('AUTH_REQUIRED');
    const match = BEARER.exec(authorization.trim());
    if (!match?.[1]) throw new PulsegateError('AUTH_TOKEN_INVALID');
    const token = match[1];
    return token.startsWith('pgt_') ? fromApiToken(token) : fromJwt(token);
  };
}
