/**
 * Keeps the inventory's certificate status true as time passes: a device whose valid (not
 * revoked) certificates have all passed their notAfter is marked `expired`, so the console, the
 * API (`?certificateStatus=expired`) and fleet reports show it. Issuing a new certificate marks it
 * `valid` again (issuance.ts). Expired certificates are refused at connect time regardless
 * (identify.ts); this is the inventory's view.
 */
import { setCertificateStatus } from '../devices/index.js';
import type { PkiContext } from './pki-context.js';

/** Marks devices whose certificates all expired by `now`; returns their ids. */
export async function markExpiredCertificates(ctx: PkiContext, now: number): Promise<string[]> {
  const expired = await ctx.db
    .selectFrom('devices')
    .select('id')
    .where('certificate_status', '=', 'valid')
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('certificates')
            .select('serial')
            .whereRef('certificates.device_id', '=', 'devices.id')
            .where('certificates.status', '=', 'valid')
            .where('certificates.not_after', '>', now),
        ),
      ),
    )
    .execute();
  const ids: string[] = [];
  for (const { id } of expired) {
    const changed = await ctx.db.transaction().execute(async (trx) => {
      // Re-checked inside the transaction: a certificate may have been issued meanwhile.
      const still = await trx
        .selectFrom('certificates')
        .select('serial')
        .where('device_id', '=', id)
        .where('status', '=', 'valid')
        .where('not_after', '>', now)
        .executeTakeFirst();
      const current = await trx
        .selectFrom('devices')
        .select('certificate_status')
        .where('id', '=', id)
        .executeTakeFirst();
      if (still || current?.certificate_status !== 'valid') return false;
      await setCertificateStatus(trx, id, 'expired', now);
      return true;
    });
    if (!changed) continue;
    ids.push(id);
    ctx.bus.emit('device.changed', { deviceId: id, change: 'certificate.expired', at: now });
    await ctx.audit.append({
      actor: { type: 'system', name: 'pulsegate' },
      action: 'device.certificate.expired',
      resource: { type: 'device', id },
      outcome: 'success',
    });
  }
  return ids;
}
