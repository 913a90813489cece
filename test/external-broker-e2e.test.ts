/**
 * External broker mode of the real composed application against a real Mosquitto, configured as
 * docs/external-broker.md says: a TLS listener with the installation's server certificate,
 * client certificates required and chained to Pulsegate's CA, the certificate CN as the MQTT
 * username, the ACL patterns, no anonymous logins. The installation's `pulsegate.yaml` is set to
 * `mqtt.mode: external` with Pulsegate's own client certificate (CN pulsegate-ingest, issued by
 * openssl from the issuing CA). A device enrolled over EST publishes with mosquitto_pub to the
 * broker; the value is stored and read back through the API.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createApp, type PulsegateApp } from '../src/app.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/logging/logger.js';
import {
  type DeviceCredentials,
  enrolledDevice,
  mqttArgs,
  type NewInstallation,
  newInstallation,
  RECORDED,
  telemetryRows,
  vitalsPayload,
} from './support/e2e.js';
import { bundle } from './support/ingest-certs.js';
import { background, exitOf, recordEvents, run, until } from './support/ingest-harness.js';
import { cli, freePort } from './support/processes.js';

const DEVICE = 'oxi-ward-07';
const OTHER = 'oxi-ward-08';
const PATIENT = 'MRN-X-0007';

let inst: NewInstallation;
let brokerPort: number;
let mosquitto: ReturnType<typeof background>;
let app: PulsegateApp;
let events: ReturnType<typeof recordEvents<(typeof RECORDED)[number]>>;
let device: DeviceCredentials;
let otherDevice: DeviceCredentials;
let caBundle: string;
/** Pulsegate's own broker identity: a valid certificate, but no device. */
let ingestIdentity: DeviceCredentials;

/** mosquitto.conf and ACL as in docs/external-broker.md (persistence off for a test). */
function mosquittoConfig(): string {
  const acl = join(inst.work, 'pulsegate.acl');
  writeFileSync(
    acl,
    [
      '# Devices: the username is the certificate CN (use_identity_as_username), i.e. the device id.',
      'pattern write devices/%u/telemetry',
      'pattern write devices/%u/events',
      'pattern read devices/%u/commands',
      '',
      '# Pulsegate nodes (certificate CN pulsegate-ingest).',
      'user pulsegate-ingest',
      'topic read devices/+/telemetry',
      'topic read devices/+/events',
      'topic write devices/+/commands',
      '',
    ].join('\n'),
  );
  const conf = join(inst.work, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      // As root, mosquitto would switch to the `mosquitto` user and lose access to the temp dir.
      `user ${userInfo().username}`,
      'per_listener_settings false',
      `listener ${brokerPort} 127.0.0.1`,
      `cafile ${caBundle}`,
      `certfile ${inst.layout.serverCert}`,
      `keyfile ${inst.layout.serverKey}`,
      'tls_version tlsv1.2',
      'require_certificate true',
      'use_identity_as_username true',
      'allow_anonymous false',
      `acl_file ${acl}`,
      'persistence false',
      'max_packet_size 66560',
      'log_dest stderr',
      'log_type all',
      '',
    ].join('\n'),
  );
  return conf;
}

const pub = (creds: DeviceCredentials, topic: string, message: string) =>
  run(
    'mosquitto_pub',
    [...mqttArgs(brokerPort, caBundle, creds), '-V', 'mqttv5', '-q', '1', '-t', topic, '-m', message],
    10_000,
  );

beforeAll(async () => {
  inst = await newInstallation();
  brokerPort = await freePort();
  caBundle = bundle(join(inst.work, 'ca-bundle.pem'), inst.layout.rootCaCert, inst.layout.issuingCaCert);
  // Pulsegate's client certificate for the broker, as docs/external-broker.md says to issue it.
  const issued = cli([
    'pki',
    'ingest-cert',
    '--data',
    inst.dataDir,
    '--out',
    join(inst.work, 'ingest'),
    '--json',
  ]);
  expect(issued.code, issued.stderr).toBe(0);
  const ingest = JSON.parse(issued.stdout) as { cert: string; key: string; serial: string };
  ingestIdentity = {
    deviceId: 'pulsegate-ingest',
    cert: ingest.cert,
    key: ingest.key,
    serial: ingest.serial,
  };
  // The operator switches the installation to external mode in pulsegate.yaml.
  const yaml = parse(readFileSync(inst.layout.config, 'utf8')) as Record<string, Record<string, unknown>>;
  yaml.mqtt = {
    ...yaml.mqtt,
    mode: 'external',
    externalUrl: `mqtts://localhost:${brokerPort}`,
    externalCaFile: inst.layout.rootCaCert,
    externalCertFile: ingest.cert,
    externalKeyFile: ingest.key,
    sharedGroup: 'pulsegate',
  };
  writeFileSync(inst.layout.config, stringify(yaml));

  mosquitto = background('mosquitto', ['-c', mosquittoConfig()]);
  await until(
    () => /Opening ipv4 listen socket/.test(mosquitto.output()) || mosquitto.exitCode !== null,
    10_000,
    'mosquitto to listen',
  );
  if (mosquitto.exitCode !== null) throw new Error(`mosquitto failed: ${mosquitto.output()}`);

  app = await createApp(loadConfig(inst.dataDir, {}), { logger: createLogger({ level: 'silent' }), env: {} });
  events = recordEvents(app.bus, [...RECORDED]);
  const urls = await app.listen();
  expect(urls.mqtt).toBeUndefined();
  device = await enrolledDevice(inst.admin, DEVICE, { patientId: PATIENT });
  otherDevice = await enrolledDevice(inst.admin, OTHER);
});

afterAll(async () => {
  await app?.close();
  if (mosquitto && mosquitto.exitCode === null) {
    mosquitto.kill();
    await Promise.race([exitOf(mosquitto), new Promise((r) => setTimeout(r, 3000))]);
  }
  inst?.cleanup();
});

describe('external broker mode (Mosquitto as in docs/external-broker.md)', () => {
  it('Pulsegate consumes with its own certificate through a shared subscription', () => {
    const log = mosquitto.output();
    expect(log).toMatch(/New client connected from 127\.0\.0\.1:\d+ as pulsegate-/);
    expect(log).toContain('$share/pulsegate/devices/+/telemetry');
    expect(log).not.toMatch(/Denied SUBSCRIBE/);
  });

  it('stores what an enrolled device publishes to the broker; readable by device and patient', async () => {
    const r = await pub(device, `devices/${DEVICE}/telemetry`, vitalsPayload(1, { hr: 64, spo2: 93 }));
    expect(r.code, r.stderr).toBe(0);
    // The broker's PUBACK to the device does not wait for Pulsegate; wait for the store.
    await until(
      () => events.of('telemetry.stored').some((e) => e.deviceId === DEVICE && e.seq === 1),
      5000,
      'stored from the broker',
    );
    expect(events.of('telemetry.stored').find((e) => e.deviceId === DEVICE)).toMatchObject({
      source: 'external-broker',
      count: 2,
    });
    const expected = [
      expect.objectContaining({ deviceId: DEVICE, seq: 1, kind: 'heart-rate', value: 64, unit: '/min' }),
      expect.objectContaining({ deviceId: DEVICE, seq: 1, kind: 'spo2', value: 93, unit: '%' }),
    ];
    const byDevice = await inst.admin.api('GET', `/api/v1/devices/${DEVICE}/telemetry`);
    expect(byDevice.status).toBe(200);
    expect(byDevice.json.observations).toEqual(expect.arrayContaining(expected));
    const byPatient = await inst.admin.patientTelemetry(PATIENT);
    expect(byPatient.status).toBe(200);
    expect(byPatient.json.observations).toEqual(expect.arrayContaining(expected));
  });

  it("the broker's ACL refuses a device publishing to another device's topic (PUBACK 0x87)", async () => {
    const before = await telemetryRows(app.store);
    const r = await pub(device, `devices/${OTHER}/telemetry`, vitalsPayload(2));
    expect(r.stderr).toMatch(/not authori[sz]ed/i);
    await until(() => mosquitto.output().includes(`Denied PUBLISH from`), 3000, 'mosquitto denial');
    // Anything that slipped through would have reached Pulsegate by now.
    await new Promise((res) => setTimeout(res, 300));
    await app.telemetry.flush();
    expect(await telemetryRows(app.store)).toBe(before);
    expect(await telemetryRows(app.store, OTHER)).toBe(0);
  });

  it('Pulsegate refuses a payload its schema rejects (PUBACK 0x99 to the broker), storing nothing', async () => {
    const before = await telemetryRows(app.store);
    const r = await pub(device, `devices/${DEVICE}/telemetry`, vitalsPayload(3, { spo2: 150 }));
    expect(r.code, r.stderr).toBe(0);
    await until(
      () => events.of('ingest.refused').some((e) => e.deviceId === DEVICE),
      5000,
      'refusal recorded',
    );
    expect(events.of('ingest.refused').find((e) => e.deviceId === DEVICE)).toMatchObject({
      kind: 'publish',
      code: 'TELEMETRY_IMPOSSIBLE_VALUE',
      topic: `devices/${DEVICE}/telemetry`,
    });
    expect(events.of('telemetry.rejected')).toContainEqual(
      expect.objectContaining({
        deviceId: DEVICE,
        code: 'TELEMETRY_IMPOSSIBLE_VALUE',
        source: 'external-broker',
      }),
    );
    await app.telemetry.flush();
    expect(await telemetryRows(app.store)).toBe(before);
  });

  describe('Pulsegate does not take the topic on trust: the device must be in the inventory and allowed', () => {
    /** The broker accepts the publish (its ACL and missing CRL allow it); Pulsegate refuses it. */
    async function refusedByPulsegate(creds: DeviceCredentials, deviceId: string, code: string) {
      const before = await telemetryRows(app.store);
      const from = events.of('ingest.refused').length;
      const r = await pub(creds, `devices/${deviceId}/telemetry`, vitalsPayload(100));
      expect(r.code, r.stderr).toBe(0);
      await until(
        () =>
          events
            .of('ingest.refused')
            .slice(from)
            .some((e) => e.deviceId === deviceId),
        5000,
        `refusal for ${deviceId}`,
      );
      expect(events.of('ingest.refused').slice(from)).toContainEqual(
        expect.objectContaining({ kind: 'publish', code, deviceId, topic: `devices/${deviceId}/telemetry` }),
      );
      await app.telemetry.flush();
      expect(await telemetryRows(app.store)).toBe(before);
    }

    it('a topic naming no device (the ACL pattern lets any CA-issued identity publish under its CN)', async () => {
      await refusedByPulsegate(ingestIdentity, 'pulsegate-ingest', 'INGEST_TOPIC_DENIED');
    });

    it('a revoked device the broker still admits (no CRL loaded into Mosquitto)', async () => {
      const revoked = await inst.admin.api('POST', `/api/v1/devices/${OTHER}/revoke`, {
        reason: 'keyCompromise',
      });
      expect(revoked.status).toBe(200);
      await refusedByPulsegate(otherDevice, OTHER, 'INGEST_CERT_REVOKED');
    });

    it('a device quarantined through the REST API, at once although it was just accepted', async () => {
      const r = await pub(device, `devices/${DEVICE}/telemetry`, vitalsPayload(50));
      expect(r.code, r.stderr).toBe(0);
      await until(
        () => events.of('telemetry.stored').some((e) => e.deviceId === DEVICE && e.seq === 50),
        5000,
        'stored while active',
      );
      expect(
        (await inst.admin.api('PATCH', `/api/v1/devices/${DEVICE}`, { lifecycle: 'quarantined' })).status,
      ).toBe(200);
      await refusedByPulsegate(device, DEVICE, 'INGEST_DEVICE_NOT_ACTIVE');
    });
  });

  it("Pulsegate's own certificate is recorded: revoking it puts it on the CRL, and it is no device", async () => {
    const crlSerials = async () => {
      const crl = await inst.admin.request('GET', '/pki/crl', []);
      expect(crl.status).toBe(200);
      const text = execFileSync('openssl', ['crl', '-inform', 'DER', '-noout', '-text'], {
        input: crl.body,
        encoding: 'utf8',
      });
      return [...text.matchAll(/Serial Number: ([0-9A-F]+)/gi)].map((m) => m[1]!.toLowerCase());
    };
    expect(await crlSerials()).not.toContain(ingestIdentity.serial);
    const revoked = cli([
      'device',
      'revoke',
      '--data',
      inst.dataDir,
      'pulsegate-ingest',
      '--reason',
      'keyCompromise',
    ]);
    expect(revoked.code, revoked.stderr).toBe(0);
    // The server notices the revocation made by the CLI within its change poll (about a second).
    let listed = false;
    for (let i = 0; i < 50 && !listed; i++) {
      listed = (await crlSerials()).includes(ingestIdentity.serial);
      if (!listed) await new Promise((r) => setTimeout(r, 100));
    }
    expect(listed).toBe(true);
    expect((await inst.admin.api('GET', '/api/v1/devices/pulsegate-ingest')).status).toBe(404);
  });
});
