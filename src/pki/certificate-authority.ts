import type { webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PkiDeps } from './deps.js';
import { importPrivateKeyPem } from './pem.js';
import { x509 } from './x509-setup.js';

/** The issuing CA as the PKI uses it: its certificate, its signing key, and the root above it. */
export interface CertificateAuthority {
  issuing: x509.X509Certificate;
  root: x509.X509Certificate;
  signingKey: webcrypto.CryptoKey;
}

/** Reads the installation's CA files (`pki/issuing-ca.pem`, `pki/ca.pem`, `secrets/issuing-ca.key`). */
export async function loadCertificateAuthority(layout: PkiDeps['layout']): Promise<CertificateAuthority> {
  return {
    issuing: new x509.X509Certificate(readFileSync(layout.issuingCaCert, 'utf8')),
    root: new x509.X509Certificate(readFileSync(layout.rootCaCert, 'utf8')),
    signingKey: await importPrivateKeyPem(readFileSync(layout.issuingCaKey, 'utf8')),
  };
}
