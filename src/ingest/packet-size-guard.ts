import type { Client } from 'aedes';

interface ParserInternals {
  packet: { length: number };
  _parseLength?: () => boolean;
}

/**
 * Stops a connection as soon as an MQTT fixed header announces a packet larger than `maxBytes`
 * (the Remaining Length, MQTT 3.1.1 §2.2.3), before the parser buffers it: without this a client
 * could make the broker hold up to 256 MB per connection before `authorizePublish` sees the size.
 * Hooks the mqtt-packet parser of the Aedes client; if a future version renames it, only this
 * early guard is lost (the payload limit in the PUBLISH handler still applies).
 */
export function guardPacketSize(client: Client, maxBytes: number, onOversize: () => void): void {
  const parser = (client as unknown as { _parser?: ParserInternals })._parser;
  const parseLength = parser?._parseLength;
  if (!parser || typeof parseLength !== 'function') return;
  parser._parseLength = function guardedParseLength(this: ParserInternals) {
    const done = parseLength.call(this);
    if (done && this.packet.length > maxBytes) {
      onOversize();
      return false;
    }
    return done;
  };
}
