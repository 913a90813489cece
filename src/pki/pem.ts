import { createPrivateKey, type webcrypto } from 'node:crypto';
import { EC_P256, subtle } from './x509-setup.js';

/** PKCS#8 PEM of a WebCrypto private key. */
export async function privateKeyToPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trimEnd()}\n-----END PRIVATE KEY-----\n`;
}

/** Imports a P-256 PKCS#8 PEM private key for signing. */
export async function importPrivateKeyPem(pem: string): Promise<webcrypto.CryptoKey> {
  const der = createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' });
  return subtle.importKey('pkcs8', der, EC_P256, true, ['sign']);
}
