import { randomUUID } from 'node:crypto';
import { PulsegateError } from '../errors.js';
import { periodOf } from '../keys/index.js';
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
    /** An audited refusal of the start. */
    const refuse = async (
      code: 'ACCESS_BREAK_GLASS_REFUSED' | 'ACCESS_BREAK_GLASS_REASON_REQUIRED',
      outcome: 'denied' | 'failure',
    ) => {
      await ctx.audit.append({
        actor: actorOf(principal),
        action: 'break-glass.start',
        outcome,
        code,
        breakGlass: true,
        ...(req.source ? { source: req.source } : {}),
      });
      return new PulsegateError(code);
    };
    // Only a person's signed-in session starts one: a break-glass token minting the next would
    // renew itself without end, and an API token would carry it past its own revocation.
    if (principal.breakGlass || principal.apiToken)
      throw await refuse('ACCESS_BREAK_GLASS_REFUSED', 'denied');
    const reason = typeof input.reason === 'string' ? input.reason.trim() : '';
    if (reason.length < 3) throw await refuse('ACCESS_BREAK_GLASS_REASON_REQUIRED', 'failure');
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
    const id = randomUUID();
    const session = {
      id,
      user_id: principal.id,
      // The free text may name a patient: stored only sealed (`reason` stays empty).
      reason: '',
      reason_sealed: await sealReason(ctx, id, principal.id, reason, now),
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

const REASON_PURPOSE = 'break-glass';
const reasonAad = (id: string, userId: string) => Buffer.from(`break_glass|${id}|${userId}`);

function sealReason(
  ctx: AccessContext,
  id: string,
  userId: string,
  reason: string,
  at: number,
): Promise<Buffer> {
  return ctx.keys.encrypt(
    { purpose: REASON_PURPOSE, subject: userId, period: periodOf(at) },
    Buffer.from(reason, 'utf8'),
    reasonAad(id, userId),
  );
}

/** A break-glass session for review, with its reason opened. */
export interface BreakGlassSession {
  id: string;
  userId: string;
  username: string | null;
  startedAt: number;
  expiresAt: number;
  reason: string;
}

/**
 * Break-glass review for auditors: the sessions started in [since, until), newest first, with
 * their reasons decrypted (they may name patients), audited as `break-glass.review` before they
 * are returned. The caller authorises.
 */
export function createBreakGlassReview(ctx: AccessContext) {
  return async function listBreakGlass(
    q: { since?: number; until?: number; limit?: number },
    actor: Principal,
    requestId?: string,
  ): Promise<BreakGlassSession[]> {
    const rows = await ctx.store.db
      .selectFrom('break_glass')
      .leftJoin('users', 'users.id', 'break_glass.user_id')
      .select([
        'break_glass.id as id',
        'break_glass.user_id as user_id',
        'users.username as username',
        'break_glass.started_at as started_at',
        'break_glass.expires_at as expires_at',
        'break_glass.reason as reason',
        'break_glass.reason_sealed as reason_sealed',
      ])
      .$if(q.since !== undefined, (b) => b.where('break_glass.started_at', '>=', q.since!))
      .$if(q.until !== undefined, (b) => b.where('break_glass.started_at', '<', q.until!))
      .orderBy('break_glass.started_at', 'desc')
      .limit(Math.min(Math.max(q.limit ?? 100, 1), 1000))
      .execute();
    const sealed = rows.filter((r) => r.reason_sealed !== null);
    const opened = await ctx.keys.decryptMany(
      sealed.map((r) => ({ sealed: r.reason_sealed!, aad: reasonAad(r.id, r.user_id) })),
    );
    const reasons = new Map(sealed.map((r, i) => [r.id, opened[i]!.toString('utf8')]));
    await ctx.audit.append({
      actor: actorOf(actor),
      action: 'break-glass.review',
      resource: { type: 'break-glass' },
      outcome: 'success',
      reason: `${rows.length} sessions`,
      ...(requestId ? { requestId } : {}),
    });
    return rows.map((r) => ({
      id: r.id,
      userId: r.user_id,
      username: r.username ?? null,
      startedAt: Number(r.started_at),
      expiresAt: Number(r.expires_at),
      reason: reasons.get(r.id) ?? r.reason,
    }));
  };
}

/**
 * Seals the plaintext reasons of sessions stored before migration 015 (run once at start; a
 * migration holds no keys). Returns how many it sealed.
 */
export async function sealLegacyBreakGlassReasons(ctx: AccessContext): Promise<number> {
  // A database not migrated to 015 yet (a CLI command before `migrate`): nothing to seal into.
  const tables = await ctx.store.db.introspection.getTables();
  const table = tables.find((t) => t.name === 'break_glass');
  if (!table?.columns.some((c) => c.name === 'reason_sealed')) return 0;
  const rows = await ctx.store.db
    .selectFrom('break_glass')
    .select(['id', 'user_id', 'reason', 'started_at'])
    .where('reason_sealed', 'is', null)
    .execute();
  for (const r of rows) {
    const sealed = await sealReason(ctx, r.id, r.user_id, r.reason, Number(r.started_at));
    await ctx.store.db
      .updateTable('break_glass')
      .set({ reason: '', reason_sealed: sealed })
      .where('id', '=', r.id)
      .where('reason_sealed', 'is', null)
      .execute();
  }
  return rows.length;
}
