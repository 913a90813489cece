/**
 * HL7 v2 device feeds through the real composed application, on SQLite and PostgreSQL: the IHE
 * PCD-01 messages of ../shared/corpus/hl7v2 (oehf/ipf test fixtures, see SOURCES.md) go over a
 * real TLS MLLP connection authenticated by an EST-enrolled gateway certificate, are acknowledged
 * AA and read back through the REST telemetry API with their MDC codes and UCUM units. Malformed
 * messages get AE/AR with an ERR segment and store nothing; resends are acknowledged and stored
 * once; connections without an acceptable certificate are refused at TLS.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDtm } from '../src/hl7/index.js';
import { MllpClient, readAck } from '../src/sim/index.js';
import { createTestPostgresDatabase, postgresAvailable } from '../src/testing/stores.js';
import {
  type DeviceCredentials,
  type E2e,
  enroll,
  registerDevice,
  startE2e,
  telemetryRows,
} from './support/e2e.js';
import {
  CORPUS_EUI64,
  CORPUS_PATIENT,
  currentCorpusMessage,
  HL7_CORPUS,
  HL7_CORPUS_FILES,
} from './support/hl7-corpus.js';
import { foreignCa, issueClientCert } from './support/ingest-certs.js';

const corpus = HL7_CORPUS;
const pgUp = await postgresAvailable();
const CORPUS = HL7_CORPUS_FILES;
const GATEWAY = 'gw-icu-01';
const OTHER_GATEWAY = 'gw-ccu-02';
const MONITOR = 'nibp-icu-01';
const FOREIGN = 'spo2-ccu-02';
const PATIENT = CORPUS_PATIENT;
const EUI = CORPUS_EUI64;
const FOREIGN_EUI = 'AABBCCDDEEFF0011';

const current = currentCorpusMessage;

/** A small PCD-01 message for `eui`, with one NM row built from the arguments. */
function pcd01(
  controlId: string,
  opts: { eui?: string; code?: string; value?: string; patient?: string; type?: string } = {},
) {
  const t = formatDtm(Date.now() - 30_000);
  return [
    `MSH|^~\\&|GW^ACDE48234567ABCD^EUI-64||||${t}||${opts.type ?? 'ORU^R01^ORU_R01'}|${controlId}|P|2.6`,
    `PID|||${opts.patient ?? PATIENT}^^^Imaginary Hospital^PI`,
    `OBR|1|||182777000^monitoring of patient^SNOMED-CT|||${t}`,
    `OBX|1||528391^MDC_DEV_SPEC_PROFILE_BP^MDC|1|||||||X|||||||${opts.eui ?? EUI}^EUI-64`,
    `OBX|2|NM|${opts.code ?? '150021^MDC_PRESS_BLD_NONINV_SYS^MDC'}|1.0.1.1|${opts.value ?? '118'}|266016^MDC_DIM_MMHG^MDC|||||R|||${t}`,
    '',
  ].join('\r');
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  const run = corpus && (dialect === 'sqlite' || pgUp) ? describe : describe.skip;
  run(`HL7 v2 over MLLP/TLS [${dialect}]`, () => {
    let e2e: E2e;
    let gateway: DeviceCredentials;
    let dropDb: (() => Promise<void>) | undefined;
    let ca: string;
    const clients: MllpClient[] = [];
    const open = async (creds: { cert: string; key: string } | null = gateway) => {
      const client = await MllpClient.connect({
        port: e2e.hl7Port,
        ca,
        ...(creds ? { cert: readFileSync(creds.cert), key: readFileSync(creds.key) } : {}),
      });
      clients.push(client);
      return client;
    };

    beforeAll(async () => {
      const settings: Record<string, Record<string, unknown>> = { hl7: { enabled: true } };
      if (dialect === 'postgres') {
        const db = await createTestPostgresDatabase();
        dropDb = db.drop;
        settings.database = { url: db.url };
      }
      e2e = await startE2e(settings);
      ca = readFileSync(e2e.layout.rootCaCert, 'utf8');
      const admin = e2e.admin;
      // Gateways are devices (type other) enrolled over EST; monitors name them as their gateway.
      gateway = await enroll(admin, GATEWAY, await registerDevice(admin, GATEWAY));
      await registerDevice(admin, OTHER_GATEWAY);
      const from = new Date(Date.now() - 3600_000).toISOString();
      for (const [id, eui, gw] of [
        [MONITOR, EUI, GATEWAY],
        [FOREIGN, FOREIGN_EUI, OTHER_GATEWAY],
      ] as const) {
        const created = await admin.api('POST', '/api/v1/devices', {
          id,
          type: 'patient-monitor',
          vendor: 'Acme',
          model: 'AHD',
          careUnit: 'ICU',
          eui64: eui.match(/../g)!.join('-').toLowerCase(),
          gatewayId: gw,
        });
        expect(created.status, String(created.body)).toBe(201);
        expect(created.json).toMatchObject({ eui64: eui, gatewayId: gw });
        const bound = await admin.api('POST', `/api/v1/devices/${id}/bindings`, { patientId: PATIENT, from });
        expect(bound.status, String(bound.body)).toBe(201);
      }
    }, 120_000);

    afterAll(async () => {
      for (const c of clients) await c.close().catch(() => {});
      await e2e?.close();
      await dropDb?.();
    });

    it('listen() reports the MLLP URL; the EUI-64 is unique in the inventory', async () => {
      expect(e2e.urls.hl7).toBe(`mllps://localhost:${e2e.hl7Port}`);
      const dup = await e2e.admin.api('POST', '/api/v1/devices', {
        id: 'dup-eui-01',
        type: 'other',
        vendor: 'Acme',
        model: 'X',
        eui64: EUI,
      });
      expect(dup.json.code).toBe('DEVICE_EUI64_EXISTS');
      const badGw = await e2e.admin.api('POST', '/api/v1/devices', {
        id: 'bad-gw-01',
        type: 'other',
        vendor: 'Acme',
        model: 'X',
        gatewayId: 'no-such-gateway',
      });
      expect(badGw.json.code).toBe('DEVICE_GATEWAY_INVALID');
    });

    it('acknowledges the corpus messages AA over TLS and stores their values with MDC codes and UCUM units', async () => {
      const client = await open();
      for (const [i, name] of CORPUS.entries()) {
        const ack = readAck(await client.send(current(name, `${dialect}-${i}`)));
        expect(ack, name).toEqual({ code: 'AA', controlId: `MSGID1234-${dialect}-${i}`, errors: [] });
      }
      // One reading per device message: NIBP, SpO2, NIBP.
      expect(await telemetryRows(e2e.app.store, MONITOR)).toBe(3);
      const byDevice = await e2e.admin.api('GET', `/api/v1/devices/${MONITOR}/telemetry`);
      expect(byDevice.status).toBe(200);
      const got = (byDevice.json.observations as Array<Record<string, unknown>>).map((o) => [
        (o.code as { code: string }).code,
        o.kind,
        o.value,
        o.unit,
      ]);
      expect(got).toEqual(
        expect.arrayContaining([
          ['150021', 'nibp-systolic', 120, 'mm[Hg]'],
          ['150022', 'nibp-diastolic', 80, 'mm[Hg]'],
          ['150023', 'nibp-mean', 100, 'mm[Hg]'],
          ['150456', 'spo2', 80.5, '%'],
        ]),
      );
      expect(got).toHaveLength(7);
      const byPatient = await e2e.admin.patientTelemetry(PATIENT, '?code=spo2');
      expect(byPatient.status).toBe(200);
      expect(byPatient.json.observations).toEqual([
        expect.objectContaining({
          deviceId: MONITOR,
          code: { system: 'MDC', code: '150456' },
          value: 80.5,
          unit: '%',
        }),
      ]);
      expect(e2e.events.of('telemetry.stored').filter((e) => e.source === 'hl7')).toHaveLength(3);
    });

    it('acknowledges a resent MSH-10 again and stores it once', async () => {
      const client = await open();
      const before = await telemetryRows(e2e.app.store);
      const message = pcd01(`dup-${dialect}`);
      expect(readAck(await client.send(message)).code).toBe('AA');
      // Pipelined resends, and one on a second connection of the same gateway.
      const again = await Promise.all([
        client.send(message),
        client.send(message),
        (await open()).send(message),
      ]);
      for (const a of again)
        expect(readAck(a)).toEqual({ code: 'AA', controlId: `dup-${dialect}`, errors: [] });
      expect(await telemetryRows(e2e.app.store)).toBe(before + 1);

      // A new message sent twice at once (a gateway retrying on a second connection before the
      // first ACK came back): both acknowledged, stored once.
      const second = await open();
      for (let round = 0; round < 3; round++) {
        const rows = await telemetryRows(e2e.app.store);
        const fresh = pcd01(`race-${dialect}-${round}`);
        const acks = await Promise.all([client.send(fresh), second.send(fresh)]);
        expect(acks.map((a) => readAck(a).code)).toEqual(['AA', 'AA']);
        expect(await telemetryRows(e2e.app.store)).toBe(rows + 1);
      }
    });

    it('refuses malformed messages with AE or AR and an ERR segment, storing nothing', async () => {
      const client = await open();
      const before = await telemetryRows(e2e.app.store);
      const cases: Array<[string, string, string, string, string]> = [
        ['no MSH', 'PID|||789567\rOBR|1\r', 'AR', '100', 'HL7_MSH_MISSING'],
        [
          'bad encoding characters',
          pcd01('enc').replace('MSH|^~\\&|', 'MSH|^^\\&|'),
          'AR',
          '102',
          'HL7_ENCODING_INVALID',
        ],
        [
          'wrong MSH-9',
          pcd01('adt', { type: 'ADT^A01^ADT_A01' }),
          'AR',
          '200',
          'HL7_MESSAGE_TYPE_UNSUPPORTED',
        ],
        ['non-numeric NM value', pcd01('nm', { value: '12O' }), 'AE', '102', 'HL7_DATA_TYPE'],
        [
          'unknown MDC code',
          pcd01('mdc', { code: '999999^MDC_NOT_A_CODE^MDC' }),
          'AE',
          '103',
          'HL7_UNKNOWN_CODE',
        ],
        [
          'device not owned by the sender',
          pcd01('foreign', { eui: FOREIGN_EUI }),
          'AE',
          '204',
          'HL7_DEVICE_NOT_OWNED',
        ],
        [
          'unknown device',
          pcd01('unknown', { eui: '1111111111111111' }),
          'AE',
          '204',
          'HL7_DEVICE_NOT_OWNED',
        ],
        [
          'PID-3 not the bound patient',
          pcd01('pid', { patient: 'MRN-OTHER' }),
          'AE',
          '204',
          'HL7_PATIENT_MISMATCH',
        ],
        ['impossible value', pcd01('imp', { value: '900' }), 'AE', '102', 'TELEMETRY_IMPOSSIBLE_VALUE'],
        // MSH-10 is one printable value: a NUL (escaped) or a component would break receipts.
        ['control character in MSH-10', pcd01('nul\\X00\\id'), 'AE', '102', 'HL7_DATA_TYPE'],
        ['components in MSH-10', pcd01('BATCH7^1'), 'AE', '102', 'HL7_DATA_TYPE'],
        [
          'OBX-4 not a sub-id',
          pcd01('subid').replace('|1.0.1.1|', `|${'1.'.repeat(20)}1|`),
          'AE',
          '102',
          'HL7_DATA_TYPE',
        ],
      ];
      for (const [what, message, code, hl7, ours] of cases) {
        const ack = readAck(await client.send(message));
        expect(ack.code, what).toBe(code);
        expect(ack.errors, what).toEqual([expect.objectContaining({ hl7, code: ours })]);
      }
      // The ERR names the place (ERL, v2.6 §2.A.27): OBX-5 of the message's 2nd OBX (its 5th line).
      expect(readAck(await client.send(pcd01('nm2', { value: 'x' }))).errors[0]!.location).toBe('OBX^2^5^1');
      expect(await telemetryRows(e2e.app.store)).toBe(before);
      expect(
        e2e.events.of('ingest.refused').filter((e) => e.topic === 'hl7:mllp').length,
      ).toBeGreaterThanOrEqual(cases.length);
      expect(
        e2e.events.of('telemetry.rejected').filter((e) => e.source === 'hl7').length,
      ).toBeGreaterThanOrEqual(5);
    });

    it('refuses at TLS: no client certificate, a certificate from another CA, a revoked gateway', async () => {
      const before = await telemetryRows(e2e.app.store);
      // No certificate: the TLS 1.3 server rejects after the handshake, so the first send fails.
      const attempt = async (creds: { cert: string; key: string } | null) => {
        try {
          const c = await open(creds);
          const ack = await Promise.race([
            c.send(pcd01(`tls-${Math.random()}`)),
            c.closed.then(() => 'closed'),
          ]);
          return ack;
        } catch {
          return 'refused';
        }
      };
      expect(['refused', 'closed']).toContain(await attempt(null));
      const other = foreignCa(e2e.work);
      expect(['refused', 'closed']).toContain(await attempt(issueClientCert(e2e.work, other, GATEWAY)));
      // A gateway of ours, then revoked: refused although its chain verifies.
      const revoked = await enroll(
        e2e.admin,
        'gw-revoked-01',
        await registerDevice(e2e.admin, 'gw-revoked-01'),
      );
      const r = await e2e.admin.api('POST', '/api/v1/devices/gw-revoked-01/revoke', {
        reason: 'keyCompromise',
      });
      expect(r.status, String(r.body)).toBe(200);
      expect(['refused', 'closed']).toContain(await attempt(revoked));
      const refused = e2e.events.of('ingest.refused').map((e) => e.code);
      expect(refused).toEqual(
        expect.arrayContaining(['INGEST_CLIENT_CERT_REQUIRED', 'INGEST_CERT_INVALID', 'INGEST_CERT_REVOKED']),
      );
      expect(await telemetryRows(e2e.app.store)).toBe(before);
    });

    it('closes a live MLLP connection when its gateway is revoked', async () => {
      const id = `gw-live-${dialect}`;
      const creds = await enroll(e2e.admin, id, await registerDevice(e2e.admin, id));
      const client = await open(creds);
      // A message for no device of this gateway still gets an answer: the session is live.
      expect(readAck(await client.send(pcd01(`live-${dialect}`))).code).toBe('AE');
      const r = await e2e.admin.api('POST', `/api/v1/devices/${id}/revoke`, { reason: 'keyCompromise' });
      expect(r.status).toBe(200);
      await client.closed;
    });

    it('follows inventory changes at once: a device moved off the gateway is refused, moved back accepted', async () => {
      const client = await open();
      const read = await e2e.admin.api('GET', `/api/v1/devices/${MONITOR}`);
      const moved = await e2e.admin.api('PATCH', `/api/v1/devices/${MONITOR}`, {
        gatewayId: OTHER_GATEWAY,
        version: read.json.version,
      });
      expect(moved.status, String(moved.body)).toBe(200);
      const refused = readAck(await client.send(pcd01(`moved-${dialect}`)));
      expect(refused).toMatchObject({
        code: 'AE',
        errors: [expect.objectContaining({ code: 'HL7_DEVICE_NOT_OWNED' })],
      });
      const back = await e2e.admin.api('PATCH', `/api/v1/devices/${MONITOR}`, { gatewayId: GATEWAY });
      expect(back.status).toBe(200);
      expect(readAck(await client.send(pcd01(`moved-${dialect}`))).code).toBe('AA');
    });

    it('accepts the same messages over POST /api/v1/ingest/hl7 with the gateway certificate', async () => {
      const post = (message: string, type = 'x-application/hl7-v2+er7') =>
        e2e.admin.request('POST', '/api/v1/ingest/hl7', [
          '--cert',
          gateway.cert,
          '--key',
          gateway.key,
          '-H',
          `Content-Type: ${type}`,
          '--data-binary',
          message,
        ]);
      const before = await telemetryRows(e2e.app.store);
      const ok = await post(pcd01(`http-${dialect}`));
      expect(ok.status, ok.body.toString()).toBe(200);
      expect(ok.headers).toContain('content-type: x-application/hl7-v2+er7');
      expect(readAck(ok.body.toString())).toEqual({ code: 'AA', controlId: `http-${dialect}`, errors: [] });
      const bad = await post(pcd01(`http-bad-${dialect}`, { value: 'abc' }), 'text/plain');
      expect(bad.status).toBe(400);
      expect(readAck(bad.body.toString()).errors[0]).toMatchObject({ hl7: '102', code: 'HL7_DATA_TYPE' });
      const anonymous = await e2e.admin.request('POST', '/api/v1/ingest/hl7', [
        '-H',
        'Content-Type: text/plain',
        '--data-binary',
        pcd01('anon'),
      ]);
      expect(anonymous.status).toBe(401);
      expect(anonymous.json.code).toBe('INGEST_CLIENT_CERT_REQUIRED');
      // A body over hl7.maxMessageBytes is refused before it is read: problem+json 413, no ACK
      // (there is no MSH to acknowledge), as the route's description says.
      const huge = join(e2e.work, `huge-${dialect}.hl7`);
      writeFileSync(huge, `${pcd01(`huge-${dialect}`)}NTE|1||${'x'.repeat(1_100_000)}\r`);
      const oversize = await post(`@${huge}`);
      expect(oversize.status).toBe(413);
      expect(oversize.headers).toContain('content-type: application/problem+json');
      expect(await telemetryRows(e2e.app.store)).toBe(before + 1);

      // The corpus device messages over HTTPS too: acknowledged AA, one reading each.
      const monitorBefore = await telemetryRows(e2e.app.store, MONITOR);
      for (const [i, name] of CORPUS.entries()) {
        const res = await post(current(name, `https-${dialect}-${i}`));
        expect(res.status, name).toBe(200);
        expect(readAck(res.body.toString()), name).toEqual({
          code: 'AA',
          controlId: `MSGID1234-https-${dialect}-${i}`,
          errors: [],
        });
      }
      expect(await telemetryRows(e2e.app.store, MONITOR)).toBe(monitorBefore + 3);

      // A message sent over MLLP and resent over HTTPS (same gateway, same MSH-10) is stored once.
      const both = pcd01(`both-${dialect}`);
      const stored = await telemetryRows(e2e.app.store);
      expect(readAck(await (await open()).send(both)).code).toBe('AA');
      const resent = await post(both);
      expect(readAck(resent.body.toString())).toEqual({
        code: 'AA',
        controlId: `both-${dialect}`,
        errors: [],
      });
      expect(await telemetryRows(e2e.app.store)).toBe(stored + 1);
    });
  });
}
