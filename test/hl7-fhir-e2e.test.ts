/**
 * From an HL7 v2 device feed to FHIR, through the REAL composed application, on SQLite and
 * PostgreSQL: an EST-enrolled gateway sends the IHE PCD-01 device messages of
 * ../shared/corpus/hl7v2 over TLS MLLP with its client certificate; they are acknowledged AA; a
 * SMART backend-services client that signs its own assertion gets a token over HTTPS (curl) and
 * finds the values through FHIR Observation search by patient and by device, with the right LOINC
 * and MDC codes and UCUM units. Every returned Observation and the Bundle validate against the
 * FHIR R4 base definitions with an independent validator (@medplum/core `validateResource`).
 */
import { readFileSync } from 'node:fs';
import type { Bundle, Observation, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MllpClient, readAck } from '../src/sim/index.js';
import { createTestPostgresDatabase, postgresAvailable } from '../src/testing/stores.js';
import {
  type DeviceCredentials,
  type E2e,
  enroll,
  HttpsClient,
  registerDevice,
  startE2e,
  telemetryRows,
} from './support/e2e.js';
import { fhirIssues, registerSmartClient } from './support/fhir.js';
import {
  CORPUS_EUI64,
  CORPUS_PATIENT,
  currentCorpusMessage,
  HL7_CORPUS,
  HL7_CORPUS_FILES,
} from './support/hl7-corpus.js';

const corpus = HL7_CORPUS;
const pgUp = await postgresAvailable();
const CORPUS = HL7_CORPUS_FILES;
const GATEWAY = 'gw-hl7fhir-01';
const MONITOR = 'mon-hl7fhir-01';
/** PID-3 and the EUI-64 of OBX-18 in every corpus message. */
const PATIENT = CORPUS_PATIENT;
const EUI = CORPUS_EUI64;

const LOINC = 'http://loinc.org';
const MDC = 'urn:iso:std:iso:11073:10101';
const UCUM = 'http://unitsofmeasure.org';

const current = currentCorpusMessage;

function expectValid(resource: Resource): void {
  expect(fhirIssues(resource), `${resource.resourceType} ${JSON.stringify(resource).slice(0, 300)}`).toEqual(
    [],
  );
}

const codingOf = (o: Observation, system: string) => o.code.coding?.find((c) => c.system === system)?.code;

for (const dialect of ['sqlite', 'postgres'] as const) {
  const suite = corpus && (dialect === 'sqlite' || pgUp) ? describe : describe.skip;
  suite(`HL7 v2 corpus to FHIR Observations [${dialect}]`, () => {
    let e2e: E2e;
    let gateway: DeviceCredentials;
    let dropDb: (() => Promise<void>) | undefined;
    let fhirClient: HttpsClient;

    beforeAll(async () => {
      const settings: Record<string, Record<string, unknown>> = { hl7: { enabled: true } };
      if (dialect === 'postgres') {
        const db = await createTestPostgresDatabase();
        dropDb = db.drop;
        settings.database = { url: db.url };
      }
      e2e = await startE2e(settings);
      const admin = e2e.admin;
      gateway = await enroll(admin, GATEWAY, await registerDevice(admin, GATEWAY));
      const created = await admin.api('POST', '/api/v1/devices', {
        id: MONITOR,
        type: 'patient-monitor',
        vendor: 'Acme',
        model: 'AHD',
        careUnit: 'ICU',
        eui64: EUI,
        gatewayId: GATEWAY,
      });
      expect(created.status, created.body.toString()).toBe(201);
      const bound = await admin.api('POST', `/api/v1/devices/${MONITOR}/bindings`, {
        patientId: PATIENT,
        from: new Date(Date.now() - 3_600_000).toISOString(),
      });
      expect(bound.status, bound.body.toString()).toBe(201);
    }, 120_000);

    afterAll(async () => {
      await e2e?.close();
      await dropDb?.();
    });

    it('acknowledges the corpus device messages AA over TLS MLLP', async () => {
      const client = await MllpClient.connect({
        port: e2e.hl7Port,
        ca: readFileSync(e2e.layout.rootCaCert, 'utf8'),
        cert: readFileSync(gateway.cert),
        key: readFileSync(gateway.key),
      });
      try {
        for (const [i, name] of CORPUS.entries()) {
          const ack = readAck(await client.send(current(name, `fhir-${dialect}-${i}`)));
          expect(ack, name).toEqual({ code: 'AA', controlId: `MSGID1234-fhir-${dialect}-${i}`, errors: [] });
        }
      } finally {
        await client.close();
      }
      expect(await telemetryRows(e2e.app.store, MONITOR)).toBe(3);
    });

    it('a SMART backend-services client finds them by patient and by device, with LOINC/MDC codes and UCUM units, all valid FHIR R4', async () => {
      // The client holds its own key; the token request travels over HTTPS with curl.
      const smart = await registerSmartClient(e2e.app, {
        alg: 'ES384',
        role: 'integration',
        scopes: ['system/Observation.rs', 'system/Patient.rs'],
      });
      const tokenReply = await e2e.admin.request('POST', '/oauth/token', [
        '--data-urlencode',
        'grant_type=client_credentials',
        '--data-urlencode',
        'client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        '--data-urlencode',
        `client_assertion=${await smart.assertion()}`,
        '--data-urlencode',
        'scope=system/Observation.rs system/Patient.rs',
      ]);
      expect(tokenReply.status, tokenReply.body.toString()).toBe(200);
      const token = tokenReply.json.access_token as string;
      expect(tokenReply.json.scope).toBe('system/Observation.rs system/Patient.rs');
      fhirClient = new HttpsClient(e2e.apiPort, e2e.layout.rootCaCert, e2e.work, token);
      const get = async (path: string, method = 'GET', args: string[] = []) => {
        const r = await fhirClient.request(method, path, [
          '-H',
          `Authorization: Bearer ${token}`,
          '-H',
          'Accept: application/fhir+json',
          ...args,
        ]);
        expect(r.status, r.body.toString()).toBe(200);
        expect(r.headers).toContain('content-type: application/fhir+json');
        return r.json as unknown as Bundle;
      };

      // The patient's FHIR id from its identifier (PID-3), as an EHR would look it up: in a form
      // body (curl sends application/x-www-form-urlencoded), as the MRN may not be put in a URL.
      const patients = await get('/fhir/Patient/_search', 'POST', [
        '--data-urlencode',
        `identifier=${PATIENT}`,
      ]);
      expectValid(patients as Resource);
      const patient = patients.entry?.find((e) => e.search?.mode === 'match')?.resource;
      expect(patient?.resourceType).toBe('Patient');
      expectValid(patient as Resource);

      const byPatient = await get(`/fhir/Observation?patient=Patient/${patient!.id}&_count=100`);
      const byDevice = await get(`/fhir/Observation?device=Device/${MONITOR}&_count=100`);
      for (const bundle of [byPatient, byDevice]) {
        expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
        expectValid(bundle as Resource);
        const observations = (bundle.entry ?? [])
          .filter((e) => e.search?.mode === 'match')
          .map((e) => e.resource as Observation);
        // 120/80/100 mmHg twice and 80.5 % once: the corpus' seven numeric OBX rows.
        expect(observations).toHaveLength(7);
        for (const o of observations) {
          expectValid(o);
          expect(o.status).toBe('final');
          expect(o.category?.[0]?.coding?.[0]?.code).toBe('vital-signs');
          expect(o.subject?.reference).toBe(`Patient/${patient!.id}`);
          expect(o.device?.reference).toBe(`Device/${MONITOR}`);
          expect(o.valueQuantity?.system).toBe(UCUM);
          expect(o.effectiveDateTime).toBeTruthy();
        }
        const rows = observations
          .map((o) => [codingOf(o, LOINC), codingOf(o, MDC), o.valueQuantity?.value, o.valueQuantity?.code])
          .sort((a, b) => String(a[1]).localeCompare(String(b[1])) || Number(a[2]) - Number(b[2]));
        // LOINC: 8480-6 systolic, 8462-4 diastolic, 8478-0 mean (NIBP), 59408-5 SpO2 by pulse oximetry.
        expect(rows).toEqual([
          ['8480-6', '150021', 120, 'mm[Hg]'],
          ['8480-6', '150021', 120, 'mm[Hg]'],
          ['8462-4', '150022', 80, 'mm[Hg]'],
          ['8462-4', '150022', 80, 'mm[Hg]'],
          ['8478-0', '150023', 100, 'mm[Hg]'],
          ['8478-0', '150023', 100, 'mm[Hg]'],
          ['59408-5', '150456', 80.5, '%'],
        ]);
      }
      // Paging by the Bundle's own links (absolute, on this server): three pages of at most 3.
      const paged: string[] = [];
      let page = await get(`/fhir/Observation?device=Device/${MONITOR}&_count=3`);
      for (let n = 0; n < 10; n++) {
        expectValid(page as Resource);
        const self = page.link?.find((l) => l.relation === 'self')?.url;
        expect(self?.startsWith(`${e2e.urls.api}/fhir/Observation?`)).toBe(true);
        const matches = (page.entry ?? []).filter((e) => e.search?.mode === 'match');
        expect(matches.length).toBeLessThanOrEqual(3);
        paged.push(...matches.map((e) => e.resource!.id!));
        const next = page.link?.find((l) => l.relation === 'next')?.url;
        if (!next) break;
        page = await get(next.slice(e2e.urls.api.length));
      }
      expect(paged).toHaveLength(7);
      expect(new Set(paged)).toEqual(
        new Set((byDevice.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource!.id!)),
      );

      // Searching by the MDC code finds the SpO2 alone.
      const spo2 = await get(
        `/fhir/Observation?patient=${patient!.id}&code=${encodeURIComponent(`${MDC}|150456`)}`,
      );
      expectValid(spo2 as Resource);
      expect((spo2.entry ?? []).filter((e) => e.search?.mode === 'match')).toHaveLength(1);

      // Every read is in the audit log, attributed to the client, without the patient identifier.
      const audit = await e2e.app.audit.list({ after: -1, limit: 10_000 });
      const mine = audit.filter((e) => e.actor.id === smart.id || e.actor.name === smart.id);
      expect(mine.length).toBeGreaterThanOrEqual(4);
      expect(JSON.stringify(mine)).not.toContain(PATIENT);
    });
  });
}
