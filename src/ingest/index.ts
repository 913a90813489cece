export { createExternalBrokerIngest, type ExternalBrokerIngest } from './external-broker.js';
export { IngestBatcher } from './ingest-batcher.js';
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
