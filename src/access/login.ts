import { randomBytes } from 'node:crypto';
import type { Selectable } from 'kysely';
import { type ErrorCode, PulsegateError } from '../errors.js';
import type { UsersTable } from '../store/tables/access.js';
import type { AccessTokens } from './access-tokens.js';
import type { AccessContext } from './deps.js';
import { hashPassword, MAX_PASSWORD_LENGTH, verifyPassword } from './password.js';
import { withinWindow } from './policy.js';
import { type Role, VENDOR_LIMITED } from './roles.js';
import { parseSmartScope, splitScopes } from './smart-scopes.js';
import { jsonArray } from './views.js';

/** A successful login's token response (RFC 6749 §5.1 field names). */
export interface LoginResult {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

/** The claims a user's session token carries. */
export function userClaims(row: Selectable<UsersTable>) {
  const vendor = VENDOR_LIMITED.has(row.role as Role);
  return {
    sub: row.id,
    kind: 'user' as const,
    role: row.role,
    care_units: jsonArray(row.care_units),
    ...(vendor ? { vendor_devices: jsonArray(row.vendor_devices) } : {}),
  };
}

/**
 * Password login with lockout: `maxFailedLogins` consecutive failures lock the account for
 * `lockoutSeconds`. Every outcome is audited; every failure has the same generic message, and
 * an unknown username costs the same scrypt work as a known one.
 */
export function createLogin(ctx: AccessContext, tokens: AccessTokens) {
  const { db } = ctx.store;
  let dummy: Promise<string> | undefined;

  /** Audits the failure with its real `code`; the caller is told `answer` (default: the same code). */
  async function fail(
    code: ErrorCode,
    row: Selectable<UsersTable> | undefined,
    source: string | undefined,
    answer: ErrorCode = code,
  ): Promise<never> {
    await ctx.audit.append({
      actor: row ? { type: 'user', id: row.id, name: row.username, role: row.role } : { type: 'anonymous' },
      action: 'auth.login',
      ...(row ? { resource: { type: 'user', id: row.id } } : {}),
      outcome: code === 'ACCESS_VENDOR_WINDOW_CLOSED' ? 'denied' : 'failure',
      code,
      ...(source ? { source } : {}),
    });
    throw new PulsegateError(answer);
  }

  /** Counts one failure atomically; the failure that reaches the limit starts the lockout. */
  /**
   * Counts an attempt against the account before its password is checked, in one conditional
   * update: every attempt in flight counts, so parallel guesses cannot all be judged against the
   * row as it was before any of them failed. Undefined while the account is locked.
   */
  async function claimAttempt(row: Selectable<UsersTable>, now: number): Promise<number | undefined> {
    const claimed = await db
      .updateTable('users')
      .set((eb) => ({ failed_logins: eb('failed_logins', '+', 1), updated_at: now }))
      .where('id', '=', row.id)
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', now)]))
      .returning(['failed_logins'])
      .executeTakeFirst();
    return claimed?.failed_logins;
  }

  async function lock(row: Selectable<UsersTable>, now: number): Promise<void> {
    await db
      .updateTable('users')
      .set({ failed_logins: 0, locked_until: now + ctx.config.lockoutSeconds * 1000, updated_at: now })
      .where('id', '=', row.id)
      .execute();
  }

  return async function login(
    input: { username: string; password: string; scope?: string },
    req: { source?: string },
  ): Promise<LoginResult> {
    const scopes = userScopes(input.scope);
    const username = typeof input.username === 'string' ? input.username : '';
    const password =
      typeof input.password === 'string' ? input.password.slice(0, MAX_PASSWORD_LENGTH * 4) : '';
    const row = await db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
    const now = ctx.now();
    const attempt = row ? await claimAttempt(row, now) : undefined;
    dummy ??= hashPassword(randomBytes(24).toString('base64url'), ctx.hashing);
    const ok = await verifyPassword(password, row?.password_hash ?? (await dummy));
    if (!row) return fail('AUTH_INVALID_CREDENTIALS', undefined, req.source);

    // Locked, or past the allowed failures with this attempt: every such attempt gets the answer
    // a wrong password gets, right password or not, so a lock neither confirms a guessed password
    // nor tells a locked account from an unknown user. The audit entry says AUTH_ACCOUNT_LOCKED;
    // an admin sees the lock on the user.
    const max = ctx.config.maxFailedLogins;
    if (attempt === undefined || attempt > max) {
      if (attempt !== undefined) await lock(row, now);
      return fail('AUTH_ACCOUNT_LOCKED', row, req.source, 'AUTH_INVALID_CREDENTIALS');
    }
    if (!ok) {
      if (attempt >= max) await lock(row, now);
      return fail('AUTH_INVALID_CREDENTIALS', row, req.source);
    }
    // A right password on a disabled account answers like a wrong one: no oracle for passwords.
    if (row.disabled !== 0) return fail('AUTH_ACCOUNT_DISABLED', row, req.source, 'AUTH_INVALID_CREDENTIALS');
    if (VENDOR_LIMITED.has(row.role as Role) && !withinWindow(windowOf(row), now)) {
      return fail('ACCESS_VENDOR_WINDOW_CLOSED', row, req.source);
    }
    // The attempt succeeded: its count is undone, unless a parallel attempt locked the account
    // meanwhile (then this one is refused like any attempt on a locked account).
    const cleared = await db
      .updateTable('users')
      .set({ failed_logins: 0, locked_until: null, updated_at: now })
      .where('id', '=', row.id)
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', now)]))
      .returning(['id'])
      .executeTakeFirst();
    if (!cleared) return fail('AUTH_ACCOUNT_LOCKED', row, req.source, 'AUTH_INVALID_CREDENTIALS');
    const issued = await tokens.issue(
      { ...userClaims(row), ...(scopes ? { scope: scopes.join(' ') } : {}) },
      ctx.config.accessTokenTtlSeconds,
    );
    await ctx.audit.append({
      actor: { type: 'user', id: row.id, name: row.username, role: row.role },
      action: 'auth.login',
      resource: { type: 'user', id: row.id },
      outcome: 'success',
      ...(req.source ? { source: req.source } : {}),
    });
    return { access_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn };
  };
}

/**
 * The SMART scopes a user asked to narrow a session to (`scope`, space-separated), or undefined
 * for a plain session governed by role alone. Only `user/` scopes count for users (see
 * `scopeContextOf`), so anything else is refused rather than silently granting nothing.
 */
function userScopes(scope: unknown): string[] | undefined {
  if (scope === undefined) return undefined;
  const scopes = typeof scope === 'string' ? splitScopes(scope) : undefined;
  const bad = (scopes ?? ['']).findIndex((s) => parseSmartScope(s)?.context !== 'user');
  if (scopes === undefined || bad >= 0 || scopes.length > 64)
    throw new PulsegateError('VALIDATION_FAILED', 'scope must be user/ SMART scopes, space-separated', {
      fields: [{ pointer: '/scope', problem: 'only user/ SMART scopes (e.g. user/Observation.rs)' }],
    });
  return [...new Set(scopes)];
}

/** A user row's access window. */
export function windowOf(row: Selectable<UsersTable>) {
  return { accessNotBefore: row.access_not_before, accessNotAfter: row.access_not_after };
}
