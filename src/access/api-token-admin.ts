import { randomUUID } from 'node:crypto';
import { PulsegateError } from '../errors.js';
import { newApiToken } from './api-tokens.js';
import { type AccessContext, actorOf } from './deps.js';
import type { Principal } from './principal.js';

/** A freshly created API token: the only moment the secret is ever visible. */
export interface CreatedApiToken {
  id: string;
  token: string;
  /** Unix milliseconds: every new token expires. */
  expiresAt: number;
}

/** An API token as listed: never the secret or its hash. */
export interface ApiTokenView {
  id: string;
  name: string;
  createdAt: number;
  /** Null only for a token made before tokens had to expire. */
  expiresAt: number | null;
  revokedAt: number | null;
}

/**
 * Lifetimes of API tokens. A bearer secret that never expires outlives the person or script it
 * was made for; one given no lifetime lives 30 days, and none longer than a year.
 */
export const API_TOKEN_TTL = {
  minSeconds: 60,
  defaultSeconds: 30 * 86_400,
  maxSeconds: 365 * 86_400,
} as const;

/** Only admins (or the CLI, acting as the system) create tokens for someone else. */
function mayActFor(actor: Principal | undefined, username: string): boolean {
  return actor === undefined || actor.role === 'admin' || (actor.kind === 'user' && actor.name === username);
}

/** Creation, listing and revocation of opaque API tokens; every change is audited. */
export function createApiTokenAdmin(ctx: AccessContext) {
  const { db } = ctx.store;

  async function userId(username: string): Promise<string> {
    const user = await db
      .selectFrom('users')
      .select('id')
      .where('username', '=', username)
      .executeTakeFirst();
    if (!user) throw new PulsegateError('USER_NOT_FOUND');
    return user.id;
  }

  return {
    async create(
      input: { username: string; name: string; ttlSeconds?: number },
      actor?: Principal,
    ): Promise<CreatedApiToken> {
      if (!mayActFor(actor, input.username)) throw new PulsegateError('ACCESS_DENIED');
      const name = typeof input.name === 'string' ? input.name.trim() : '';
      const ttl = input.ttlSeconds ?? API_TOKEN_TTL.defaultSeconds;
      const fields = [
        ...(name.length >= 1 && name.length <= 128
          ? []
          : [{ pointer: '/name', problem: '1 to 128 characters' }]),
        ...(Number.isInteger(ttl) && ttl >= API_TOKEN_TTL.minSeconds && ttl <= API_TOKEN_TTL.maxSeconds
          ? []
          : [
              {
                pointer: '/ttlSeconds',
                problem: `${API_TOKEN_TTL.minSeconds} to ${API_TOKEN_TTL.maxSeconds} seconds (365 days)`,
              },
            ]),
      ];
      if (fields.length > 0) throw new PulsegateError('VALIDATION_FAILED', undefined, { fields });
      const owner = await userId(input.username);
      const now = ctx.now();
      const { token, hash } = newApiToken();
      const row = {
        id: randomUUID(),
        token_hash: hash,
        user_id: owner,
        name,
        created_at: now,
        expires_at: now + ttl * 1000,
        revoked_at: null,
      };
      await db.insertInto('api_tokens').values(row).execute();
      await ctx.audit.append({
        actor: actorOf(actor),
        action: 'api-token.create',
        resource: { type: 'api-token', id: row.id },
        outcome: 'success',
      });
      return { id: row.id, token, expiresAt: row.expires_at };
    },

    async list(username: string, actor?: Principal): Promise<ApiTokenView[]> {
      if (!mayActFor(actor, username)) throw new PulsegateError('ACCESS_DENIED');
      const rows = await db
        .selectFrom('api_tokens')
        .select(['id', 'name', 'created_at', 'expires_at', 'revoked_at'])
        .where('user_id', '=', await userId(username))
        .orderBy('created_at')
        .execute();
      return rows.map((r) => ({
        id: r.id,
        name: r.name,
        createdAt: r.created_at,
        expiresAt: r.expires_at,
        revokedAt: r.revoked_at,
      }));
    },

    async revoke(id: string, actor?: Principal): Promise<void> {
      const row = await db
        .selectFrom('api_tokens')
        .innerJoin('users', 'users.id', 'api_tokens.user_id')
        .select(['api_tokens.id', 'users.username'])
        .where('api_tokens.id', '=', id)
        .executeTakeFirst();
      if (!row) throw new PulsegateError('API_TOKEN_NOT_FOUND');
      if (!mayActFor(actor, row.username)) throw new PulsegateError('ACCESS_DENIED');
      await db
        .updateTable('api_tokens')
        .set({ revoked_at: ctx.now() })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .execute();
      await ctx.audit.append({
        actor: actorOf(actor),
        action: 'api-token.revoke',
        resource: { type: 'api-token', id },
        outcome: 'success',
      });
    },
  };
}
