import { x509 } from './x509-setup.js';

/**
 * A certs-only CMS SignedData (RFC 5652 §5, no signers; RFC 7030 §4.1.3 "certs-only") holding
 * the given certificates, as base64 DER: the body of EST's application/pkcs7-mime replies.
 */
export function certsOnlyBase64(certs: readonly x509.X509Certificate[]): string {
  return new x509.X509Certificates([...certs]).export('base64');
}
