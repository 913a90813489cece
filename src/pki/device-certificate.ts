import { createHash } from 'node:crypto';
import type { CertificatesTable } from '../store/tables/pki.js';
import type { CertificateAuthority } from './certificate-authority.js';
import type { CheckedCsr } from './csr.js';
import { newSerial } from './hierarchy.js';
import { SIGN_SHA256, x509 } from './x509-setup.js';

const DAY_MS = 86_400_000;
// Devices' clocks drift; a certificate valid from a few minutes ago works on a device that lags.
const BACKDATE_MS = 5 * 60_000;

/** The URI a device certificate names its device by (RFC 5280 §4.2.1.6, uniformResourceIdentifier). */
export function deviceUri(deviceId: string): string {
  return `urn:pulsegate:device:${deviceId}`;
}

/**
 * Signs a device certificate with the issuing CA. The subject and names come from the device id,
 * never from the request (a CSR's own extensions are ignored): CN = device id, SAN URI
 * `urn:pulsegate:device:<id>`, EKU clientAuth, KU digitalSignature (+ keyAgreement for EC keys),
 * AKI/SKI, and a random positive 128-bit serial.
 */
export async function signDeviceCertificate(opts: {
  ca: CertificateAuthority;
  csr: CheckedCsr;
  deviceId: string;
  days: number;
  now: number;
}): Promise<x509.X509Certificate> {
  const publicKey = opts.csr.csr.publicKey;
  const usage =
    x509.KeyUsageFlags.digitalSignature |
    (opts.csr.keyDescription.startsWith('EC') ? x509.KeyUsageFlags.keyAgreement : 0);
  return x509.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    subject: `CN=${opts.deviceId}`,
    issuer: opts.ca.issuing.subjectName,
    notBefore: new Date(opts.now - BACKDATE_MS),
    notAfter: new Date(opts.now + opts.days * DAY_MS),
    signingAlgorithm: SIGN_SHA256,
    publicKey,
    signingKey: opts.ca.signingKey as CryptoKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usage, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: deviceUri(opts.deviceId) }], false),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(opts.ca.issuing),
    ],
  });
}

/** Lower-case hex SHA-256 of a certificate's DER: its fingerprint. */
export function fingerprintOf(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/** The stored row for a freshly issued certificate. */
export function certificateRow(
  cert: x509.X509Certificate,
  deviceId: string,
  publicKeySha256: string,
  issuedAt: number,
): CertificatesTable {
  const der = new Uint8Array(cert.rawData);
  return {
    serial: cert.serialNumber.toLowerCase(),
    device_id: deviceId,
    subject: cert.subject,
    not_before: cert.notBefore.getTime(),
    not_after: cert.notAfter.getTime(),
    public_key_sha256: publicKeySha256,
    fingerprint_sha256: fingerprintOf(der),
    status: 'valid',
    revoked_at: null,
    revocation_reason: null,
    issued_at: issuedAt,
    der,
  };
}
