import { constants } from 'node:crypto';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { Aedes, type Client } from 'aedes';
import type { Config } from '../config/index.js';
import type { EventBus } from '../events/index.js';
import type { Logger } from '../logging/logger.js';
import { addressOf, type BrokerContext } from './broker-context.js';
import { IngestBatcher } from './ingest-batcher.js';
import { listenOn } from './listen.js';
import { authenticateDevice } from './mqtt-connect.js';
import { authorizeDevicePublish } from './mqtt-publish.js';
import { authorizeDeviceForward, authorizeDeviceSubscribe } from './mqtt-subscribe.js';
import { guardPacketSize } from './packet-size-guard.js';
import { tlsErrorCode } from './peer-certificate.js';
import type { DeviceIdentityVerifier, TelemetrySink } from './ports.js';
import { recordRefusal } from './refusal.js';
import { type DeviceSession, SessionRegistry } from './sessions.js';
import { TokenBuckets } from './token-bucket.js';
import { commandTopic } from './topics.js';

export interface MqttIngestOptions {
  config: { mqtt: Config['mqtt']; server?: Pick<Config['server'], 'tlsMinVersion'> };
  /** Server certificate and key, and the CAs device certificates must chain to (issuing, root). */
  tls: { cert: string | Buffer; key: string | Buffer; ca: Array<string | Buffer> };
  identity: DeviceIdentityVerifier;
  sink: TelemetrySink;
  bus: EventBus;
  logger: Logger;
  /** Batching of messages across connections into one `sink.ingest` call. */
  batch?: { maxBatch?: number; maxWaitMs?: number };
}

/** The embedded broker, as the composition root and the console see it. */
export interface MqttIngest {
  /** Listens on `config.mqtt.host:port` (0 picks a free port) and returns the bound port. */
  start(): Promise<{ port: number }>;
  /** Stops accepting, ends every session, waits for batches already handed to the sink. */
  stop(): Promise<void>;
  /** Devices with at least one connected session. */
  connectedDevices(): number;
  /** Sends a command to a device's live sessions on `devices/{id}/commands` (QoS 1). */
  publishCommand(deviceId: string, payload: Buffer): Promise<void>;
}

/** Bytes an MQTT packet may carry beyond its payload: fixed header, topic, packet id. */
const HEADER_ALLOWANCE = 1024;

/**
 * Pending connections the kernel queues for us (capped by net.core.somaxconn). After a network
 * outage every device of a hospital reconnects at once; with Node's default of 511 the overflow
 * is dropped and those devices wait for SYN retransmission (1 s, 3 s, 7 s...), which made a
 * 10,000-device storm take over a minute with the server mostly idle, and reset some.
 */
const LISTEN_BACKLOG = 8192;

/**
 * The embedded MQTT broker: Aedes behind a TLS listener that requires a client certificate
 * chained to Pulsegate's CA (no plaintext listener exists). MQTT 3.1.1: Aedes 1.x does not speak
 * MQTT 5, and answers a v5 CONNECT with return code 0x01 [MQTT-3.1.2-2].
 */
export function createMqttIngest(options: MqttIngestOptions): MqttIngest {
  const { config, bus, logger } = options;
  const sessions = new SessionRegistry();
  const batcher = new IngestBatcher({ sink: options.sink, ...options.batch });
  const ctx: BrokerContext = {
    identity: options.identity,
    batcher,
    bus,
    logger,
    sessions,
    rate: new TokenBuckets({ ratePerSecond: config.mqtt.ratePerSecond, burst: config.mqtt.burst }),
    maxPayloadBytes: config.mqtt.maxPayloadBytes,
    sessionOf: new WeakMap<Client, DeviceSession>(),
  };
  let broker: Aedes | undefined;
  let server: Server | undefined;
  const unsubscribe: Array<() => void> = [];

  // A device session ends when the connection does, however it ended.
  const onSession = (client: Client) => {
    client.conn.once('close', () => {
      const session = ctx.sessionOf.get(client);
      if (!session) return;
      sessions.remove(session);
      if (session.announced)
        bus.emit('device.disconnected', {
          deviceId: session.deviceId,
          clientId: session.clientId,
          reason: client.closed ? 'closed' : 'connection lost',
          at: Date.now(),
        });
    });
  };

  const onConnection = (socket: TLSSocket) => {
    if (!broker || broker.closed) return socket.destroy();
    const client = broker.handle(socket);
    guardPacketSize(client, config.mqtt.maxPayloadBytes + HEADER_ALLOWANCE, () => {
      const session = ctx.sessionOf.get(client);
      recordRefusal(ctx, {
        kind: session ? 'publish' : 'connect',
        code: 'INGEST_PAYLOAD_TOO_LARGE',
        deviceId: session?.deviceId ?? null,
        address: addressOf(client),
        topic: null,
      });
      socket.destroy();
    });
  };

  return {
    async start() {
      broker = await Aedes.createBroker({
        id: 'pulsegate',
        connectTimeout: 10_000,
        authenticate: authenticateDevice(ctx, onSession),
        authorizePublish: authorizeDevicePublish(ctx),
        authorizeSubscribe: authorizeDeviceSubscribe(ctx),
        authorizeForward: authorizeDeviceForward(ctx),
      });
      broker.on('clientReady', (client) => {
        const session = ctx.sessionOf.get(client);
        if (!session || session.closed) return;
        session.announced = true;
        bus.emit('device.connected', {
          deviceId: session.deviceId,
          clientId: session.clientId,
          address: session.address,
          at: Date.now(),
          serial: session.serial,
        });
      });
      broker.on('clientError', (client, error) =>
        logger.debug(
          { deviceId: ctx.sessionOf.get(client)?.deviceId, err: error.message },
          'mqtt client error',
        ),
      );
      unsubscribe.push(
        // Revocation ends the sessions that use that certificate, at once.
        bus.on('certificate.revoked', (e) => {
          const n = sessions.closeDevice(e.deviceId, e.serial);
          if (n > 0)
            logger.info({ deviceId: e.deviceId, sessions: n }, 'sessions closed: certificate revoked');
        }),
        // Quarantine (and retirement) end every session of the device.
        bus.on('device.changed', (e) => {
          if (!/(^|[.:])(quarantined|retired)$/.test(e.change)) return;
          const n = sessions.closeDevice(e.deviceId);
          if (n > 0) logger.info({ deviceId: e.deviceId, sessions: n, change: e.change }, 'sessions closed');
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
          // TLS 1.3 stateless tickets cost OpenSSL about 17 KB per live connection; an operator
          // with a large, rarely reconnecting fleet may trade resumption for memory.
          ...(config.mqtt.tlsSessionTickets ? {} : { secureOptions: constants.SSL_OP_NO_TICKET }),
        },
        onConnection,
      );
      // Handshakes refused by TLS: no certificate, another CA, expired.
      // Node ends a handshake whose certificate failed verification without an error of its own
      // (the client sees the reset); the reason is on `authorizationError`.
      // By then the TLS socket may have lost its handle (and so its address): the address is
      // taken from the TCP connection underneath, recorded when it was accepted.
      const tcpAddress = new WeakMap<object, string>();
      server.on('connection', (tcp: { remoteAddress?: string }) => {
        if (tcp.remoteAddress) tcpAddress.set(tcp, tcp.remoteAddress);
      });
      server.on('tlsClientError', (error, socket) => {
        const tcp = (socket as unknown as { _parent?: object })._parent;
        recordRefusal(ctx, {
          kind: 'connect',
          code: tlsErrorCode(socket.authorizationError ?? error),
          deviceId: null,
          address: socket.remoteAddress ?? (tcp ? tcpAddress.get(tcp) : undefined) ?? null,
          topic: null,
        });
      });
      const port = await listenOn(server, {
        port: config.mqtt.port,
        host: config.mqtt.host,
        backlog: LISTEN_BACKLOG,
      });
      logger.info({ port }, 'mqtt broker listening (TLS, client certificates required)');
      return { port };
    },

    async stop() {
      for (const off of unsubscribe.splice(0)) off();
      const s = server;
      server = undefined;
      const closed = s ? new Promise<void>((resolve) => s.close(() => resolve())) : Promise.resolve();
      sessions.closeAll();
      const b = broker;
      if (b) await new Promise<void>((resolve) => b.close(() => resolve()));
      await closed;
      await batcher.drain();
    },

    connectedDevices: () => sessions.connectedDevices(),

    publishCommand(deviceId, payload) {
      const b = broker;
      if (!b) return Promise.reject(new Error('broker not started'));
      return new Promise((resolve, reject) =>
        b.publish(
          { cmd: 'publish', topic: commandTopic(deviceId), payload, qos: 1, retain: false, dup: false },
          (err) => (err ? reject(err) : resolve()),
        ),
      );
    },
  };
}
