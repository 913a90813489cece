import { createHash, createPublicKey } from 'node:crypto';
import { PulsegateError } from '../errors.js';
import { isStrictSignedEnvelope } from './der-envelope.js';
import { x509 } from './x509-setup.js';

/** A PKCS#10 request that parsed, uses an accepted key and proves possession of it. */
export interface CheckedCsr {
  csr: x509.Pkcs10CertificateRequest;
  /** SHA-256 of the SubjectPublicKeyInfo, lower-case hex. */
  publicKeySha256: string;
  /** The subject's common names (a device CSR must hold exactly one). */
  commonNames: string[];
  /** e.g. `EC P-256` or `RSA 3072`, for the audit entry. */
  keyDescription: string;
}

const CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384' };
const RSA_MIN_BITS = 2048;
// Larger keys cost the CA seconds per verification for no security gain a device could need.
const RSA_MAX_BITS = 8192;
const RSA_MIN_EXPONENT = 65_537n;
const RSA_MAX_EXPONENT = 2n ** 256n;

function invalid(detail: string): PulsegateError {
  return new PulsegateError('EST_CSR_INVALID', detail);
}

/** EC P-256/P-384 or RSA of 2048 bits or more with a sound exponent; throws EST_CSR_WEAK_KEY otherwise. */
function describeKey(spki: Buffer): string {
  let key: ReturnType<typeof createPublicKey>;
  try {
    key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch {
    throw invalid('the public key cannot be read');
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    const curve = CURVES[details.namedCurve ?? ''];
    if (!curve) throw new PulsegateError('EST_CSR_WEAK_KEY', 'EC keys must use P-256 or P-384');
    return `EC ${curve}`;
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < RSA_MIN_BITS)
      throw new PulsegateError('EST_CSR_WEAK_KEY', 'RSA keys must have at least 2048 bits');
    if (bits > RSA_MAX_BITS) throw invalid('RSA keys larger than 8192 bits are not accepted');
    // A tiny exponent makes the key worthless: with e = 1 anyone can sign for it (and build a
    // working private key from the certificate alone). NIST SP 800-56B / FIPS 186-5: odd, 2^16+1 to 2^256.
    const e = details.publicExponent ?? 0n;
    if (e < RSA_MIN_EXPONENT || e >= RSA_MAX_EXPONENT || e % 2n === 0n)
      throw new PulsegateError('EST_CSR_WEAK_KEY', 'RSA public exponents must be odd and at least 65537');
    return `RSA ${bits}`;
  }
  throw new PulsegateError('EST_CSR_WEAK_KEY', 'the key must be EC P-256, EC P-384 or RSA');
}

/**
 * Parses a DER PKCS#10 request (RFC 2986) and checks it: the whole input is one request, the key
 * is acceptable, and the self-signature verifies (proof of possession, RFC 7030 §3.4).
 * Throws EST_CSR_INVALID or EST_CSR_WEAK_KEY; never anything else for any input bytes.
 */
export async function checkCsr(der: Uint8Array): Promise<CheckedCsr> {
  if (der.byteLength === 0) throw invalid('the request is empty');
  let csr: x509.Pkcs10CertificateRequest;
  let spki: Buffer;
  let commonNames: string[];
  try {
    csr = new x509.Pkcs10CertificateRequest(Buffer.from(der));
    if (csr.rawData.byteLength !== der.byteLength) throw new Error('trailing bytes');
    spki = Buffer.from(csr.publicKey.rawData);
    commonNames = csr.subjectName.getField('CN');
  } catch {
    throw invalid('the request is not a DER PKCS#10 certification request');
  }
  const keyDescription = describeKey(spki);
  if (!isStrictSignedEnvelope(der, keyDescription.startsWith('EC'))) throw invalid('the request is not DER');
  let verified = false;
  try {
    verified = await csr.verify();
  } catch {
    verified = false;
  }
  if (!verified) throw invalid('the request signature does not verify');
  return {
    csr,
    publicKeySha256: createHash('sha256').update(spki).digest('hex'),
    commonNames,
    keyDescription,
  };
}
