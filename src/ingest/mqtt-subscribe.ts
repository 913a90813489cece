import type { AedesOptions } from 'aedes';
import { addressOf, type BrokerContext } from './broker-context.js';
import { recordRefusal } from './refusal.js';
import { commandTopic, maySubscribe } from './topics.js';

/**
 * SUBSCRIBE (MQTT 3.1.1 §3.8): a device may subscribe to its own command topic only. Any other
 * filter is answered with return code 0x80 "Failure" in the SUBACK [MQTT-3.9.3-2] (the
 * connection stays up) and recorded.
 */
export function authorizeDeviceSubscribe(
  ctx: BrokerContext,
): NonNullable<AedesOptions['authorizeSubscribe']> {
  return (client, subscription, callback) => {
    const session = ctx.sessionOf.get(client);
    if (!session || session.closed || !maySubscribe(session.deviceId, subscription.topic)) {
      recordRefusal(ctx, {
        kind: 'subscribe',
        code: 'INGEST_TOPIC_DENIED',
        deviceId: session?.deviceId ?? null,
        address: addressOf(client),
        topic: subscription.topic.slice(0, 200),
      });
      return callback(null, null);
    }
    callback(null, subscription);
  };
}

/**
 * Outbound routing guard: a device receives only messages on its own command topic, whatever
 * else might match its subscriptions. Device telemetry is stored, never forwarded.
 */
export function authorizeDeviceForward(ctx: BrokerContext): NonNullable<AedesOptions['authorizeForward']> {
  return (client, packet) => {
    const session = ctx.sessionOf.get(client);
    return session && !session.closed && packet.topic === commandTopic(session.deviceId) ? packet : null;
  };
}
