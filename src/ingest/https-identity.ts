import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import { type ErrorCode, isPulsegateError, PulsegateError } from '../errors.js';
import type { EventBus } from '../events/index.js';
import type { Logger } from '../logging/logger.js';
import { peerCertificateProblem, verifiedPeerCertificate } from './peer-certificate.js';
import type { DeviceIdentity, DeviceIdentityVerifier } from './ports.js';
import { recordRefusal } from './refusal.js';

/**
 * The device (or gateway) behind an HTTPS ingest request, from the TLS client certificate of the
 * API listener. A missing, unacceptable or unknown certificate is recorded as a refused connect
 * and thrown as its `INGEST_*` error.
 */
export async function identifyHttpsClient(
  request: FastifyRequest,
  identity: DeviceIdentityVerifier,
  deps: { bus: EventBus; logger: Logger },
): Promise<DeviceIdentity> {
  const socket = request.raw.socket as TLSSocket;
  const refuse = (code: ErrorCode): never => {
    recordRefusal(deps, { kind: 'connect', code, deviceId: null, address: request.ip ?? null, topic: null });
    throw new PulsegateError(code);
  };
  // In-process `inject()` and plain sockets have no TLS: no certificate.
  if (!socket.encrypted || typeof socket.getPeerCertificate !== 'function')
    return refuse('INGEST_CLIENT_CERT_REQUIRED');
  const peer = verifiedPeerCertificate(socket);
  if (!peer) return refuse(peerCertificateProblem(socket));
  try {
    return await identity.identify(peer);
  } catch (error) {
    if (isPulsegateError(error) && error.code.startsWith('INGEST_')) return refuse(error.code);
    throw error;
  }
}
