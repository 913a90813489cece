/**
 * External broker mode against a real Mosquitto started by the test (config as in
 * docs/external-broker.md): devices authenticate to Mosquitto with their certificates and its ACL
 * confines them to their own topics; two Pulsegate consumers in one MQTT 5 shared subscription
 * group split the stream and together store each message exactly once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteTestSink, vitals } from '../../test/support/ingest-fixtures.js';
import {
  background,
  type IngestTestEnv,
  ingestTestEnv,
  recordEvents,
  run,
  tlsArgs,
  until,
} from '../../test/support/ingest-harness.js';
import { freePort } from '../../test/support/processes.js';
import { EventBus } from '../events/index.js';
import { createLogger } from '../logging/logger.js';
import {
  createExternalBrokerIngest,
  type ExternalBrokerIngest,
  type IngestMessage,
  type TelemetrySink,
} from './index.js';

let env: IngestTestEnv;
let mosquitto: ChildProcess & { output: () => string };
let port: number;
let store: SqliteTestSink;
const consumers: ExternalBrokerIngest[] = [];
const bus = new EventBus();
const events = recordEvents(bus, ['ingest.refused']);

/** A consumer's view of the shared store: counts what this consumer handed in. */
function countingSink(): TelemetrySink & { received: IngestMessage[] } {
  const received: IngestMessage[] = [];
  return {
    received,
    async ingest(messages) {
      received.push(...messages);
      return store.ingest(messages);
    },
  };
}

function mosquittoConfig(dir: string, listenPort: number): string {
  const acl = join(dir, 'mosquitto.acl');
  writeFileSync(
    acl,
    [
      '# Devices (username = certificate CN): their own topics only.',
      'pattern write devices/%u/telemetry',
      'pattern write devices/%u/events',
      'pattern read devices/%u/commands',
      '',
      '# Pulsegate consumers: read every device, send commands.',
      'user pulsegate-ingest',
      'topic read devices/+/telemetry',
      'topic read devices/+/events',
      'topic write devices/+/commands',
      '',
    ].join('\n'),
  );
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      // Run as ourselves: as root, mosquitto would switch to the `mosquitto` user and lose the temp dir.
      `user ${userInfo().username}`,
      `listener ${listenPort} 127.0.0.1`,
      `cafile ${env.caBundle}`,
      `certfile ${env.layout.serverCert}`,
      `keyfile ${env.layout.serverKey}`,
      'tls_version tlsv1.2',
      'require_certificate true',
      'use_identity_as_username true',
      'allow_anonymous false',
      `acl_file ${acl}`,
      'persistence false',
      'log_dest stderr',
      'log_type all',
      '',
    ].join('\n'),
  );
  return conf;
}

function consumer(): { ingest: ExternalBrokerIngest; sink: ReturnType<typeof countingSink> } {
  const sink = countingSink();
  const me = env.device('pulsegate-ingest', { uri: null });
  const ingest = createExternalBrokerIngest({
    config: {
      mqtt: {
        ...env.config.mqtt,
        mode: 'external',
        externalUrl: `mqtts://localhost:${port}`,
        sharedGroup: 'pulsegate',
      },
    },
    tls: { ca: readFileSync(env.caBundle), cert: readFileSync(me.cert), key: readFileSync(me.key) },
    sink,
    bus,
    logger: createLogger({ level: 'silent' }),
  });
  consumers.push(ingest);
  return { ingest, sink };
}

/** One mosquitto_pub connection sending each line as a message (`-l`). */
function publishLines(
  device: { cert: string; key: string },
  topic: string,
  lines: string[],
  extra: string[] = [],
) {
  return new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn('mosquitto_pub', [
      ...tlsArgs(env, port, device),
      '-V',
      'mqttv5',
      '-q',
      '1',
      '-t',
      topic,
      '-l',
      ...extra,
    ]);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill(), 10_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
    child.stdin.end(`${lines.join('\n')}\n`);
  });
}

beforeAll(async () => {
  env = await ingestTestEnv();
  store = new SqliteTestSink(join(env.dir, 'telemetry.db'));
  port = await freePort();
  mosquitto = background('mosquitto', ['-c', mosquittoConfig(env.dir, port)]);
  await until(
    () => /running|Opening ipv4 listen socket/.test(mosquitto.output()) || mosquitto.exitCode !== null,
    10_000,
    'mosquitto',
  );
  if (mosquitto.exitCode !== null) throw new Error(`mosquitto failed: ${mosquitto.output()}`);
});

afterAll(async () => {
  for (const c of consumers) await c.stop().catch(() => {});
  mosquitto?.kill();
  store?.close();
  env?.cleanup();
});

describe('external broker mode (Mosquitto, MQTT 5 shared subscriptions)', () => {
  it('two consumers in one share group store every device message exactly once', async () => {
    const a = consumer();
    const b = consumer();
    await a.ingest.start();
    await b.ingest.start();
    const lines = Array.from({ length: 60 }, (_, i) => vitals(i + 1));
    const r = await publishLines(env.device('pump-0300'), 'devices/pump-0300/telemetry', lines);
    expect(r.code, r.stderr).toBe(0);
    await until(() => store.count('pump-0300') === 60, 10_000, 'all 60 stored');
    await new Promise((res) => setTimeout(res, 300)); // any duplicate delivery would arrive by now
    const fromA = a.sink.received.filter((m) => m.deviceId === 'pump-0300').length;
    const fromB = b.sink.received.filter((m) => m.deviceId === 'pump-0300').length;
    console.log(`shared subscription split: consumer A ${fromA}, consumer B ${fromB}`);
    expect(fromA).toBeGreaterThan(0);
    expect(fromB).toBeGreaterThan(0);
    expect(fromA + fromB).toBe(60);
    expect(store.seqs('pump-0300')).toEqual(lines.map((_, i) => i + 1));
    expect(a.sink.received[0]).toMatchObject({ source: 'external-broker', kind: 'telemetry' });
  });

  it("Mosquitto's ACL refuses a device publishing to another device's topic", async () => {
    const r = await publishLines(env.device('pump-0301'), 'devices/pump-0302/telemetry', [vitals(1)]);
    expect(`${r.stderr}`).toMatch(/not authori[sz]ed/i);
    await until(() => mosquitto.output().includes('Denied PUBLISH from'), 3000, 'mosquitto denial log');
    await new Promise((res) => setTimeout(res, 300));
    expect(store.count('pump-0302') + store.count('pump-0301')).toBe(0);
  });

  it('answers PUBACK 0x99 for a payload the sink refuses, and records it', async () => {
    const r = await publishLines(env.device('pump-0303'), 'devices/pump-0303/telemetry', ['{"seq": "x"}']);
    expect(r.code).toBe(0);
    await until(() => events.of('ingest.refused').some((e) => e.deviceId === 'pump-0303'), 5000, 'refusal');
    expect(events.of('ingest.refused').find((e) => e.deviceId === 'pump-0303')).toMatchObject({
      code: 'TELEMETRY_SCHEMA',
    });
    expect(store.count('pump-0303')).toBe(0);
  });

  it('refuses a device without a certificate at the broker', async () => {
    const r = await run(
      'mosquitto_pub',
      [...tlsArgs(env, port, null), '-t', 'devices/pump-0304/telemetry', '-m', vitals(1)],
      8000,
    );
    expect(r.code).not.toBe(0);
    expect(store.count('pump-0304')).toBe(0);
  });
});
