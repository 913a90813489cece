import type { webcrypto } from 'node:crypto';
import { request } from 'node:https';
import { PulsegateError } from '../errors.js';
import { privateKeyToPem } from '../pki/pem.js';
import { EC_P256, SIGN_SHA256, subtle, x509 } from '../pki/x509-setup.js';

/** A device's credentials after enrollment. */
export interface DeviceCredentials {
  deviceId: string;
  keyPem: string;
  certPem: string;
}

/** POSTs `body` and returns the response text; rejects with the problem code on HTTP errors. */
function post(
  url: string,
  opts: { ca: string | Buffer; headers: Record<string, string>; body: string; cert?: string; key?: string },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        ca: opts.ca,
        cert: opts.cert,
        key: opts.key,
        headers: { ...opts.headers, 'content-length': Buffer.byteLength(opts.body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          if ((res.statusCode ?? 500) < 300) return resolve(text);
          let code = 'INTERNAL';
          try {
            code = (JSON.parse(text) as { code?: string }).code ?? code;
          } catch {}
          reject(new PulsegateError(code as never, `EST request failed with HTTP ${res.statusCode}`));
        });
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A fresh P-256 key pair and a PKCS#10 request for `deviceId` (base64 DER, as RFC 7030 §4.2.1 sends it). */
export async function createCsr(
  deviceId: string,
  /** A key pair to use instead of a fresh one (the fleet checks' "one key on two devices"). */
  reuse?: webcrypto.CryptoKeyPair,
): Promise<{ keys: webcrypto.CryptoKeyPair; csrBase64: string }> {
  const keys =
    reuse ?? ((await subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${deviceId}`,
    keys: keys as CryptoKeyPair,
    signingAlgorithm: SIGN_SHA256,
  });
  return { keys, csrBase64: Buffer.from(csr.rawData).toString('base64') };
}

/** The device certificate from an EST certs-only PKCS#7 reply (base64). */
export function certificateFromPkcs7(base64: string, deviceId: string): string {
  const certs = new x509.X509Certificates(Buffer.from(base64.replace(/\s+/g, ''), 'base64'));
  const leaf = [...certs].find((c) => c.subject.includes(`CN=${deviceId}`)) ?? [...certs][0];
  if (!leaf) throw new PulsegateError('EST_CSR_INVALID', 'The EST reply held no certificate');
  return leaf.toString('pem');
}

/**
 * Enrolls a device the way a real one would (RFC 7030 simpleenroll): it generates its own key,
 * sends a CSR with the one-time enrollment token, and keeps the certificate it gets back.
 */
export async function enrollOverEst(opts: {
  baseUrl: string;
  ca: string | Buffer;
  deviceId: string;
  enrollmentToken: string;
}): Promise<DeviceCredentials> {
  const { keys, csrBase64 } = await createCsr(opts.deviceId);
  const reply = await post(`${opts.baseUrl}/.well-known/est/simpleenroll`, {
    ca: opts.ca,
    headers: {
      authorization: `Bearer ${opts.enrollmentToken}`,
      'content-type': 'application/pkcs10',
      'content-transfer-encoding': 'base64',
    },
    body: csrBase64,
  });
  return {
    deviceId: opts.deviceId,
    keyPem: await privateKeyToPem(keys.privateKey),
    certPem: certificateFromPkcs7(reply, opts.deviceId),
  };
}
