import type { AedesOptions } from 'aedes';
import type { ErrorCode } from '../errors.js';
import { addressOf, type BrokerContext } from './broker-context.js';
import type { IngestOutcome } from './ports.js';
import { recordRefusal } from './refusal.js';
import { mayPublish } from './topics.js';

/**
 * PUBLISH from a device (MQTT 3.1.1 §3.3). Aedes runs this before it writes the PUBACK (QoS 1) or
 * PUBREC (QoS 2) and only writes it when the callback reports no error (aedes
 * `lib/handlers/publish.js`: `authorizePublish` then `enqueuePublish`), so the message is stored
 * here and the callback runs after `sink.ingest` resolved: a PUBACK means "durably stored".
 *
 * Refusals: MQTT 3.1.1 has no negative PUBACK. A server that does not accept a PUBLISH "MUST
 * either make a positive acknowledgement ... or close the Network Connection" [MQTT-3.3.5-2]; a
 * positive acknowledgement would tell the device the data was stored when it was not, so every
 * refusal (topic, size, rate, a payload the telemetry sink refuses, a failed store) closes the
 * connection without an acknowledgement, and is recorded. The one exception is a replay: the
 * sink already holds that message (typically a DUP retransmission whose PUBACK was lost), so it
 * is acknowledged [MQTT-4.3.2-2] and recorded, not stored twice.
 */
export function authorizeDevicePublish(ctx: BrokerContext): NonNullable<AedesOptions['authorizePublish']> {
  return (client, packet, callback) => {
    const session = client ? ctx.sessionOf.get(client) : undefined;
    // Will messages of a session ended by revocation or quarantine come here with it closed.
    if (!client || !session || session.closed) return callback(new Error('session is not authorised'));
    const refuse = (code: ErrorCode) => {
      recordRefusal(ctx, {
        kind: 'publish',
        code,
        deviceId: session.deviceId,
        address: addressOf(client),
        topic: packet.topic.slice(0, 200),
      });
      callback(new Error(code));
    };
    const kind = mayPublish(session.deviceId, packet.topic);
    if (!kind) return refuse('INGEST_TOPIC_DENIED');
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    if (payload.length > ctx.maxPayloadBytes) return refuse('INGEST_PAYLOAD_TOO_LARGE');
    if (!ctx.rate.take(session.deviceId)) return refuse('INGEST_RATE_LIMITED');
    // Device data is stored, never kept as a retained message for later subscribers.
    packet.retain = false;
    ctx.batcher
      .submit({ deviceId: session.deviceId, payload, receivedAt: Date.now(), source: 'mqtt', kind })
      .then(
        (outcome: IngestOutcome) => {
          if (outcome.ok) return callback(null);
          if (outcome.code === 'TELEMETRY_REPLAY') {
            recordRefusal(ctx, {
              kind: 'publish',
              code: outcome.code,
              deviceId: session.deviceId,
              address: addressOf(client),
              topic: packet.topic,
            });
            return callback(null);
          }
          refuse(outcome.code);
        },
        (error: unknown) => {
          ctx.logger.error(
            { err: error, deviceId: session.deviceId },
            'telemetry store failed; not acknowledged',
          );
          callback(new Error('store failed'));
        },
      );
  };
}
