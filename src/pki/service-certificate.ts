/**
 * Pulsegate's own client certificates, for the services it runs rather than devices: today the
 * identity an external broker knows Pulsegate's ingest nodes by (CN `pulsegate-ingest`,
 * docs/external-broker.md). Issued by the issuing CA like a device certificate but from a key made
 * here, and recorded in `certificates` under the reserved name, so `GET /pki/crl` lists it once it
 * is revoked (`pulsegate device revoke pulsegate-ingest`). It never passes `identify()`: no
 * device row goes with it, so it cannot publish as a device on the embedded broker.
 */
import { createHash } from 'node:crypto';
import type { Principal } from '../access/index.js';
import { actorOf } from './deps.js';
import { certificateRow } from './device-certificate.js';
import { newSerial } from './hierarchy.js';
import { privateKeyToPem } from './pem.js';
import type { PkiContext } from './pki-context.js';
import { EC_P256, SIGN_SHA256, subtle, x509 } from './x509-setup.js';

/** The service identities Pulsegate issues (device ids starting with `pulsegate-` are reserved). */
export const SERVICE_NAMES = ['pulsegate-ingest'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

const DAY_MS = 86_400_000;

/** An issued service certificate: the chain (leaf, then issuing CA) and the key, both PEM. */
export interface ServiceCertificate {
  name: ServiceName;
  serial: string;
  notAfter: number;
  certChainPem: string;
  keyPem: string;
}

export async function issueServiceCertificate(
  ctx: PkiContext,
  name: ServiceName,
  days: number,
  actor?: Principal,
): Promise<ServiceCertificate> {
  const keys = (await subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = ctx.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    subject: `CN=${name}`,
    issuer: ctx.ca.issuing.subjectName,
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(now + days * DAY_MS),
    signingAlgorithm: SIGN_SHA256,
    publicKey: keys.publicKey,
    signingKey: ctx.ca.signingKey as CryptoKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
      new x509.SubjectAlternativeNameExtension(
        [{ type: 'url', value: `urn:pulsegate:service:${name.replace(/^pulsegate-/, '')}` }],
        false,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ctx.ca.issuing),
    ],
  });
  const spki = Buffer.from(await subtle.exportKey('spki', keys.publicKey));
  const row = certificateRow(cert, name, createHash('sha256').update(spki).digest('hex'), now);
  await ctx.db.insertInto('certificates').values(row).execute();
  await ctx.audit.append({
    actor: actorOf(actor),
    action: 'pki.service-certificate.issue',
    resource: { type: 'service', id: name },
    outcome: 'success',
    reason: `serial ${row.serial}, valid ${days} days`,
  });
  return {
    name,
    serial: row.serial,
    notAfter: row.not_after,
    certChainPem: `${cert.toString('pem')}\n${ctx.ca.issuing.toString('pem')}\n`,
    keyPem: await privateKeyToPem(keys.privateKey),
  };
}

/** True for certificate rows of a service identity (no device row behind them). */
export function isServiceName(deviceId: string): boolean {
  return (SERVICE_NAMES as readonly string[]).includes(deviceId);
}
