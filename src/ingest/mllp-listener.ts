import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { Config } from '../config/index.js';
import { isPulsegateError } from '../errors.js';
import type { EventBus } from '../events/index.js';
import type { Logger } from '../logging/logger.js';
import { listenOn } from './listen.js';
import { MllpDecoder, mllpFrame } from './mllp-framing.js';
import type { Hl7Processor } from './mllp-processor.js';
import { peerCertificateProblem, tlsErrorCode, verifiedPeerCertificate } from './peer-certificate.js';
import type { DeviceIdentity, DeviceIdentityVerifier } from './ports.js';
import { recordRefusal } from './refusal.js';
import { SessionRegistry } from './sessions.js';

/** Unread ACK bytes at which a connection stops being read (an ACK is about 100 bytes). */
const ACK_BACKLOG_BYTES = 256 * 1024;

export interface MllpListenerOptions {
  config: { hl7: Config['hl7']; server?: Pick<Config['server'], 'tlsMinVersion'> };
  /** Server certificate and key, and the CAs gateway certificates must chain to (issuing, root). */
  tls: { cert: string | Buffer; key: string | Buffer; ca: Array<string | Buffer> };
  identity: DeviceIdentityVerifier;
  processor: Hl7Processor;
  bus: EventBus;
  logger: Logger;
}

export interface MllpListener {
  /** Listens on `config.hl7.host:port` (0 picks a free port) and returns the bound port. */
  start(): Promise<{ port: number }>;
  /** Stops accepting, closes every connection, waits for messages being stored. */
  stop(): Promise<void>;
  /** Open authenticated connections. */
  connections(): number;
}

/**
 * The HL7 v2 listener: MLLP (release 1 framing, <VT> message <FS><CR>) over TLS 1.2+, with a
 * client certificate from Pulsegate's CA required (no plain listener exists). The certificate
 * is checked by the TLS layer (chain) and then by the PKI (`identify`: ours, not revoked, not
 * expired, device active) before a byte of HL7 is read; it names the gateway, whose devices the
 * messages may report for. Senders may pipeline: messages are handled concurrently, up to
 * `hl7.maxInFlight` per connection, and ACKs are written in the order the messages came.
 * Revocation or quarantine of the gateway closes its connections at once.
 */
export function createMllpListener(options: MllpListenerOptions): MllpListener {
  const { config, bus, logger, processor } = options;
  const deps = { bus, logger };
  const sessions = new SessionRegistry();
  const sockets = new Set<TLSSocket>();
  const work = new Set<Promise<unknown>>();
  const unsubscribe: Array<() => void> = [];
  let server: Server | undefined;

  async function serve(socket: TLSSocket): Promise<void> {
    const address = socket.remoteAddress ?? null;
    const refuse = (code: Parameters<typeof recordRefusal>[1]['code'], deviceId: string | null = null) => {
      recordRefusal(deps, { kind: 'connect', code, deviceId, address, topic: null });
      socket.destroy();
    };
    const peer = verifiedPeerCertificate(socket);
    if (!peer) return refuse(peerCertificateProblem(socket));
    let gateway: DeviceIdentity;
    try {
      gateway = await options.identity.identify(peer);
    } catch (error) {
      return refuse(
        isPulsegateError(error) && error.code.startsWith('INGEST_') ? error.code : 'INGEST_CERT_INVALID',
      );
    }
    if (socket.destroyed) return;
    const session = sessions.open(gateway, { clientId: 'mllp', address }, () => socket.destroy());
    socket.once('close', () => sessions.remove(session));
    const decoder = new MllpDecoder(config.hl7.maxMessageBytes);
    // ACKs leave in arrival order: each message's answer is chained after the previous one's.
    let tail: Promise<void> = Promise.resolve();
    let pending = 0;
    let corked = false;
    // Reading pauses while many messages wait for their ACK, or while ACKs the client has not read
    // pile up (a client that never reads would otherwise have them buffered without end).
    const mayRead = () => pending < config.hl7.maxInFlight && socket.writableLength < ACK_BACKLOG_BYTES;
    socket.on('drain', () => {
      if (mayRead() && socket.isPaused()) socket.resume();
    });
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = decoder.push(chunk);
      } catch (error) {
        return refuse(isPulsegateError(error) ? error.code : 'HL7_FRAMING_INVALID', gateway.deviceId);
      }
      for (const frame of frames) {
        if (session.closed) return;
        pending++;
        if (!mayRead()) socket.pause();
        const answer = processor.handle(frame, gateway, { address, transport: 'mllp' });
        const step = tail.then(async () => {
          const a = await answer;
          if (!socket.destroyed) {
            // ACKs of one group commit resolve together: one TLS record and one write for them.
            if (!corked) {
              corked = true;
              socket.cork();
              process.nextTick(() => {
                corked = false;
                socket.uncork();
              });
            }
            socket.write(mllpFrame(a.ack));
          }
          pending--;
          if (!mayRead()) socket.pause();
          else if (socket.isPaused()) socket.resume();
        });
        tail = step;
        work.add(step);
        void step.finally(() => work.delete(step));
      }
    });
  }

  return {
    async start() {
      unsubscribe.push(
        bus.on('certificate.revoked', (e) => {
          sessions.closeDevice(e.deviceId, e.serial);
        }),
        bus.on('device.changed', (e) => {
          if (/(^|[.:])(quarantined|retired)$/.test(e.change)) sessions.closeDevice(e.deviceId);
        }),
      );
      server = createServer(
        {
          cert: options.tls.cert,
          key: options.tls.key,
          ca: options.tls.ca,
          requestCert: true,
          rejectUnauthorized: true,
          minVersion: config.server?.tlsMinVersion ?? 'TLSv1.2',
          honorCipherOrder: true,
          handshakeTimeout: 10_000,
        },
        (socket) => {
          sockets.add(socket);
          socket.setNoDelay(true);
          socket.setTimeout(config.hl7.idleTimeoutSeconds * 1000, () => socket.destroy());
          socket.on('error', (error) => logger.debug({ err: error.message }, 'mllp connection error'));
          socket.once('close', () => sockets.delete(socket));
          serve(socket).catch((error: unknown) => {
            logger.error({ err: error }, 'mllp connection failed');
            socket.destroy();
          });
        },
      );
      server.on('tlsClientError', (error, socket) => {
        recordRefusal(deps, {
          kind: 'connect',
          code: tlsErrorCode(socket.authorizationError ?? error),
          deviceId: null,
          address: socket.remoteAddress ?? null,
          topic: null,
        });
      });
      const port = await listenOn(server, { port: config.hl7.port, host: config.hl7.host, backlog: 1024 });
      logger.info({ port }, 'hl7 mllp listening (TLS, client certificates required)');
      return { port };
    },

    async stop() {
      for (const off of unsubscribe.splice(0)) off();
      const s = server;
      server = undefined;
      const closed = s ? new Promise<void>((resolve) => s.close(() => resolve())) : Promise.resolve();
      // Messages already being stored finish (and are acknowledged) before connections close.
      await Promise.allSettled([...work]);
      for (const socket of sockets) socket.destroy();
      await closed;
    },

    connections: () => sessions.sessionCount(),
  };
}
