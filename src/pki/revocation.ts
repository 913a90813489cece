import type { Principal } from '../access/index.js';
import { setCertificateStatus } from '../devices/index.js';
import { PulsegateError } from '../errors.js';
import { countValid } from './certificate-rows.js';
import { signCrl } from './crl.js';
import { actorOf, type RequestContext } from './deps.js';
import { type PkiContext, requestFields } from './pki-context.js';
import { isRevocationReason, type RevocationReason } from './revocation-reason.js';
import { isServiceName } from './service-certificate.js';

/** Which certificates to revoke: one by serial, or every valid one of a device. */
export type RevocationTarget = { serial: string; deviceId?: string } | { deviceId: string };

/** What a revocation did. */
export interface RevocationResult {
  deviceId: string;
  revoked: Array<{ serial: string; reason: RevocationReason; revokedAt: number }>;
}

interface CachedCrl {
  der: Buffer;
  /** Count and latest time of revoked/superseded rows when it was built: detects other nodes' changes. */
  state: string;
  thisUpdate: number;
  crlNumber: bigint;
}

/**
 * Revocation and the CRL. The CRL lists every revoked or superseded certificate that has not
 * expired (RFC 5280 §5), is cached, and is rebuilt when this node revokes, when the stored
 * revocations changed (another node), or when half its validity has passed.
 */
export function createRevocation(ctx: PkiContext) {
  const { db } = ctx;
  let cached: CachedCrl | undefined;
  let stale = true;
  let building: Promise<Buffer> | undefined;

  async function revocationState(): Promise<string> {
    const row = await db
      .selectFrom('certificates')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.max('revoked_at').as('last')])
      .where('status', 'in', ['revoked', 'superseded'])
      .executeTakeFirstOrThrow();
    return `${Number(row.n)}:${row.last ?? ''}`;
  }

  async function build(state: string): Promise<Buffer> {
    const t = ctx.now();
    const rows = await db
      .selectFrom('certificates')
      .select(['serial', 'revoked_at', 'revocation_reason'])
      .where('status', 'in', ['revoked', 'superseded'])
      .where('not_after', '>', t)
      .orderBy('serial')
      .execute();
    // CRL numbers must increase (RFC 5280 §5.2.3); the build time in ms does, across nodes too,
    // as long as their clocks roughly agree.
    const crlNumber = cached && cached.crlNumber >= BigInt(t) ? cached.crlNumber + 1n : BigInt(t);
    const crl = await signCrl({
      ca: ctx.ca,
      entries: rows.map((r) => ({
        serial: r.serial,
        revokedAt: Number(r.revoked_at ?? t),
        reason: r.revocation_reason ?? 'unspecified',
      })),
      thisUpdate: t,
      nextUpdate: t + ctx.config.crlValiditySeconds * 1000,
      crlNumber,
    });
    const der = Buffer.from(crl.rawData);
    cached = { der, state, thisUpdate: t, crlNumber };
    stale = false;
    return der;
  }

  async function crlDer(): Promise<Buffer> {
    if (building) return building;
    const state = await revocationState();
    const halfLife = (ctx.config.crlValiditySeconds * 1000) / 2;
    if (cached && !stale && cached.state === state && ctx.now() - cached.thisUpdate < halfLife)
      return cached.der;
    building = build(state).finally(() => {
      building = undefined;
    });
    return building;
  }

  return {
    crlDer,

    /** Marks the cached CRL stale. */
    crlChanged(): void {
      stale = true;
    },

    /**
     * Revokes (RFC 5280 reason names), updates the device's certificate status, rebuilds the CRL,
     * emits `certificate.revoked` (ingest drops live sessions on it) and audits with the reason.
     * Revoking an already revoked certificate changes nothing and returns an empty list.
     */
    async revoke(
      target: RevocationTarget,
      reason: string,
      actor?: Principal,
      request?: RequestContext,
    ): Promise<RevocationResult> {
      if (!isRevocationReason(reason))
        throw new PulsegateError('VALIDATION_FAILED', 'reason must be an RFC 5280 CRLReason name');
      const t = ctx.now();
      // Outside the transaction: SQLite has one connection, which the transaction holds.
      if (!('serial' in target) && !isServiceName(target.deviceId)) await ctx.devices.get(target.deviceId);
      const result = await db.transaction().execute(async (trx) => {
        let deviceId: string;
        let serials: string[];
        if ('serial' in target) {
          const row = await trx
            .selectFrom('certificates')
            .select(['serial', 'device_id', 'status'])
            .where('serial', '=', target.serial.toLowerCase())
            .executeTakeFirst();
          if (!row || (target.deviceId !== undefined && row.device_id !== target.deviceId))
            throw new PulsegateError('PKI_CERT_NOT_FOUND');
          deviceId = row.device_id;
          serials = row.status === 'revoked' ? [] : [row.serial];
        } else {
          deviceId = target.deviceId;
          const rows = await trx
            .selectFrom('certificates')
            .select('serial')
            .where('device_id', '=', deviceId)
            .where('status', '=', 'valid')
            .execute();
          if (rows.length === 0)
            throw new PulsegateError('PKI_CERT_NOT_FOUND', 'the device has no valid certificate');
          serials = rows.map((r) => r.serial);
        }
        if (serials.length > 0) {
          await trx
            .updateTable('certificates')
            .set({ status: 'revoked', revoked_at: t, revocation_reason: reason })
            .where('serial', 'in', serials)
            .where('status', '!=', 'revoked')
            .execute();
          const remaining = await countValid(trx, deviceId);
          // A service certificate (Pulsegate's own) has no device row to update.
          if (!isServiceName(deviceId))
            await setCertificateStatus(trx, deviceId, remaining > 0 ? 'valid' : 'revoked', t);
        }
        return { deviceId, serials };
      });
      for (const serial of result.serials) ctx.identities.delete(serial);
      if (result.serials.length > 0) {
        stale = true;
        await crlDer();
      }
      for (const serial of result.serials) {
        ctx.bus.emit('certificate.revoked', { deviceId: result.deviceId, serial, reason, at: t });
        await ctx.audit.append({
          actor: actorOf(actor),
          action: 'pki.certificate.revoke',
          resource: { type: 'device', id: result.deviceId },
          outcome: 'success',
          reason: `certificate ${serial} revoked: ${reason}`,
          ...requestFields(request),
        });
      }
      return {
        deviceId: result.deviceId,
        revoked: result.serials.map((serial) => ({ serial, reason, revokedAt: t })),
      };
    },
  };
}

export type Revocation = ReturnType<typeof createRevocation>;
