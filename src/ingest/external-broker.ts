import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { Config } from '../config/index.js';
import { type ErrorCode, isPulsegateError } from '../errors.js';
import type { EventBus } from '../events/index.js';
import type { Logger } from '../logging/logger.js';
import { IngestBatcher } from './ingest-batcher.js';
import type { TelemetrySink } from './ports.js';
import { recordRefusal } from './refusal.js';
import { TokenBuckets } from './token-bucket.js';
import { parsePublishTopic } from './topics.js';

/** PUBACK reason codes, MQTT 5 §3.4.2.1 (Table 3-4). */
const PUBACK = {
  SUCCESS: 0x00,
  UNSPECIFIED: 0x80,
  NOT_AUTHORIZED: 0x87,
  QUOTA_EXCEEDED: 0x97,
  PAYLOAD_FORMAT_INVALID: 0x99,
} as const;

function pubackCode(code: ErrorCode): number {
  if (code === 'INGEST_TOPIC_DENIED' || code === 'INGEST_DEVICE_NOT_ACTIVE' || code === 'INGEST_CERT_REVOKED')
    return PUBACK.NOT_AUTHORIZED;
  if (code === 'INGEST_RATE_LIMITED') return PUBACK.QUOTA_EXCEEDED;
  if (code.startsWith('TELEMETRY_') || code === 'INGEST_PAYLOAD_TOO_LARGE')
    return PUBACK.PAYLOAD_FORMAT_INVALID;
  return PUBACK.UNSPECIFIED;
}

/** What the consumer reads from the inventory about the device a topic names. */
export interface ExternalDeviceLookup {
  /** Throws PulsegateError DEVICE_NOT_FOUND for an unknown id. */
  getRow(id: string): Promise<{ lifecycle: string; certificate_status: string }>;
}

/** How long a device's inventory verdict is reused (changes on this node's bus apply at once). */
const DEVICE_VERDICT_TTL_MS = 5000;
const DEVICE_VERDICT_MAX_ENTRIES = 50_000;

export interface ExternalBrokerOptions {
  config: { mqtt: Config['mqtt'] };
  sink: TelemetrySink;
  /**
   * The inventory. The device id comes from the topic, so a message is stored only for a device
   * that exists, is neither quarantined nor retired, and whose certificate is not revoked: deny by
   * default, whatever the broker's ACL and CRL let through. Without it, every topic is trusted.
   */
  devices?: ExternalDeviceLookup;
  bus: EventBus;
  logger: Logger;
  /** TLS material; read from `config.mqtt.external{Ca,Cert,Key}File` when omitted. */
  tls?: { ca: string | Buffer; cert: string | Buffer; key: string | Buffer };
  /** MQTT client id; unique per node (default: host name, process id and a random suffix). */
  clientId?: string;
  batch?: { maxBatch?: number; maxWaitMs?: number };
}

export interface ExternalBrokerIngest {
  /** Connects and subscribes; resolves once the broker granted both subscriptions. */
  start(): Promise<void>;
  /** Stops consuming; batches already handed to the sink finish first. */
  stop(): Promise<void>;
  /** True while connected to the broker. */
  connected(): boolean;
}

/**
 * Consumes device messages from an external MQTT 5 broker cluster (Mosquitto, EMQX, HiveMQ) that
 * authenticates devices by certificate and enforces the topic ACL; see docs/external-broker.md.
 * Several Pulsegate nodes share the load through one shared subscription group
 * (`$share/{group}/devices/+/telemetry`, MQTT 5 §4.8.2). The PUBACK to the broker is sent only
 * after `sink.ingest` resolved (mqtt.js `customHandleAcks`), so an acknowledged message is stored;
 * a message the sink refuses gets a negative PUBACK (0x99 payload format invalid, §3.4.2.1) and is
 * recorded. If storing fails the connection is dropped unacknowledged, so the broker redelivers
 * it when the session resumes [MQTT-4.4.0-1].
 */
export function createExternalBrokerIngest(options: ExternalBrokerOptions): ExternalBrokerIngest {
  const { config, bus, logger } = options;
  const m = config.mqtt;
  const batcher = new IngestBatcher({ sink: options.sink, ...options.batch });
  const rate = new TokenBuckets({ ratePerSecond: m.ratePerSecond, burst: m.burst });
  const tls = options.tls ?? {
    ca: readFileSync(m.externalCaFile),
    cert: readFileSync(m.externalCertFile),
    key: readFileSync(m.externalKeyFile),
  };
  let client: MqttClient | undefined;
  const verdicts = new Map<string, { at: number; verdict: Promise<ErrorCode | null> }>();
  const unsubscribe: Array<() => void> = [];

  /**
   * Null when the device may send, else the refusal code. Each device's lookups are chained, so
   * its messages keep their order (a later seq must not overtake an earlier one: replay check).
   */
  const verdictOf = (deviceId: string): Promise<ErrorCode | null> => {
    const lookup = options.devices;
    if (!lookup) return Promise.resolve(null);
    const t = Date.now();
    const cached = verdicts.get(deviceId);
    if (cached && t - cached.at < DEVICE_VERDICT_TTL_MS) return cached.verdict;
    const previous = cached?.verdict.catch(() => null) ?? Promise.resolve(null);
    const verdict = previous.then(() =>
      lookup.getRow(deviceId).then(
        (row): ErrorCode | null => {
          if (row.lifecycle === 'quarantined' || row.lifecycle === 'retired')
            return 'INGEST_DEVICE_NOT_ACTIVE';
          if (row.certificate_status === 'revoked') return 'INGEST_CERT_REVOKED';
          return null;
        },
        (error: unknown) => {
          if (isPulsegateError(error) && error.code === 'DEVICE_NOT_FOUND') return 'INGEST_TOPIC_DENIED';
          entry.at = Number.NEGATIVE_INFINITY; // not cached: the next message asks again
          throw error;
        },
      ),
    );
    const entry = { at: t, verdict };
    verdicts.delete(deviceId);
    if (verdicts.size >= DEVICE_VERDICT_MAX_ENTRIES) verdicts.delete(verdicts.keys().next().value!);
    verdicts.set(deviceId, entry);
    return verdict;
  };

  const refuse = (code: ErrorCode, deviceId: string | null, topic: string, ack: (code: number) => void) => {
    recordRefusal(
      { bus, logger },
      { kind: 'publish', code, deviceId, address: null, topic: topic.slice(0, 200) },
    );
    ack(pubackCode(code));
  };

  const storeFailed = (deviceId: string, error: unknown) => {
    logger.error({ err: error, deviceId }, 'device lookup or telemetry store failed; not acknowledged');
    // No PUBACK: reconnect so the broker redelivers the unacknowledged message.
    client?.stream.destroy();
  };

  const handle = (topic: string, payload: Buffer, ack: (code: number) => void) => {
    const target = parsePublishTopic(topic);
    if (!target) return refuse('INGEST_TOPIC_DENIED', null, topic, ack);
    if (payload.length > m.maxPayloadBytes)
      return refuse('INGEST_PAYLOAD_TOO_LARGE', target.deviceId, topic, ack);
    verdictOf(target.deviceId)
      .then(async (denied) => {
        if (denied) return refuse(denied, target.deviceId, topic, ack);
        if (!rate.take(target.deviceId)) return refuse('INGEST_RATE_LIMITED', target.deviceId, topic, ack);
        const outcome = await batcher.submit({
          deviceId: target.deviceId,
          payload,
          receivedAt: Date.now(),
          source: 'external-broker',
          kind: target.kind,
        });
        // A replay is already stored: acknowledge it, so the broker stops redelivering.
        if (outcome.ok || outcome.code === 'TELEMETRY_REPLAY') return ack(PUBACK.SUCCESS);
        refuse(outcome.code, target.deviceId, topic, ack);
      })
      .catch((error: unknown) => storeFailed(target.deviceId, error));
  };

  return {
    async start() {
      const group = m.sharedGroup;
      // Expired, not deleted: the next lookup still queues behind one in flight (message order).
      const forget = ({ deviceId }: { deviceId: string }) => {
        const entry = verdicts.get(deviceId);
        if (entry) entry.at = Number.NEGATIVE_INFINITY;
      };
      unsubscribe.push(
        bus.on('device.changed', forget),
        bus.on('certificate.revoked', forget),
        bus.on('certificate.issued', forget),
      );
      const opts: IClientOptions = {
        protocolVersion: 5,
        clientId:
          options.clientId ?? `pulsegate-${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
        clean: false,
        properties: {
          sessionExpiryInterval: 3600,
          // The broker must not send us more than a device may publish (MQTT 5 §3.1.2.11.4).
          maximumPacketSize: m.maxPayloadBytes + 1024,
          receiveMaximum: 1000,
        },
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        rejectUnauthorized: true,
        reconnectPeriod: 1000,
        connectTimeout: 10_000,
        customHandleAcks: (topic, message, _packet, cb) => handle(topic, message, (code) => cb(code)),
      };
      const c = connect(m.externalUrl, opts);
      client = c;
      c.on('error', (error) => logger.warn({ err: error.message }, 'external broker error'));
      c.on('close', () => logger.debug('external broker connection closed'));
      const connected = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('external broker: connect timed out')), 15_000);
        c.once('connect', () => {
          clearTimeout(timer);
          resolve();
        });
        c.once('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
      });
      try {
        await connected;
      } catch (error) {
        client = undefined;
        c.end(true);
        throw error;
      }
      const granted = await c.subscribeAsync(
        [`$share/${group}/devices/+/telemetry`, `$share/${group}/devices/+/events`],
        { qos: 1 },
      );
      if (granted.some((g) => g.qos > 2)) throw new Error('external broker refused the shared subscriptions');
      logger.info({ group }, 'consuming from external broker');
    },

    async stop() {
      for (const off of unsubscribe.splice(0)) off();
      const c = client;
      client = undefined;
      await batcher.drain();
      if (c) await c.endAsync();
    },

    connected: () => client?.connected ?? false,
  };
}
