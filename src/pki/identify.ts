import { PulsegateError } from '../errors.js';
import type { DeviceIdentity, DeviceIdentityVerifier, PeerCertificate } from '../ingest/ports.js';
import { fingerprintOf } from './device-certificate.js';
import type { CachedIdentity } from './identity-cache.js';
import { BLOCKED_LIFECYCLES, type PkiContext } from './pki-context.js';

/** Node reports serials upper-case, sometimes with separators; we store lower-case hex. */
export function normalizeSerial(serial: string): string {
  return serial.replace(/[^0-9A-Fa-f]/g, '').toLowerCase();
}

/**
 * The `DeviceIdentityVerifier` ingest calls on every connection: the certificate must be one we
 * issued (serial and exact DER fingerprint), valid now, neither revoked nor superseded, and its
 * device neither quarantined nor retired. Lookups are cached (see IdentityCache).
 */
export function createIdentify(ctx: PkiContext): DeviceIdentityVerifier {
  async function load(serial: string): Promise<CachedIdentity | undefined> {
    const row = await ctx.db
      .selectFrom('certificates as c')
      .innerJoin('devices as d', 'd.id', 'c.device_id')
      .select([
        'c.serial',
        'c.device_id',
        'c.fingerprint_sha256',
        'c.status',
        'c.not_before',
        'c.not_after',
        'd.lifecycle',
      ])
      .where('c.serial', '=', serial)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      serial: row.serial,
      deviceId: row.device_id,
      fingerprint: row.fingerprint_sha256,
      status: row.status,
      notBefore: Number(row.not_before),
      notAfter: Number(row.not_after),
      lifecycle: row.lifecycle,
    };
  }

  return {
    async identify(peer: PeerCertificate): Promise<DeviceIdentity> {
      if (!peer?.raw?.length || typeof peer.serialNumber !== 'string')
        throw new PulsegateError('INGEST_CERT_INVALID');
      const serial = normalizeSerial(peer.serialNumber);
      const t = ctx.now();
      let known = ctx.identities.get(serial, t);
      if (!known) {
        known = await load(serial);
        if (!known) throw new PulsegateError('INGEST_CERT_INVALID');
        ctx.identities.set(known, t);
      }
      // The serial alone is not proof: the exact certificate must be the one we issued.
      if (fingerprintOf(peer.raw) !== known.fingerprint) throw new PulsegateError('INGEST_CERT_INVALID');
      if (known.status !== 'valid') throw new PulsegateError('INGEST_CERT_REVOKED');
      if (t >= known.notAfter) throw new PulsegateError('INGEST_CERT_EXPIRED');
      if (t < known.notBefore) throw new PulsegateError('INGEST_CERT_INVALID');
      if (BLOCKED_LIFECYCLES.has(known.lifecycle)) throw new PulsegateError('INGEST_DEVICE_NOT_ACTIVE');
      return { deviceId: known.deviceId, serial: known.serial, notAfter: known.notAfter };
    },
  };
}
