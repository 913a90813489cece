import type { CertificateAuthority } from './certificate-authority.js';
import { crlReasonCode } from './revocation-reason.js';
import { SIGN_SHA256, x509 } from './x509-setup.js';

/** One certificate on the CRL. */
export interface CrlEntry {
  serial: string;
  revokedAt: number;
  reason: string;
}

const CRL_NUMBER_OID = '2.5.29.20';

/** DER of a non-negative INTEGER (the CRLNumber extension value, RFC 5280 §5.2.3). */
export function derInteger(value: bigint): Uint8Array<ArrayBuffer> {
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  // A set high bit would make the INTEGER negative: prefix a zero octet.
  if (Number.parseInt(hex.slice(0, 2), 16) & 0x80) hex = `00${hex}`;
  const body = Buffer.from(hex, 'hex');
  return new Uint8Array([0x02, body.length, ...body]);
}

/**
 * Signs a CRL (RFC 5280 §5) with the issuing CA: version 2, thisUpdate/nextUpdate, the
 * authority key identifier (§5.2.1, MUST) and a CRL number (§5.2.3, MUST), and one entry per
 * certificate with its reason code (§5.3.1).
 */
export async function signCrl(opts: {
  ca: CertificateAuthority;
  entries: readonly CrlEntry[];
  thisUpdate: number;
  nextUpdate: number;
  crlNumber: bigint;
}): Promise<x509.X509Crl> {
  return x509.X509CrlGenerator.create({
    issuer: opts.ca.issuing.subjectName,
    thisUpdate: new Date(opts.thisUpdate),
    nextUpdate: new Date(opts.nextUpdate),
    signingAlgorithm: SIGN_SHA256,
    signingKey: opts.ca.signingKey as CryptoKey,
    extensions: [
      await x509.AuthorityKeyIdentifierExtension.create(opts.ca.issuing),
      new x509.Extension(CRL_NUMBER_OID, false, derInteger(opts.crlNumber)),
    ],
    entries: opts.entries.map((e) => ({
      serialNumber: e.serial,
      revocationDate: new Date(e.revokedAt),
      reason: crlReasonCode(e.reason),
    })),
  });
}
