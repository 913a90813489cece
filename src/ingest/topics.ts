import type { IngestMessage } from './ports.js';

/**
 * The MQTT topic contract (design.md, "External contracts"): a device publishes only to
 * `devices/{ownId}/telemetry` and `devices/{ownId}/events` and subscribes only to
 * `devices/{ownId}/commands`. Deny by default: anything else is refused.
 */
export type PublishKind = IngestMessage['kind'];

const PUBLISH = /^devices\/([A-Za-z0-9][A-Za-z0-9._-]{2,63})\/(telemetry|events)$/;

/** The kind of message a topic carries and whose it is, or null when it is not a device publish topic. */
export function parsePublishTopic(topic: string): { deviceId: string; kind: PublishKind } | null {
  const m = PUBLISH.exec(topic);
  if (!m) return null;
  return { deviceId: m[1]!, kind: m[2] as PublishKind };
}

/** True when `deviceId` may publish to `topic` (exact match, no wildcards [MQTT-3.3.2-2]). */
export function mayPublish(deviceId: string, topic: string): PublishKind | null {
  const parsed = parsePublishTopic(topic);
  return parsed && parsed.deviceId === deviceId ? parsed.kind : null;
}

/** The only topic filter a device may subscribe to: its own command topic, literally. */
export function commandTopic(deviceId: string): string {
  return `devices/${deviceId}/commands`;
}

/**
 * True when `deviceId` may subscribe to `filter`. Only the exact own command topic; wildcards
 * (`+`, `#`), shared subscriptions and `$SYS` are refused even when they would match only its own.
 */
export function maySubscribe(deviceId: string, filter: string): boolean {
  return filter === commandTopic(deviceId);
}
