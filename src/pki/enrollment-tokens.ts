import { randomUUID } from 'node:crypto';
import type { Principal } from '../access/index.js';
import { PulsegateError } from '../errors.js';
import { actorOf, type RequestContext } from './deps.js';
import { hashEnrollmentToken, newEnrollmentToken } from './enrollment-token.js';
import { auditRefusal, BLOCKED_LIFECYCLES, type PkiContext, requestFields } from './pki-context.js';

/** A new enrollment token: shown to the operator once, never stored or logged. */
export interface CreatedEnrollmentToken {
  deviceId: string;
  token: string;
  /** Unix ms. */
  expiresAt: number;
}

/**
 * Creates a one-time enrollment token for a device that may enroll (not quarantined or retired).
 * Only its SHA-256 is stored. A new token replaces the device's earlier unused ones (they expire
 * now), so at most one token per device can work at a time.
 */
export async function createEnrollmentToken(
  ctx: PkiContext,
  deviceId: string,
  actor?: Principal,
  request?: RequestContext,
): Promise<CreatedEnrollmentToken> {
  const action = 'pki.enrollment-token.create';
  const device = await ctx.devices.get(deviceId);
  if (BLOCKED_LIFECYCLES.has(device.lifecycle)) {
    throw await auditRefusal(
      ctx,
      {
        actor: actorOf(actor),
        action,
        resource: { type: 'device', id: deviceId },
        reason: `device is ${device.lifecycle}`,
      },
      new PulsegateError('DEVICE_NOT_ENROLLABLE'),
      request,
    );
  }
  const token = newEnrollmentToken();
  const t = ctx.now();
  const expiresAt = t + ctx.config.enrollmentTokenTtlSeconds * 1000;
  const id = randomUUID();
  await ctx.db.transaction().execute(async (trx) => {
    await trx
      .updateTable('enrollment_tokens')
      .set({ expires_at: t })
      .where('device_id', '=', deviceId)
      .where('used_at', 'is', null)
      .where('expires_at', '>', t)
      .execute();
    await trx
      .insertInto('enrollment_tokens')
      .values({
        id,
        device_id: deviceId,
        token_hash: hashEnrollmentToken(token),
        created_at: t,
        expires_at: expiresAt,
        used_at: null,
        created_by: actor ? `${actor.kind}:${actor.id}` : 'system',
      })
      .execute();
  });
  await ctx.audit.append({
    actor: actorOf(actor),
    action,
    resource: { type: 'device', id: deviceId },
    outcome: 'success',
    reason: `enrollment token ${id} expires ${new Date(expiresAt).toISOString()}`,
    ...requestFields(request),
  });
  return { deviceId, token, expiresAt };
}
