import type { Database, Kysely } from '../store/index.js';
import type { CertificatesTable } from '../store/tables/pki.js';

/** One certificate as the API shows it (no DER: fetch that through EST). */
export interface CertificateView {
  serial: string;
  deviceId: string;
  subject: string;
  status: string;
  notBefore: string;
  notAfter: string;
  issuedAt: string;
  revokedAt: string | null;
  revocationReason: string | null;
  fingerprintSha256: string;
  publicKeySha256: string;
}

const iso = (ms: number) => new Date(Number(ms)).toISOString();

/** The API view of a stored certificate. */
export function toCertificateView(row: Omit<CertificatesTable, 'der'>): CertificateView {
  return {
    serial: row.serial,
    deviceId: row.device_id,
    subject: row.subject,
    status: row.status,
    notBefore: iso(row.not_before),
    notAfter: iso(row.not_after),
    issuedAt: iso(row.issued_at),
    revokedAt: row.revoked_at === null ? null : iso(row.revoked_at),
    revocationReason: row.revocation_reason,
    fingerprintSha256: row.fingerprint_sha256,
    publicKeySha256: row.public_key_sha256,
  };
}

/** A device's certificates, newest first. */
export async function listDeviceCertificates(
  db: Kysely<Database>,
  deviceId: string,
): Promise<CertificateView[]> {
  const rows = await db
    .selectFrom('certificates')
    .select([
      'serial',
      'device_id',
      'subject',
      'status',
      'not_before',
      'not_after',
      'issued_at',
      'revoked_at',
      'revocation_reason',
      'fingerprint_sha256',
      'public_key_sha256',
    ])
    .where('device_id', '=', deviceId)
    .orderBy('issued_at', 'desc')
    .orderBy('serial', 'asc')
    .execute();
  return rows.map(toCertificateView);
}

/**
 * Marks a device's valid certificates superseded (a newer one replaces them) and returns their
 * serials. They stay on the CRL with reason `superseded` until they expire (RFC 5280 §5.3.1), so
 * that brokers checking the CRL refuse them too.
 */
export async function supersedeValid(
  db: Kysely<Database>,
  where: { deviceId: string } | { serial: string },
  at: number,
): Promise<string[]> {
  let q = db
    .updateTable('certificates')
    .set({ status: 'superseded', revoked_at: at, revocation_reason: 'superseded' })
    .where('status', '=', 'valid');
  q = 'serial' in where ? q.where('serial', '=', where.serial) : q.where('device_id', '=', where.deviceId);
  const rows = await q.returning('serial').execute();
  return rows.map((r) => r.serial);
}

/** How many of a device's certificates are still valid. */
export async function countValid(db: Kysely<Database>, deviceId: string): Promise<number> {
  const row = await db
    .selectFrom('certificates')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('device_id', '=', deviceId)
    .where('status', '=', 'valid')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
