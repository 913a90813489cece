import type { TLSSocket } from 'node:tls';
import type { AedesOptions, AuthenticateError, Client } from 'aedes';
import { type ErrorCode, isPulsegateError } from '../errors.js';
import { addressOf, type BrokerContext } from './broker-context.js';
import { peerCertificateProblem, verifiedPeerCertificate } from './peer-certificate.js';
import { recordRefusal } from './refusal.js';

/** CONNACK return codes of MQTT 3.1.1 §3.2.2.3 (Table 3.1). */
const CONNACK_SERVER_UNAVAILABLE = 3;
const CONNACK_NOT_AUTHORIZED = 5;

function connackError(returnCode: number): AuthenticateError {
  return Object.assign(new Error('not authorized'), { returnCode }) as AuthenticateError;
}

/**
 * CONNECT (MQTT 3.1.1 §3.1): the device is who its TLS client certificate says, verified by
 * `identity.identify` (revocation, expiry, lifecycle). Username and password are ignored, and the
 * client id is namespaced under the device id, so one device can neither take over another's
 * session [MQTT-3.1.4-2] nor inherit its stored subscriptions [MQTT-3.1.2-4]. A refusal is
 * CONNACK 0x05 "not authorized" (0x03 when the identity check itself failed) followed by closing
 * the connection [MQTT-3.2.2-5].
 */
export function authenticateDevice(
  ctx: BrokerContext,
  onSession: (client: Client) => void,
): NonNullable<AedesOptions['authenticate']> {
  return (client, _username, _password, done) => {
    const socket = client.conn as TLSSocket;
    const address = addressOf(client);
    const refuse = (code: ErrorCode, returnCode = CONNACK_NOT_AUTHORIZED, deviceId: string | null = null) => {
      recordRefusal(ctx, { kind: 'connect', code, deviceId, address, topic: null });
      done(connackError(returnCode), false);
    };
    // The listener already requires a certificate chained to our CA (rejectUnauthorized); this is
    // the second line for sockets handed in by other means.
    const peer = verifiedPeerCertificate(socket);
    if (!peer) return refuse(peerCertificateProblem(socket));
    ctx.identity.identify(peer).then(
      (identity) => {
        if (client.closed) return;
        const clientId = client.id;
        const session = ctx.sessions.open(identity, { clientId, address }, () => {
          socket.destroy();
          client.close();
        });
        ctx.sessionOf.set(client, session);
        (client as { id: string }).id = `${identity.deviceId}/${clientId}`;
        onSession(client);
        done(null, true);
      },
      (error: unknown) => {
        // The chain was verified by TLS, so the subject names one of our devices: a revoked or
        // quarantined identity that keeps trying is a finding for monitoring.
        if (isPulsegateError(error) && error.code.startsWith('INGEST_'))
          return refuse(error.code, CONNACK_NOT_AUTHORIZED, subjectDeviceId(socket));
        ctx.logger.error({ err: error }, 'device identity check failed');
        refuse('INTERNAL', CONNACK_SERVER_UNAVAILABLE);
      },
    );
  };
}

/** The device id in a chain-verified peer certificate's subject CN, or null. */
function subjectDeviceId(socket: TLSSocket): string | null {
  const cn = socket.getPeerCertificate()?.subject?.CN;
  const id = Array.isArray(cn) ? cn[0] : cn;
  return typeof id === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/.test(id) ? id : null;
}
