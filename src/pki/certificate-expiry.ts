/**
 * Keeps the inventory's certificate status true as time passes: a device whose valid (not
 * revoked) certificates have all passed their notAfter is marked `expired`, so the console, the
 * API (`?certificateStatus=expired`) and fleet reports show it. Issuing a new certificate marks it
 * `valid` again (issuance.ts). Expired certificates are refused at connect time regardless
 * (identify.ts); this is the inventory's view.
 */
import type { PkiContext } from './pki-context.js';

/** Marks devices whose certificates all expired by `now`; returns their ids. */
export async function markExpiredCertificates(ctx: PkiContext, now: number): Promise<string[]> {
  // One statement, so two nodes cannot both mark a device, and a certificate issued meanwhile
  // (which sets the device valid in its own transaction) is never overwritten.
  const marked = await ctx.db
    .updateTable('devices')
    .set((eb) => ({ certificate_status: 'expired', updated_at: now, version: eb('version', '+', 1) }))
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
    .returning('id')
    .execute();
  const ids = marked.map((r) => r.id);
  for (const id of ids) {
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
