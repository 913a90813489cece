import type { TLSSocket } from 'node:tls';
import type { ErrorCode } from '../errors.js';
import type { PeerCertificate } from './ports.js';

/**
 * The verified peer certificate of a TLS socket, or null when the client sent none or the TLS
 * layer did not accept its chain (`authorized` false). Only what `DeviceIdentityVerifier` needs.
 */
export function verifiedPeerCertificate(socket: TLSSocket): PeerCertificate | null {
  if (!socket.authorized) return null;
  const cert = socket.getPeerCertificate();
  if (!cert?.raw || cert.raw.length === 0) return null;
  return { raw: cert.raw, serialNumber: cert.serialNumber, fingerprint256: cert.fingerprint256 };
}

/** The ingest refusal code for a socket that presented no acceptable certificate. */
export function peerCertificateProblem(socket: TLSSocket): ErrorCode {
  const cert = socket.getPeerCertificate();
  if (!cert?.raw || cert.raw.length === 0) return 'INGEST_CLIENT_CERT_REQUIRED';
  return tlsErrorCode(socket.authorizationError);
}

/**
 * Maps a TLS handshake failure (OpenSSL reason or Node verify error code) to an ingest code, so a
 * refused handshake is recorded as "no certificate", "expired" or "not ours".
 */
export function tlsErrorCode(error: unknown): ErrorCode {
  const code = String(
    (error as { code?: unknown } | null)?.code ?? (error instanceof Error ? error.message : (error ?? '')),
  );
  if (/PEER_DID_NOT_RETURN_A_CERTIFICATE|NO_CERTIFICATE/i.test(code)) return 'INGEST_CLIENT_CERT_REQUIRED';
  if (/CERT_HAS_EXPIRED|CERT_NOT_YET_VALID/.test(code)) return 'INGEST_CERT_EXPIRED';
  if (/CERT_REVOKED/.test(code)) return 'INGEST_CERT_REVOKED';
  return 'INGEST_CERT_INVALID';
}
