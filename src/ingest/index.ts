export { createExternalBrokerIngest, type ExternalBrokerIngest } from './external-broker.js';
export { HL7_MEDIA_TYPE, hl7IngestRoutes } from './hl7-routes.js';
export { IngestBatcher } from './ingest-batcher.js';
export { MllpDecoder, mllpFrame } from './mllp-framing.js';
export { createMllpListener, type MllpListener } from './mllp-listener.js';
export { createHl7Processor, type Hl7Answer, type Hl7Processor } from './mllp-processor.js';
export { createMqttIngest, type MqttIngest, type MqttIngestOptions } from './mqtt-ingest.js';
export type {
  DeviceIdentity,
  DeviceIdentityVerifier,
  IngestMessage,
  IngestOutcome,
  PeerCertificate,
  TelemetrySink,
} from './ports.js';
export { ingestRoutes } from './routes.js';
export { commandTopic, mayPublish, maySubscribe, parsePublishTopic } from './topics.js';
