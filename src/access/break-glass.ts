import { randomUUID } from 'node:crypto';
import { PulsegateError } from '../errors.js';
import type { AccessTokens } from './access-tokens.js';
import { type AccessContext, actorOf } from './deps.js';
import { authorize } from './policy.js';
import type { Principal } from './principal.js';

/** A started break-glass session and the token that carries it. */
export interface BreakGlassResult {
  id: string;
  /** Unix milliseconds. */
  expiresAt: number;
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

/** Longest accepted justification; it is stored, not written into the audit log. */
export const MAX_REASON_LENGTH = 1000;

/**
 * Emergency access: a clinician may reach patients outside its care units for a bounded time,
 * with a stated reason. The session is recorded, audited with `breakGlass: true`, and carried
 * in a fresh token's `bg` claim so that every access under it is flagged.
 */
export function createBreakGlass(ctx: AccessContext, tokens: AccessTokens) {
  return async function startBreakGlass(
    principal: Principal,
    input: { reason: string; minutes?: number },
    req: { source?: string },
  ): Promise<BreakGlassResult> {
    authorize(principal, 'break-glass:use');
    if (principal.kind !== 'user') throw new PulsegateError('ACCESS_DENIED');
    const reason = typeof input.reason === 'string' ? input.reason.trim() : '';
    if (reason.length < 3) {
      await ctx.audit.append({
        actor: actorOf(principal),
        action: 'break-glass.start',
        outcome: 'failure',
        code: 'ACCESS_BREAK_GLASS_REASON_REQUIRED',
        breakGlass: true,
        ...(req.source ? { source: req.source } : {}),
      });
      throw new PulsegateError('ACCESS_BREAK_GLASS_REASON_REQUIRED');
    }
    if (reason.length > MAX_REASON_LENGTH) {
      throw new PulsegateError('VALIDATION_FAILED', undefined, {
        fields: [{ pointer: '/reason', problem: `at most ${MAX_REASON_LENGTH} characters` }],
      });
    }
    const max = ctx.config.breakGlassMaxMinutes;
    const asked = input.minutes ?? max;
    if (!Number.isInteger(asked) || asked < 1) {
      throw new PulsegateError('VALIDATION_FAILED', undefined, {
        fields: [{ pointer: '/minutes', problem: 'a positive whole number of minutes' }],
      });
    }
    const minutes = Math.min(asked, max);
    const now = ctx.now();
    const session = {
      id: randomUUID(),
      user_id: principal.id,
      reason,
      started_at: now,
      expires_at: now + minutes * 60_000,
    };
    await ctx.store.db.insertInto('break_glass').values(session).execute();
    const issued = await tokens.issue(
      {
        sub: principal.id,
        kind: 'user',
        role: principal.role,
        care_units: [...principal.careUnits],
        ...(principal.scopes.length > 0 ? { scope: principal.scopes.join(' ') } : {}),
        bg: { id: session.id, exp: Math.floor(session.expires_at / 1000) },
      },
      minutes * 60,
    );
    // The free-text reason may name a patient, so the log references the session instead.
    await ctx.audit.append({
      actor: actorOf(principal),
      action: 'break-glass.start',
      resource: { type: 'break-glass', id: session.id },
      outcome: 'success',
      breakGlass: true,
      ...(req.source ? { source: req.source } : {}),
    });
    return {
      id: session.id,
      expiresAt: session.expires_at,
      access_token: issued.token,
      token_type: 'Bearer',
      expires_in: issued.expiresIn,
    };
  };
}
