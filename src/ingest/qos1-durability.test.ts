/**
 * QoS 1 means "stored": the PUBACK waits for `sink.ingest` (checked with a gated sink), and after
 * the broker process is SIGKILLed mid-stream every message a real mqtt.js client saw
 * acknowledged is in the store.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteTestSink, TestIdentityVerifier, vitals } from '../../test/support/ingest-fixtures.js';
import { exitOf, type IngestTestEnv, ingestTestEnv, until } from '../../test/support/ingest-harness.js';
import { freePort } from '../../test/support/processes.js';
import { EventBus } from '../events/index.js';
import { createLogger } from '../logging/logger.js';
import { createMqttIngest, type IngestMessage, type IngestOutcome, type TelemetrySink } from './index.js';

const SERVER = fileURLToPath(new URL('../../test/support/ingest-server.ts', import.meta.url));
let env: IngestTestEnv;
const children: ChildProcess[] = [];
const clients: MqttClient[] = [];

beforeAll(async () => {
  env = await ingestTestEnv();
});

afterAll(async () => {
  for (const c of clients) c.end(true);
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  env?.cleanup();
});

function connectDevice(port: number, dev: { cert: string; key: string }) {
  return connectAsync({
    host: 'localhost',
    port,
    protocol: 'mqtts',
    protocolVersion: 4,
    ca: readFileSync(env.caBundle),
    cert: readFileSync(dev.cert),
    key: readFileSync(dev.key),
    reconnectPeriod: 0,
    connectTimeout: 5000,
  }).then((c) => {
    clients.push(c);
    return c;
  });
}

async function startServer(database: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER], {
    env: {
      ...process.env,
      PULSEGATE_INGEST_TEST: JSON.stringify({
        cert: env.layout.serverCert,
        key: env.layout.serverKey,
        issuingCa: env.layout.issuingCaCert,
        rootCa: env.layout.rootCaCert,
        database,
        port,
      }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  await until(() => out.includes('PORT ') || child.exitCode !== null, 20_000, 'ingest server start');
  if (!out.includes('PORT ')) throw new Error(`ingest server failed: ${out}`);
  return child;
}

describe('QoS 1 durability', () => {
  it('sends the PUBACK only after the sink resolved', async () => {
    let open: () => void = () => {};
    const gate = new Promise<void>((r) => (open = r));
    const stored: IngestMessage[] = [];
    const sink: TelemetrySink = {
      async ingest(messages): Promise<IngestOutcome[]> {
        await gate;
        stored.push(...messages);
        return messages.map(() => ({ ok: true, stored: 1, flagged: 0 }));
      },
    };
    const ingest = createMqttIngest({
      config: { mqtt: { ...env.config.mqtt, host: '127.0.0.1', port: 0 } },
      tls: env.tls,
      identity: new TestIdentityVerifier(env.tls.ca[0]!),
      sink,
      bus: new EventBus(),
      logger: createLogger({ level: 'silent' }),
    });
    const { port } = await ingest.start();
    try {
      const c = await connectDevice(port, env.device('gate-0001'));
      let acked = false;
      const publish = c.publishAsync('devices/gate-0001/telemetry', vitals(1), { qos: 1 }).then(() => {
        acked = true;
      });
      await new Promise((r) => setTimeout(r, 300));
      expect(acked).toBe(false);
      expect(stored).toHaveLength(0);
      open();
      await publish;
      expect(acked).toBe(true);
      expect(stored).toHaveLength(1);
    } finally {
      await ingest.stop();
    }
  });

  it('keeps every acknowledged message when the broker process is killed mid-stream', async () => {
    const database = join(env.dir, 'durable.db');
    const port = await freePort();
    const server = await startServer(database, port);
    const c = await connectDevice(port, env.device('pump-0100'));
    c.on('error', () => {});
    const acked: number[] = [];
    let sent = 0;
    let closed = false;
    c.on('close', () => (closed = true));
    // Keep up to 50 messages in flight, as a device with a backlog would.
    const pump = async () => {
      while (!closed && sent < 20_000) {
        const inflight: Promise<void>[] = [];
        for (let i = 0; i < 50 && !closed; i++) {
          const seq = ++sent;
          inflight.push(
            c.publishAsync('devices/pump-0100/telemetry', vitals(seq), { qos: 1 }).then(
              () => void acked.push(seq),
              () => {},
            ),
          );
        }
        await Promise.race([Promise.all(inflight), new Promise((r) => setTimeout(r, 2000))]);
      }
    };
    const running = pump();
    await until(() => acked.length >= 275, 20_000, '275 acknowledged messages');
    server.kill('SIGKILL');
    await exitOf(server);
    await until(() => closed, 5000, 'client sees the broker gone');
    await running;
    c.end(true);
    const ackedAtKill = [...acked];

    // Restart on the same database: the store opens, then read back.
    const again = await startServer(database, port);
    again.kill('SIGTERM');
    await exitOf(again);
    const store = new SqliteTestSink(database);
    try {
      const stored = new Set(store.seqs('pump-0100'));
      const missing = ackedAtKill.filter((seq) => !stored.has(seq));
      console.log(
        `sent ${sent}, acknowledged ${ackedAtKill.length}, stored ${stored.size}, acknowledged but missing ${missing.length}`,
      );
      expect(ackedAtKill.length).toBeGreaterThanOrEqual(275);
      expect(missing).toEqual([]);
      expect(stored.size).toBeGreaterThanOrEqual(ackedAtKill.length);
    } finally {
      store.close();
    }
  });
});
