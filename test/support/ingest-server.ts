/**
 * A broker + store in its own process, so a test can SIGKILL it mid-stream: the embedded MQTT
 * ingest with the SQLite test sink and the test identity verifier. Configuration comes as JSON in
 * PULSEGATE_INGEST_TEST (cert/key/CA files, database file, port); prints `PORT <n>` when ready.
 * Run: node --import tsx test/support/ingest-server.ts
 */
import { readFileSync } from 'node:fs';
import { EventBus } from '../../src/events/index.js';
import { createMqttIngest } from '../../src/ingest/index.js';
import { createLogger } from '../../src/logging/logger.js';
import { SqliteTestSink, TestIdentityVerifier } from './ingest-fixtures.js';

interface ServerSpec {
  cert: string;
  key: string;
  issuingCa: string;
  rootCa: string;
  database: string;
  port: number;
}

const spec = JSON.parse(process.env.PULSEGATE_INGEST_TEST ?? '{}') as ServerSpec;
const issuing = readFileSync(spec.issuingCa);
const ingest = createMqttIngest({
  config: {
    mqtt: {
      mode: 'embedded',
      host: '127.0.0.1',
      port: spec.port,
      maxPayloadBytes: 65_536,
      tlsSessionTickets: true,
      ratePerSecond: 100_000,
      burst: 1_000_000,
      externalUrl: '',
      externalCaFile: '',
      externalCertFile: '',
      externalKeyFile: '',
      sharedGroup: 'pulsegate',
    },
  },
  tls: {
    cert: readFileSync(spec.cert),
    key: readFileSync(spec.key),
    ca: [issuing, readFileSync(spec.rootCa)],
  },
  identity: new TestIdentityVerifier(issuing),
  sink: new SqliteTestSink(spec.database),
  bus: new EventBus(),
  logger: createLogger({ level: 'silent' }),
});
const { port } = await ingest.start();
process.stdout.write(`PORT ${port}\n`);
