/**
 * EST message bodies are base64 DER (RFC 7030 §3.2.2, §4.2.1, clarified by RFC 8951 §3.2:
 * whatever the Content-Transfer-Encoding header says, the body is base64).
 */

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes a base64 body, ignoring line breaks and spaces (RFC 2045 §6.8). Returns an empty array
 * for anything that is not base64, so the caller reports it as an invalid request in its own order
 * of checks (the enrollment token is checked before the request).
 */
export function decodeEstBody(body: Buffer | string | undefined): Uint8Array {
  if (body === undefined) return new Uint8Array(0);
  const text = (typeof body === 'string' ? body : body.toString('latin1')).replace(/[\r\n\t ]/g, '');
  if (!BASE64.test(text) || text.length % 4 === 1) return new Uint8Array(0);
  if (text.includes('=') && text.length % 4 !== 0) return new Uint8Array(0);
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** Base64 in 64-character lines with CRLF, as MIME (RFC 2045 §6.8) and `openssl base64 -d` expect. */
export function encodeEstBody(base64: string): string {
  return `${base64.replace(/(.{64})/g, '$1\r\n').replace(/\r\n$/, '')}\r\n`;
}

/** The EST reply content type for certificates (RFC 7030 §4.1.3, §4.2.3). */
export const CERTS_ONLY_TYPE = 'application/pkcs7-mime; smime-type=certs-only';
