/**
 * The FHIR R4 API against the real composed application, on SQLite and PostgreSQL: every kind of
 * resource it returns validates against the FHIR R4 base definitions with an independent
 * validator (@medplum/core `validateResource`), searches behave as specified, bad input gets an
 * OperationOutcome with a stable code and stores nothing, and every access is audited.
 */
import type { Bundle, Observation, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { outcomeCode, patientIdOf } from '../src/fhir/index.js';
import { PATIENT_INDEX_PURPOSE } from '../src/patients/index.js';
import { describeEachDialect } from '../src/testing/dialects.js';
import { storedRows } from '../src/testing/stored-rows.js';
import {
  type FhirInstallation,
  fhir,
  fhirIssues,
  registerSmartClient,
  smartToken,
  startFhirInstallation,
} from './support/fhir.js';
import { call } from './support/installation.js';

const MRN_A = 'MRN-FHIR-A-0001';
const MRN_B = 'MRN-FHIR-B-0002';

function expectValid(resource: Resource): void {
  expect(fhirIssues(resource), `${resource.resourceType} ${JSON.stringify(resource).slice(0, 300)}`).toEqual(
    [],
  );
}

function entries<T extends Resource>(bundle: Bundle): T[] {
  return (bundle.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource as T);
}

async function ingest(t: FhirInstallation, deviceId: string, seq: number, ts: number, obs: unknown[]) {
  const [outcome] = await t.app.telemetry.ingest([
    {
      deviceId,
      payload: Buffer.from(JSON.stringify({ seq, ts: new Date(ts).toISOString(), observations: obs })),
      receivedAt: Date.now(),
      source: 'https',
      kind: 'telemetry',
    },
  ]);
  expect(outcome).toMatchObject({ ok: true });
}

const vitals = (hr: number) => [
  { code: { system: 'MDC', code: '147842' }, value: hr, unit: '/min' },
  { code: { system: 'LOINC', code: '59408-5' }, value: 97, unit: '%' },
  { code: { system: 'MDC', code: 'MDC_RESP_RATE' }, value: 16, unit: '/min' },
];

describeEachDialect('FHIR R4 API', (_open, dialect) => {
  let t: FhirInstallation;
  let admin: string;
  let patientA: string;
  let patientB: string;
  const now = Date.now();

  beforeAll(async () => {
    t = await startFhirInstallation({ dialect });
    admin = t.adminToken;
    const d = t.app.devices;
    await d.create({
      id: 'mon-icu-1',
      type: 'patient-monitor',
      vendor: 'Acme',
      model: 'M1',
      serial: 'SN-ICU-1',
      careUnit: 'ICU',
      bed: '3',
      firmwareVersion: '2.1.0',
      owner: 'Biomed',
      macAddress: '00:11:22:33:44:55',
    });
    await d.create({
      id: 'mon-ccu-1',
      type: 'patient-monitor',
      vendor: 'Acme',
      model: 'M1',
      careUnit: 'CCU',
    });
    await d.create({
      id: 'pump-icu-2',
      type: 'infusion-pump',
      vendor: 'Infuso',
      model: 'P9',
      careUnit: 'ICU',
    });
    await t.app.patients.bind('mon-icu-1', { patientId: MRN_A, from: now - 3 * 86_400_000 });
    await t.app.patients.bind('mon-ccu-1', { patientId: MRN_B, from: now - 3 * 86_400_000 });
    patientA = patientIdOf(t.app.keys.blindIndex(PATIENT_INDEX_PURPOSE, MRN_A));
    patientB = patientIdOf(t.app.keys.blindIndex(PATIENT_INDEX_PURPOSE, MRN_B));
    for (let i = 0; i < 5; i++) await ingest(t, 'mon-icu-1', i + 1, now - (5 - i) * 1000, vitals(70 + i));
    // 310/min is possible but implausible: stored and flagged by the physiological checks.
    await ingest(t, 'mon-icu-1', 6, now, [
      { code: { system: 'MDC', code: '147842' }, value: 310, unit: '/min' },
    ]);
    await ingest(t, 'mon-ccu-1', 1, now - 2000, vitals(88));
  }, 120_000);
  afterAll(async () => t?.cleanup());

  /** Every table but the audit log (refusals are audited), as one comparable picture. */
  const storedCounts = () => storedRows(t.app.store);

  it('serves a CapabilityStatement and SMART configuration that validate and list exactly what is supported', async () => {
    const cap = await fhir(t.app, 'GET', '/fhir/metadata');
    expect(cap.status).toBe(200);
    expect(cap.headers['content-type']).toContain('application/fhir+json');
    expectValid(cap.body);
    const rest = (
      cap.body as { rest: Array<{ resource: Array<{ type: string; interaction: Array<{ code: string }> }> }> }
    ).rest[0]!;
    expect(rest.resource.map((r) => r.type).sort()).toEqual([
      'AuditEvent',
      'Device',
      'DeviceMetric',
      'Observation',
      'Patient',
    ]);
    // Every advertised interaction is routed (anything else is 404/405 OperationOutcome).
    for (const r of rest.resource) {
      for (const i of r.interaction) {
        const method = i.code === 'create' ? 'POST' : i.code === 'update' ? 'PUT' : 'GET';
        const url = i.code === 'read' || i.code === 'update' ? `/${r.type}/:id` : `/${r.type}`;
        expect(
          t.app.http.routeCatalog.some((c) => c.method === method && c.url === `/fhir${url}`),
          `${method} ${url}`,
        ).toBe(true);
      }
    }
    for (const path of ['/.well-known/smart-configuration', '/fhir/.well-known/smart-configuration']) {
      const smart = await fhir(t.app, 'GET', path);
      expect(smart.status).toBe(200);
      expect(smart.body).toMatchObject({
        token_endpoint: `${t.url}/oauth/token`,
        token_endpoint_auth_methods_supported: ['private_key_jwt'],
        grant_types_supported: ['client_credentials'],
      });
      expect(smart.body.token_endpoint_auth_signing_alg_values_supported).toEqual(
        expect.arrayContaining(['RS384', 'ES384']),
      );
    }
  });

  it('returns vital-sign Observations by patient that validate, with LOINC + MDC codes, UCUM, subject, device and flags', async () => {
    const res = await fhir(t.app, 'GET', `/fhir/Observation?patient=Patient/${patientA}&_count=100`, {
      token: admin,
    });
    expect(res.status).toBe(200);
    expectValid(res.body);
    const obs = entries<Observation>(res.body as Bundle);
    expect(obs).toHaveLength(16);
    for (const o of obs) {
      expectValid(o);
      expect(o.subject?.reference).toBe(`Patient/${patientA}`);
      expect(o.device?.reference).toBe('Device/mon-icu-1');
      expect(o.category?.[0]?.coding?.[0]?.code).toBe('vital-signs');
      expect(o.valueQuantity?.system).toBe('http://unitsofmeasure.org');
    }
    expect(JSON.stringify(res.body)).not.toContain(MRN_A);
    const hr = obs.find((o) => o.valueQuantity?.value === 74)!;
    expect(hr.code.coding).toEqual([
      { system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' },
      { system: 'urn:iso:std:iso:11073:10101', code: '147842', display: 'MDC_ECG_HEART_RATE' },
    ]);
    const flagged = obs.find((o) => o.valueQuantity?.value === 310)!;
    expect(flagged.interpretation?.[0]?.coding?.map((c) => c.code)).toContain('implausible');
    expect(obs[0]!.valueQuantity?.value).toBe(310); // newest first by default

    const one = await fhir(t.app, 'GET', `/fhir/Observation/${hr.id}`, { token: admin });
    expect(one.status).toBe(200);
    expect(one.body).toEqual(hr);
  });

  it('searches Observations by code, category, device, date prefixes, _lastUpdated and sorts, with paging', async () => {
    const q = async (query: string) => {
      const res = await fhir(t.app, 'GET', `/fhir/Observation?${query}`, { token: admin });
      expect(res.status, `${query}: ${JSON.stringify(res.body).slice(0, 300)}`).toBe(200);
      return res.body as Bundle;
    };
    const code = entries<Observation>(await q(`subject=${patientA}&code=http://loinc.org|8867-4&_count=100`));
    expect(code.map((o) => o.valueQuantity?.value).sort()).toEqual([310, 70, 71, 72, 73, 74]);
    const mdc = entries<Observation>(await q(`patient=${patientA}&code=urn:iso:std:iso:11073:10101|150456`));
    expect(mdc).toHaveLength(5);
    const either = entries<Observation>(await q(`patient=${patientA}&code=59408-5,151562`));
    expect(either).toHaveLength(10);
    expect(entries(await q(`patient=${patientA}&category=laboratory`))).toHaveLength(0);
    const vitals = entries<Observation>(
      await q(
        `patient=${patientA}&category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs&_count=100`,
      ),
    );
    expect(vitals.length).toBeGreaterThan(0);
    expect(vitals.every((o) => o.category?.[0]?.coding?.[0]?.code === 'vital-signs')).toBe(true);
    expect(entries(await q(`device=Device/mon-ccu-1&_count=100`))).toHaveLength(3);
    const iso = (ms: number) => new Date(ms).toISOString();
    const ge = entries<Observation>(
      await q(`patient=${patientA}&date=ge${encodeURIComponent(iso(now - 2500))}&code=8867-4`),
    );
    expect(ge.map((o) => o.valueQuantity?.value).sort()).toEqual([310, 73, 74]);
    const range = entries<Observation>(
      await q(
        `patient=${patientA}&date=gt${encodeURIComponent(iso(now - 4500))}&date=lt${encodeURIComponent(iso(now - 1500))}&code=8867-4`,
      ),
    );
    expect(range.map((o) => o.valueQuantity?.value).sort()).toEqual([71, 72, 73]);
    const ne = entries<Observation>(
      await q(`patient=${patientA}&date=ne${encodeURIComponent(iso(now))}&code=8867-4`),
    );
    expect(ne).toHaveLength(5);
    expect(entries(await q(`patient=${patientA}&date=le2000-01-01`))).toHaveLength(0);
    expect(entries(await q(`patient=${patientA}&_lastUpdated=gt2000-01-01&_count=3`))).toHaveLength(3);
    // _lastUpdated is the storage time: nothing was stored in the future, all of it after an hour ago.
    expect(
      entries(await q(`patient=${patientA}&_lastUpdated=gt${encodeURIComponent(iso(Date.now() + 60_000))}`)),
    ).toHaveLength(0);
    expect(
      entries(
        await q(`patient=${patientA}&_lastUpdated=ge${encodeURIComponent(iso(now - 3_600_000))}&_count=100`),
      ),
    ).toHaveLength(16);
    const asc = entries<Observation>(await q(`patient=${patientA}&code=8867-4&_sort=date`));
    expect(asc[0]!.valueQuantity?.value).toBe(70);
    const desc = entries<Observation>(await q(`patient=${patientA}&code=8867-4&_sort=-date`));
    expect(desc.map((o) => o.id)).toEqual(
      entries<Observation>(await q(`patient=${patientA}&code=8867-4`)).map((o) => o.id),
    );
    const times = desc.map((o) => Date.parse(o.effectiveDateTime!));
    expect(times).toEqual([...times].sort((a, b) => b - a));

    // Paging: 16 observations, 5 per page, through opaque `next` links that hold no PHI.
    let bundle = await q(`patient=${patientA}&_count=5`);
    const seen: string[] = [];
    for (let pages = 0; ; pages++) {
      expect(pages).toBeLessThan(10);
      const self = bundle.link?.find((l) => l.relation === 'self')?.url;
      expect(self).toBe(`${t.url}/fhir/Observation?_count=5&patient=${patientA}`);
      seen.push(...entries(bundle).map((o) => o.id!));
      const next = bundle.link?.find((l) => l.relation === 'next')?.url;
      if (!next) break;
      expect(next).not.toContain(MRN_A);
      bundle = (await fhir(t.app, 'GET', next.slice(t.url.length), { token: admin })).body as Bundle;
    }
    expect(seen).toHaveLength(16);
    expect(new Set(seen).size).toBe(16);
  });

  it('serves Device, DeviceMetric, Patient and AuditEvent resources that validate, and searches them', async () => {
    const device = await fhir(t.app, 'GET', '/fhir/Device/mon-icu-1', { token: admin });
    expect(device.status).toBe(200);
    expectValid(device.body);
    expect(device.body).toMatchObject({
      manufacturer: 'Acme',
      modelNumber: 'M1',
      serialNumber: 'SN-ICU-1',
      status: 'inactive',
    });
    const q = async (url: string) => {
      const res = await fhir(t.app, 'GET', url, { token: admin });
      expect(res.status, `${url}: ${JSON.stringify(res.body).slice(0, 300)}`).toBe(200);
      expectValid(res.body);
      for (const r of entries(res.body as Bundle)) expectValid(r);
      return entries(res.body as Bundle).map((r) => r.id);
    };
    expect(await q('/fhir/Device?location=ICU')).toEqual(['mon-icu-1', 'pump-icu-2']);
    expect(await q('/fhir/Device?type=urn:pulsegate:device-type|infusion-pump')).toEqual(['pump-icu-2']);
    expect(await q('/fhir/Device?identifier=urn:pulsegate:serial-number|SN-ICU-1')).toEqual(['mon-icu-1']);
    expect(await q('/fhir/Device?identifier=mon-ccu-1')).toEqual(['mon-ccu-1']);
    expect(await q('/fhir/Device?status=active')).toEqual([]);
    expect(await q('/fhir/Device?status=inactive&_count=1')).toEqual(['mon-ccu-1']);
    expect(await q('/fhir/DeviceMetric?source=Device/pump-icu-2')).toEqual([
      'pump-icu-2.infusion-rate',
      'pump-icu-2.volume-infused',
    ]);
    const metric = await fhir(t.app, 'GET', '/fhir/DeviceMetric/mon-icu-1.spo2', { token: admin });
    expectValid(metric.body);

    // A patient known only from a binding: served with its identifier; found by identifier.
    const p = await fhir(t.app, 'GET', `/fhir/Patient/${patientA}`, { token: admin });
    expect(p.status).toBe(200);
    expectValid(p.body);
    expect(await q(`/fhir/Patient?_id=${patientA}`)).toEqual([patientA]);
    // The identifier travels only in a form body (POST _search) and never comes back in a link.
    const form = (body: string, url = '/fhir/Patient/_search') =>
      fhir(t.app, 'POST', url, {
        token: admin,
        raw: body,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
    const posted = await form(`identifier=${encodeURIComponent(MRN_A)}`);
    expect(posted.status).toBe(200);
    expectValid(posted.body);
    expect(entries(posted.body as Bundle).map((r) => r.id)).toEqual([patientA]);
    const links = JSON.stringify((posted.body as Bundle).link);
    expect(links).not.toContain(MRN_A);
    expect(links).toContain(`_id=${patientA}`);
    expect(entries((await form('identifier=NO-SUCH-MRN')).body as Bundle)).toEqual([]);
    // In a URL it is refused, whatever the method, handling or spelling, and never echoed.
    for (const [method, url, headers] of [
      ['GET', `/fhir/Patient?identifier=${MRN_A}`, {}],
      ['GET', `/fhir/Patient?identifier=urn:oid:1.2.3.4|${MRN_A}`, { prefer: 'handling=lenient' }],
      ['GET', `/fhir/Patient?identifier:exact=${MRN_A}`, {}],
      ['POST', `/fhir/Patient/_search?identifier=${MRN_A}`, {}],
    ] as const) {
      const res = await fhir(t.app, method, url, { token: admin, headers: { ...headers } });
      expect(res.status, url).toBe(400);
      expect(outcomeCode(res.body as OperationOutcome), url).toBe('FHIR_PHI_IN_URL');
      expect((res.body as OperationOutcome).issue[0]?.diagnostics).toContain('POST [base]/Patient/_search');
      expect(JSON.stringify(res.body)).not.toContain(MRN_A);
    }
    // Nor does an Observation search take an identifier for its patient (only a Patient id).
    for (const [url, code] of [
      [`/fhir/Observation?patient=${MRN_A}`, 'FHIR_PARAM_INVALID'],
      [`/fhir/Observation?subject=Patient/${MRN_A}`, 'FHIR_PARAM_INVALID'],
      [`/fhir/Observation?patient:identifier=${MRN_A}`, 'FHIR_PARAM_UNKNOWN'],
      [`/fhir/Observation?patient.identifier=${MRN_A}`, 'FHIR_PARAM_UNKNOWN'],
    ] as const) {
      const res = await fhir(t.app, 'GET', url, { token: admin });
      expect([res.status, outcomeCode(res.body as OperationOutcome)], url).toEqual([400, code]);
      expect(JSON.stringify(res.body)).not.toContain(MRN_A);
    }
    // URL and body parameters together; a repeated parameter is an AND, as in a query string.
    const both = await form(
      `date=ge2000-01-01&date=le2999-01-01`,
      `/fhir/Observation/_search?patient=${patientA}&_count=2`,
    );
    expect(both.status).toBe(200);
    expect(entries(both.body as Bundle)).toHaveLength(2);
    // Anything but a form body is refused, and so is a search that names two patients at once.
    const json = await fhir(t.app, 'POST', '/fhir/Patient/_search', {
      token: admin,
      body: { identifier: MRN_A },
    });
    expect(json.status).toBe(400);
    expect(outcomeCode(json.body as OperationOutcome)).toBe('FHIR_PARAM_INVALID');
    const two = await form(`identifier=${MRN_A}&_id=${patientA}`);
    expect(two.status).toBe(400);

    const audit = await fhir(t.app, 'GET', `/fhir/AuditEvent?entity=Patient/${patientA}&_count=200`, {
      token: admin,
    });
    expect(audit.status).toBe(200);
    expectValid(audit.body);
    const events = entries(audit.body as Bundle) as Array<{
      action: string;
      entity?: Array<{ what?: { reference?: string } }>;
    }>;
    expect(events.length).toBeGreaterThan(3);
    for (const e of events) {
      expectValid(e as never);
      expect(e.entity?.[0]?.what?.reference).toBe(`Patient/${patientA}`);
    }
    expect(JSON.stringify(audit.body)).not.toContain(MRN_A);
    const reads = entries(
      (await fhir(t.app, 'GET', `/fhir/AuditEvent?entity=Patient/${patientA}&action=R`, { token: admin }))
        .body as Bundle,
    ) as Array<{ action: string }>;
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.every((e) => e.action === 'R')).toBe(true);
    // By date: everything recorded since a minute before the test started, nothing after now.
    const since = await fhir(
      t.app,
      'GET',
      `/fhir/AuditEvent?entity=Patient/${patientA}&date=ge${encodeURIComponent(new Date(now - 60_000).toISOString())}&_count=200`,
      { token: admin },
    );
    expect(entries(since.body as Bundle).length).toBe(events.length);
    const future = await fhir(
      t.app,
      'GET',
      `/fhir/AuditEvent?date=gt${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
      { token: admin },
    );
    expect(future.status).toBe(200);
    expect(entries(future.body as Bundle)).toHaveLength(0);
  });

  it('names devices whose ids FHIR cannot hold (an underscore, 40+ characters) by a key every read path follows', async () => {
    const ids = ['mon_icu_9', `bedside-monitor-icu-north-wing-room-12-bay-3-${'u'.repeat(12)}`];
    for (const [i, id] of ids.entries()) {
      await t.app.devices.create({
        id,
        type: 'patient-monitor',
        vendor: 'Acme',
        model: 'M1',
        careUnit: 'ICU',
      });
      await t.app.patients.bind(id, { patientId: `MRN-FHIR-KEY-${i}`, from: now - 86_400_000 });
      await ingest(t, id, 1, now - 4000, vitals(70 + i));
    }
    const get = async (url: string) => {
      const res = await fhir(t.app, 'GET', url, { token: admin });
      expect(res.status, `${url}: ${JSON.stringify(res.body).slice(0, 300)}`).toBe(200);
      expectValid(res.body);
      return res.body;
    };
    for (const [i, id] of ids.entries()) {
      const patient = patientIdOf(t.app.keys.blindIndex(PATIENT_INDEX_PURPOSE, `MRN-FHIR-KEY-${i}`));
      const found = entries<Observation>((await get(`/fhir/Observation?patient=${patient}`)) as Bundle);
      expect(found).toHaveLength(vitals(0).length);
      for (const o of found) {
        expectValid(o);
        // Every id and reference the search hands out reads back.
        expect(await get(`/fhir/Observation/${o.id}`)).toEqual(o);
        const deviceRef = o.device!.reference!;
        expect(deviceRef).toMatch(/^Device\/--[a-z2-7]{26}$/);
        const device = (await get(`/fhir/${deviceRef}`)) as {
          id: string;
          identifier: Array<{ value: string }>;
        };
        // The device's own id travels as an identifier.
        expect(device.identifier.map((x) => x.value)).toContain(id);
        expect(entries((await get(`/fhir/Observation?device=${deviceRef}`)) as Bundle)).toHaveLength(
          found.length,
        );
        const metrics = entries((await get(`/fhir/DeviceMetric?source=${deviceRef}`)) as Bundle);
        expect(metrics.length).toBeGreaterThan(0);
        for (const m of metrics) expect(await get(`/fhir/DeviceMetric/${m.id}`)).toEqual(m);
        // The audit trail names the device by the same reference, and is searched by it.
        const audits = entries((await get(`/fhir/AuditEvent?entity=${deviceRef}&_count=100`)) as Bundle);
        expect(audits.length).toBeGreaterThan(0);
      }
    }
  });

  it('creates and updates Patients (ADT) sealed at rest, with versions', async () => {
    const integ = await registerSmartClient(t.app, {
      alg: 'ES384',
      role: 'integration',
      scopes: ['system/Patient.cruds', 'system/Observation.crs'],
    });
    const token = await smartToken(t.app, integ);
    const body = {
      resourceType: 'Patient',
      identifier: [{ system: 'urn:oid:1.2.3.4', value: 'MRN-ADT-777' }],
      name: [{ family: 'Nightingale', given: ['Florence'] }],
      gender: 'female',
      birthDate: '1990-05-12',
    };
    const created = await fhir(t.app, 'POST', '/fhir/Patient', { token, body });
    expect(created.status).toBe(201);
    expectValid(created.body);
    const id = created.body.id!;
    expect(created.headers.location).toBe(`${t.url}/fhir/Patient/${id}/_history/1`);
    const again = await fhir(t.app, 'POST', '/fhir/Patient', { token, body });
    expect(again.status).toBe(409);
    expect(outcomeCode(again.body as OperationOutcome)).toBe('FHIR_PATIENT_EXISTS');
    const updated = await fhir(t.app, 'PUT', `/fhir/Patient/${id}`, {
      token,
      body: { ...body, id, name: [{ family: 'Seacole', given: ['Mary'] }] },
      headers: { 'if-match': 'W/"1"' },
    });
    expect(updated.status).toBe(200);
    expect(updated.body.meta?.versionId).toBe('2');
    const stale = await fhir(t.app, 'PUT', `/fhir/Patient/${id}`, {
      token,
      body: { ...body, id },
      headers: { 'if-match': 'W/"1"' },
    });
    expect(stale.status).toBe(412);
    expect(outcomeCode(stale.body as OperationOutcome)).toBe('FHIR_VERSION_CONFLICT');
    const read = await fhir(t.app, 'GET', `/fhir/Patient/${id}`, { token });
    expect(read.body).toMatchObject({ id, name: [{ family: 'Seacole' }], meta: { versionId: '2' } });
    // At rest: only ciphertext.
    const rows = await t.app.store.db.selectFrom('patient_records').selectAll().execute();
    for (const r of rows)
      expect(Buffer.from(r.sealed).toString('latin1')).not.toMatch(/Seacole|MRN-ADT-777|Nightingale/);

    // An entered Observation for that patient, from an inventory device, attributed to the client.
    const vitalSigns = {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }],
    };
    const obs = {
      resourceType: 'Observation',
      status: 'final',
      // The category the code implies is accepted (any other is refused: see the bad input test).
      category: [vitalSigns],
      code: { coding: [{ system: 'http://loinc.org', code: '8310-5' }] },
      subject: { reference: `Patient/${id}` },
      device: { reference: 'Device/pump-icu-2' },
      effectiveDateTime: new Date(now - 3_600_000).toISOString(),
      valueQuantity: { value: 98.6, unit: '°F', system: 'http://unitsofmeasure.org', code: '[degF]' },
    };
    const made = await fhir(t.app, 'POST', '/fhir/Observation', { token, body: obs });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    expectValid(made.body);
    expect(made.body).toMatchObject({
      status: 'final',
      category: [{ coding: [{ ...vitalSigns.coding[0], display: 'Vital Signs' }] }],
      valueQuantity: { value: 37, code: 'Cel' },
      performer: [{ identifier: { value: integ.id } }],
      subject: { reference: `Patient/${id}` },
    });
    const back = await fhir(t.app, 'GET', `/fhir/Observation?patient=${id}`, { token });
    expect(entries(back.body as Bundle).map((o) => o.id)).toEqual([made.body.id]);
  });

  it('refuses Patient writes before a key is touched: bad If-Match, existing patient, version conflict', async () => {
    const token = await smartToken(
      t.app,
      await registerSmartClient(t.app, {
        alg: 'ES384',
        role: 'integration',
        scopes: ['system/Patient.cruds'],
      }),
    );
    const body = (mrn: string) => ({
      resourceType: 'Patient',
      identifier: [{ system: 'urn:oid:1.2.3.4', value: mrn }],
      name: [{ family: 'Keys' }],
    });
    const existing = await fhir(t.app, 'POST', '/fhir/Patient', { token, body: body('MRN-KEYS-1') });
    expect(existing.status).toBe(201);
    const oldId = existing.body.id!;
    const newId = patientIdOf(t.app.keys.blindIndex(PATIENT_INDEX_PURPOSE, 'MRN-KEYS-NEW'));
    const encrypt = vi.spyOn(t.app.keys, 'encrypt');
    try {
      const before = await storedCounts();
      for (const [label, method, url, mrn, id, ifMatch, status, code] of [
        [
          'garbage If-Match, new patient',
          'PUT',
          `/fhir/Patient/${newId}`,
          'MRN-KEYS-NEW',
          newId,
          'garbage',
          400,
          'FHIR_RESOURCE_INVALID',
        ],
        [
          'If-Match for a version a new patient lacks',
          'PUT',
          `/fhir/Patient/${newId}`,
          'MRN-KEYS-NEW',
          newId,
          'W/"1"',
          412,
          'FHIR_VERSION_CONFLICT',
        ],
        [
          'create of an existing patient',
          'POST',
          '/fhir/Patient',
          'MRN-KEYS-1',
          undefined,
          undefined,
          409,
          'FHIR_PATIENT_EXISTS',
        ],
        [
          'stale version',
          'PUT',
          `/fhir/Patient/${oldId}`,
          'MRN-KEYS-1',
          oldId,
          'W/"7"',
          412,
          'FHIR_VERSION_CONFLICT',
        ],
        [
          'garbage If-Match, existing patient',
          'PUT',
          `/fhir/Patient/${oldId}`,
          'MRN-KEYS-1',
          oldId,
          'W/1',
          400,
          'FHIR_RESOURCE_INVALID',
        ],
      ] as const) {
        const res = await fhir(t.app, method, url, {
          token,
          body: { ...body(mrn), ...(id ? { id } : {}) },
          ...(ifMatch ? { headers: { 'if-match': ifMatch } } : {}),
        });
        expect(res.status, `${label}: ${JSON.stringify(res.body).slice(0, 300)}`).toBe(status);
        expect(outcomeCode(res.body as OperationOutcome), label).toBe(code);
      }
      expect(encrypt).not.toHaveBeenCalled();
      expect(await storedCounts()).toEqual(before);
    } finally {
      encrypt.mockRestore();
    }
  });

  it('Patient writes follow the care-unit rule of reads, and confirm an existing patient only to who could read it', async () => {
    const client = async (careUnits?: string[]) =>
      smartToken(
        t.app,
        await registerSmartClient(t.app, {
          alg: 'ES384',
          role: 'integration',
          scopes: ['system/Patient.cruds'],
          ...(careUnits ? { careUnits } : {}),
        }),
      );
    const icu = await client(['ICU']);
    const everywhere = await client();
    const body = (mrn: string, id?: string) => ({
      resourceType: 'Patient',
      ...(id ? { id } : {}),
      identifier: [{ system: 'urn:oid:1.2.3.4', value: mrn }],
      name: [{ family: 'Reach' }],
    });
    const idOf = (mrn: string) => patientIdOf(t.app.keys.blindIndex(PATIENT_INDEX_PURPOSE, mrn));
    const write = (token: string, method: 'POST' | 'PUT', mrn: string) =>
      fhir(t.app, method, method === 'POST' ? '/fhir/Patient' : `/fhir/Patient/${idOf(mrn)}`, {
        token,
        body: body(mrn, method === 'PUT' ? idOf(mrn) : undefined),
      });
    // A registered patient without a binding lies in no unit: the ICU client cannot read it.
    expect((await write(everywhere, 'POST', 'MRN-REACH-UNBOUND')).status).toBe(201);
    expect(
      (await fhir(t.app, 'GET', `/fhir/Patient/${idOf('MRN-REACH-UNBOUND')}`, { token: icu })).status,
    ).toBe(403);

    const encrypt = vi.spyOn(t.app.keys, 'encrypt');
    try {
      const before = await storedCounts();
      const denials = (await t.app.audit.list({ outcome: 'denied', limit: 10_000 })).length;
      for (const [method, mrn] of [
        ['POST', MRN_B], // known from a CCU binding, no record yet
        ['PUT', MRN_B],
        ['POST', 'MRN-REACH-UNBOUND'], // exists: a reach denial, never FHIR_PATIENT_EXISTS
        ['PUT', 'MRN-REACH-UNBOUND'],
      ] as const) {
        const res = await write(icu, method, mrn);
        expect(res.status, `${method} ${mrn}: ${JSON.stringify(res.body).slice(0, 200)}`).toBe(403);
        expect(outcomeCode(res.body as OperationOutcome)).toBe('ACCESS_CARE_UNIT_DENIED');
      }
      expect(encrypt).not.toHaveBeenCalled();
      expect(await storedCounts()).toEqual(before);
      expect((await t.app.audit.list({ outcome: 'denied', limit: 10_000 })).length - denials).toBe(4);
    } finally {
      encrypt.mockRestore();
    }
    // Whoever could read the patient learns that it exists.
    const exists = await write(everywhere, 'POST', 'MRN-REACH-UNBOUND');
    expect([exists.status, outcomeCode(exists.body as OperationOutcome)]).toEqual([
      409,
      'FHIR_PATIENT_EXISTS',
    ]);
    // In its own unit the client writes: the ICU patient, and a patient nobody knows yet.
    const own = await write(icu, 'PUT', MRN_A);
    expect(own.status, JSON.stringify(own.body).slice(0, 200)).toBe(201);
    const again = await write(icu, 'POST', MRN_A);
    expect([again.status, outcomeCode(again.body as OperationOutcome)]).toEqual([409, 'FHIR_PATIENT_EXISTS']);
    expect((await write(icu, 'POST', 'MRN-REACH-NEW')).status).toBe(201);
  });

  it('refuses writes without the write scope, role or care unit, storing nothing and auditing each', async () => {
    const client = async (role: 'integration' | 'security-analyst', scopes: string[]) =>
      smartToken(t.app, await registerSmartClient(t.app, { alg: 'ES384', role, scopes }));
    const writers = {
      readOnly: await client('integration', ['system/Observation.rs', 'system/Patient.rs']),
      updateOnly: await client('integration', ['system/Patient.u']),
      analyst: await client('security-analyst', ['system/*.cruds']),
      clinician: await t.userToken('nurse-writes', 'clinician', ['ICU']),
      auditor: await t.userToken('auditor-writes', 'auditor'),
    };
    const patient = {
      resourceType: 'Patient',
      identifier: [{ system: 'urn:oid:1.2.3.4', value: 'MRN-WRITE-1' }],
      name: [{ family: 'Refused' }],
    };
    const observation = {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: `Patient/${patientA}` },
      device: { reference: 'Device/mon-icu-1' },
      effectiveDateTime: new Date(now - 60_000).toISOString(),
      valueQuantity: { value: 80, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
    };
    const before = await storedCounts();
    const denials = (await t.app.audit.list({ outcome: 'denied', limit: 10_000 })).length;
    let refused = 0;
    for (const [who, token] of Object.entries(writers)) {
      for (const [method, url, body] of [
        ['POST', '/fhir/Observation', observation],
        ['POST', '/fhir/Patient', patient],
        ['PUT', `/fhir/Patient/${patientA}`, { ...patient, id: patientA }],
      ] as const) {
        if (who === 'updateOnly' && method === 'PUT') continue;
        const res = await fhir(t.app, method, url, { token, body });
        expect(res.status, `${who} ${method} ${url}: ${JSON.stringify(res.body).slice(0, 200)}`).toBe(403);
        expect(outcomeCode(res.body as OperationOutcome)).toBe('ACCESS_DENIED');
        refused++;
      }
    }
    expect(await storedCounts()).toEqual(before);
    expect((await t.app.audit.list({ outcome: 'denied', limit: 10_000 })).length - denials).toBe(refused);
  });

  it('refuses bad input with an OperationOutcome and a stable code, storing nothing', async () => {
    const integ = await registerSmartClient(t.app, {
      alg: 'RS384',
      role: 'integration',
      scopes: ['system/*.cruds'],
    });
    const token = await smartToken(t.app, integ);
    const before = await storedCounts();
    const good = {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: `Patient/${patientA}` },
      device: { reference: 'Device/mon-icu-1' },
      effectiveDateTime: new Date(now - 60_000).toISOString(),
      valueQuantity: { value: 80, code: '/min' },
    };
    type Case = [
      string,
      string,
      string,
      { body?: unknown; raw?: string; headers?: Record<string, string> },
      string,
      number,
    ];
    const cases: Case[] = [
      [
        'unknown param',
        'GET',
        `/fhir/Observation?patient=${patientA}&colour=red`,
        {},
        'FHIR_PARAM_UNKNOWN',
        400,
      ],
      ...(['constructor', 'toString', 'hasOwnProperty', '__proto__'] as const).map(
        (name): Case => [
          `inherited name ${name}`,
          'GET',
          `/fhir/Observation?patient=${patientA}&${name}=1`,
          {},
          'FHIR_PARAM_UNKNOWN',
          400,
        ],
      ),
      [
        'inherited name in a search body',
        'POST',
        `/fhir/Observation/_search?patient=${patientA}`,
        { raw: 'constructor=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
        'FHIR_PARAM_UNKNOWN',
        400,
      ],
      [
        'unsupported modifier, even lenient',
        'GET',
        `/fhir/Observation?patient=${patientA}&code:not=8867-4`,
        { headers: { prefer: 'handling=lenient' } },
        'FHIR_PARAM_UNKNOWN',
        400,
      ],
      [
        'bad date',
        'GET',
        `/fhir/Observation?patient=${patientA}&date=yesterday`,
        {},
        'FHIR_PARAM_INVALID',
        400,
      ],
      [
        'bad month',
        'GET',
        `/fhir/Observation?patient=${patientA}&date=ge2026-13`,
        {},
        'FHIR_PARAM_INVALID',
        400,
      ],
      [
        'bad prefix',
        'GET',
        `/fhir/Observation?patient=${patientA}&date=xx2026-01-01`,
        {},
        'FHIR_PARAM_INVALID',
        400,
      ],
      ['bad _count', 'GET', `/fhir/Observation?patient=${patientA}&_count=-1`, {}, 'FHIR_PARAM_INVALID', 400],
      [
        '_count not a number',
        'GET',
        `/fhir/Observation?patient=${patientA}&_count=ten`,
        {},
        'FHIR_PARAM_INVALID',
        400,
      ],
      [
        'bad _sort',
        'GET',
        `/fhir/Observation?patient=${patientA}&_sort=value`,
        {},
        'FHIR_PARAM_INVALID',
        400,
      ],
      ['wrong reference type', 'GET', '/fhir/Observation?patient=Device/x', {}, 'FHIR_PARAM_INVALID', 400],
      [
        'forged cursor',
        'GET',
        `/fhir/Observation?patient=${patientA}&_cursor=abc.${'A'.repeat(43)}`,
        {},
        'FHIR_CURSOR_INVALID',
        400,
      ],
      ['xml via _format', 'GET', '/fhir/Observation?_format=xml', {}, 'FHIR_FORMAT_UNSUPPORTED', 406],
      [
        'xml via _format in a search body',
        'POST',
        '/fhir/Observation/_search',
        {
          raw: `_format=xml&patient=${patientA}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        },
        'FHIR_FORMAT_UNSUPPORTED',
        406,
      ],
      [
        'xml via Accept',
        'GET',
        '/fhir/Device',
        { headers: { accept: 'application/fhir+xml' } },
        'FHIR_FORMAT_UNSUPPORTED',
        406,
      ],
      [
        'bad JSON',
        'POST',
        '/fhir/Observation',
        { raw: '{"resourceType": "Observation",' },
        'FHIR_JSON_INVALID',
        400,
      ],
      [
        'wrong resourceType',
        'POST',
        '/fhir/Observation',
        { body: { ...good, resourceType: 'Patient' } },
        'FHIR_RESOURCE_TYPE_MISMATCH',
        400,
      ],
      // What a reading cannot hold is refused, not answered and stored as something else.
      ...['preliminary', 'amended', 'corrected', 'entered-in-error'].map(
        (status): Case => [
          `status ${status}`,
          'POST',
          '/fhir/Observation',
          { body: { ...good, status } },
          'FHIR_RESOURCE_INVALID',
          400,
        ],
      ),
      ...[
        [
          {
            coding: [
              { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' },
            ],
          },
        ],
        [{ coding: [{ system: 'urn:example:category', code: 'vital-signs' }] }],
        [{ text: 'Vital signs' }],
        [
          {
            coding: [
              { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' },
            ],
          },
          {
            coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'exam' }],
          },
        ],
      ].map(
        (category, i): Case => [
          `category ${i}`,
          'POST',
          '/fhir/Observation',
          { body: { ...good, category } },
          'FHIR_RESOURCE_INVALID',
          400,
        ],
      ),
      [
        'value is a string',
        'POST',
        '/fhir/Observation',
        { body: { ...good, valueQuantity: { value: '80', code: '/min' } } },
        'FHIR_RESOURCE_INVALID',
        400,
      ],
      [
        'unknown field',
        'POST',
        '/fhir/Observation',
        { body: { ...good, bodySite: { text: 'arm' } } },
        'FHIR_RESOURCE_INVALID',
        400,
      ],
      [
        'unknown code',
        'POST',
        '/fhir/Observation',
        { body: { ...good, code: { coding: [{ system: 'http://loinc.org', code: '0000-0' }] } } },
        'TELEMETRY_UNKNOWN_CODE',
        400,
      ],
      [
        'wrong unit',
        'POST',
        '/fhir/Observation',
        { body: { ...good, valueQuantity: { value: 80, code: 'kg' } } },
        'TELEMETRY_UNIT_MISMATCH',
        400,
      ],
      [
        'impossible value',
        'POST',
        '/fhir/Observation',
        { body: { ...good, valueQuantity: { value: 999, code: '/min' } } },
        'TELEMETRY_IMPOSSIBLE_VALUE',
        422,
      ],
      [
        'unknown device',
        'POST',
        '/fhir/Observation',
        { body: { ...good, device: { reference: 'Device/nope-1' } } },
        'FHIR_REFERENCE_UNKNOWN',
        422,
      ],
      [
        'other patient on the device',
        'POST',
        '/fhir/Observation',
        { body: { ...good, subject: { reference: `Patient/${patientB}` } } },
        'FHIR_RESOURCE_INVALID',
        400,
      ],
      [
        'unknown patient',
        'POST',
        '/fhir/Observation',
        {
          body: {
            ...good,
            device: { reference: 'Device/pump-icu-2' },
            subject: { reference: `Patient/${'0'.repeat(64)}` },
          },
        },
        'FHIR_REFERENCE_UNKNOWN',
        422,
      ],
      [
        'future time',
        'POST',
        '/fhir/Observation',
        { body: { ...good, effectiveDateTime: new Date(now + 86_400_000).toISOString() } },
        'TELEMETRY_CLOCK_SKEW',
        422,
      ],
      [
        'patient without identifier',
        'POST',
        '/fhir/Patient',
        { body: { resourceType: 'Patient', gender: 'female' } },
        'FHIR_RESOURCE_INVALID',
        400,
      ],
      [
        'patient bad gender',
        'POST',
        '/fhir/Patient',
        { body: { resourceType: 'Patient', identifier: [{ value: 'MRN-X-1' }], gender: 'f' } },
        'FHIR_RESOURCE_INVALID',
        400,
      ],
      [
        'patient id mismatch',
        'PUT',
        `/fhir/Patient/${patientA}`,
        { body: { resourceType: 'Patient', id: patientB, identifier: [{ value: MRN_A }] } },
        'FHIR_RESOURCE_INVALID',
        400,
      ],
      [
        'device is read-only',
        'POST',
        '/fhir/Device',
        { body: { resourceType: 'Device' } },
        'ROUTE_NOT_FOUND',
        404,
      ],
      [
        'text/plain body',
        'POST',
        '/fhir/Patient',
        { raw: 'hello', headers: { 'content-type': 'text/plain' } },
        'UNSUPPORTED_MEDIA_TYPE',
        415,
      ],
    ];
    for (const [label, method, url, opts, code, status] of cases) {
      const res = await fhir(t.app, method, url, { token, ...opts });
      expect(res.status, `${label}: ${JSON.stringify(res.body).slice(0, 400)}`).toBe(status);
      expect(res.headers['content-type'], label).toContain('application/fhir+json');
      expect(res.body.resourceType, label).toBe('OperationOutcome');
      expect(outcomeCode(res.body as OperationOutcome), label).toBe(code);
      expectValid(res.body);
      expect(JSON.stringify(res.body)).not.toContain(MRN_A);
    }
    expect(await storedCounts()).toEqual(before);

    // Lenient handling ignores the unknown parameter and reports it in the Bundle.
    const lenient = await fhir(t.app, 'GET', `/fhir/Observation?patient=${patientA}&colour=red&_count=1`, {
      token,
      headers: { prefer: 'handling=lenient' },
    });
    expect(lenient.status).toBe(200);
    expectValid(lenient.body);
    const outcome = (lenient.body as Bundle).entry?.find((e) => e.search?.mode === 'outcome')
      ?.resource as OperationOutcome;
    expect(outcome.issue[0]?.diagnostics).toContain('colour');
    expect((lenient.body as Bundle).link?.[0]?.url).not.toContain('colour');
    // An inherited name is an unknown parameter like any other: ignored, reported, never echoed.
    const inherited = await fhir(
      t.app,
      'GET',
      `/fhir/Observation?patient=${patientA}&constructor=x&_count=1`,
      {
        token,
        headers: { prefer: 'handling=lenient' },
      },
    );
    expect(inherited.status).toBe(200);
    expect((inherited.body as Bundle).link?.[0]?.url).toBe(
      `${t.url}/fhir/Observation?_count=1&patient=${patientA}`,
    );
    expect(JSON.stringify((inherited.body as Bundle).entry?.at(-1))).toContain('constructor');
  });
  it("a patient's record stays with the units that cared for them: an unbound device moved on does not take it along", async () => {
    await t.app.devices.create({
      id: 'mon-move-2',
      type: 'patient-monitor',
      vendor: 'Acme',
      model: 'M1',
      careUnit: 'CCU',
    });
    await t.app.patients.bind('mon-move-2', { patientId: 'MRN-FHIR-MOVE-4', from: now - 86_400_000 });
    const patient = patientIdOf(t.app.keys.blindIndex(PATIENT_INDEX_PURPOSE, 'MRN-FHIR-MOVE-4'));
    await ingest(t, 'mon-move-2', 1, now - 5000, [
      { code: { system: 'MDC', code: '147842' }, value: 88, unit: '/min' },
    ]);
    const ccu = await t.userToken('nurse-ccu-reach', 'clinician', ['CCU']);
    const icu = await t.userToken('nurse-icu-reach', 'clinician', ['ICU']);
    const read = async (token: string) => {
      const res = await fhir(t.app, 'GET', `/fhir/Patient/${patient}`, { token });
      return res.status === 200 ? 200 : `${res.status} ${JSON.stringify(res.body)}`;
    };
    expect(await read(ccu)).toBe(200);
    expect(await read(icu)).toMatch(/^403 .*ACCESS_CARE_UNIT_DENIED/);

    // Discharged: the monitor is unbound and moved to the ICU for its next patient.
    await t.app.patients.unbind('mon-move-2', Date.now() - 2000);
    const moved = await call(t.app, 'PATCH', '/api/v1/devices/mon-move-2', {
      token: admin,
      body: { careUnit: 'ICU' },
    });
    expect(moved.status).toBe(200);
    // The CCU cared for the patient (readings taken there); the ICU never did.
    expect(await read(ccu)).toBe(200);
    expect(await read(icu)).toMatch(/^403 .*ACCESS_CARE_UNIT_DENIED/);

    // The next patient of that monitor is the ICU's from the moment of binding, readings or not.
    await t.app.patients.bind('mon-move-2', { patientId: 'MRN-FHIR-MOVE-5', from: Date.now() - 1000 });
    const next = patientIdOf(t.app.keys.blindIndex(PATIENT_INDEX_PURPOSE, 'MRN-FHIR-MOVE-5'));
    const nextRead = await fhir(t.app, 'GET', `/fhir/Patient/${next}`, { token: icu });
    expect(nextRead.status).toBe(200);
    expect((await fhir(t.app, 'GET', `/fhir/Patient/${next}`, { token: ccu })).status).toBe(403);
  });

  it('a device moved from ICU to WARD shows the WARD only what it measured there, on every read path', async () => {
    await t.app.devices.create({
      id: 'mon-move-1',
      type: 'patient-monitor',
      vendor: 'Acme',
      model: 'M1',
      careUnit: 'ICU',
    });
    await t.app.patients.bind('mon-move-1', { patientId: 'MRN-FHIR-MOVE-3', from: now - 86_400_000 });
    const patient = patientIdOf(t.app.keys.blindIndex(PATIENT_INDEX_PURPOSE, 'MRN-FHIR-MOVE-3'));
    const heartRate = (v: number) => [{ code: { system: 'MDC', code: '147842' }, value: v, unit: '/min' }];
    for (const [seq, hr] of [
      [1, 101],
      [2, 102],
      [3, 103],
    ] as const)
      await ingest(t, 'mon-move-1', seq, now - (10 - seq) * 1000, heartRate(hr));
    const moved = await call(t.app, 'PATCH', '/api/v1/devices/mon-move-1', {
      token: admin,
      body: { careUnit: 'WARD' },
    });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    // Observed after the move (a reading observed before it would keep no unit, see below).
    const movedAt = Date.now();
    for (const [seq, hr] of [
      [4, 111],
      [5, 112],
    ] as const)
      await ingest(t, 'mon-move-1', seq, movedAt + (seq - 3) * 10, heartRate(hr));
    const stored = await t.app.store.db
      .selectFrom('telemetry_readings')
      .select(['seq', 'care_unit'])
      .where('device_id', '=', 'mon-move-1')
      .orderBy('seq')
      .execute();
    expect(stored.map((r) => r.care_unit)).toEqual(['ICU', 'ICU', 'ICU', 'WARD', 'WARD']);

    /** Heart rates each read path returns, newest first; `partial` of the two telemetry routes. */
    const partial: unknown[][] = [];
    const seen = async (token: string) => {
      const values = (observations: Array<{ value?: number; valueQuantity?: { value?: number } }>) =>
        observations.map((o) => o.value ?? o.valueQuantity?.value);
      const device = await call(t.app, 'GET', '/api/v1/devices/mon-move-1/telemetry', { token });
      const byPatient = await call(t.app, 'GET', `/api/v1/patients/${patient}/telemetry`, { token });
      const search = await fhir(t.app, 'GET', `/fhir/Observation?patient=${patient}&_count=100`, { token });
      const unfiltered = await fhir(t.app, 'GET', '/fhir/Observation?code=8867-4&_count=1000', { token });
      expect([device.status, byPatient.status, search.status, unfiltered.status]).toEqual([
        200, 200, 200, 200,
      ]);
      // Readings of the range left out for another care unit are announced, not silently dropped:
      // `partial` on the API, an OperationOutcome entry (IssueType `suppressed`) in FHIR Bundles.
      const suppressed = (b: Bundle) =>
        (b.entry ?? []).some(
          (e) =>
            e.search?.mode === 'outcome' &&
            (e.resource as OperationOutcome).issue?.some((i) => i.code === 'suppressed'),
        );
      expectValid(search.body as Bundle);
      partial.push([
        device.body.partial,
        byPatient.body.partial,
        suppressed(search.body as Bundle),
        suppressed(unfiltered.body as Bundle),
      ]);
      return {
        device: values(device.body.observations as never),
        patient: values(byPatient.body.observations as never),
        search: values(entries<Observation>(search.body as Bundle)),
        unfiltered: values(
          entries<Observation>(unfiltered.body as Bundle).filter(
            (o) => o.device?.reference === 'Device/mon-move-1',
          ),
        ),
      };
    };
    const all = [112, 111, 103, 102, 101];
    const afterMove = [112, 111];
    expect(await seen(admin)).toEqual({ device: all, patient: all, search: all, unfiltered: all });
    const ward = await t.userToken('nurse-ward', 'clinician', ['WARD']);
    expect(await seen(ward)).toEqual({
      device: afterMove,
      patient: afterMove,
      search: afterMove,
      unfiltered: afterMove,
    });
    expect(partial).toEqual([
      [false, false, false, false],
      [true, true, true, true],
    ]);
    // FHIR dates are judged per observation after the clear-column prefilter, so the notice may
    // err on the side of saying more may exist ("not or might not have been returned"); a page
    // far from any other unit's readings says nothing.
    const later = await fhir(
      t.app,
      'GET',
      `/fhir/Observation?device=Device/mon-move-1&date=ge${encodeURIComponent(new Date(movedAt + 3_600_000).toISOString())}`,
      { token: ward },
    );
    expect(entries<Observation>(later.body as Bundle)).toHaveLength(0);
    expect((later.body as Bundle).entry?.some((e) => e.search?.mode === 'outcome') ?? false).toBe(false);
    // Asked only for the time after the move, nothing is left out.
    const since = new Date(now - 6500).toISOString();
    for (const path of [
      `/api/v1/devices/mon-move-1/telemetry?from=${since}`,
      `/api/v1/patients/${patient}/telemetry?from=${since}`,
    ]) {
      const page = await call(t.app, 'GET', path, { token: ward });
      expect(page.status).toBe(200);
      expect(page.body).toMatchObject({ partial: false });
      expect((page.body.observations as unknown[]).length).toBe(2);
    }
    // `partial` speaks of what the page covers: a full page of the two newest says nothing of
    // older readings (the check stays bounded by the page); a page with room for more does.
    for (const [limit, partialPage] of [
      [2, false],
      [3, true],
    ] as const) {
      const page = await call(t.app, 'GET', `/api/v1/devices/mon-move-1/telemetry?limit=${limit}`, {
        token: ward,
      });
      expect(page.body, `limit ${limit}`).toMatchObject({ partial: partialPage });
      expect((page.body.observations as unknown[]).length).toBe(2);
    }
    // A client registered for the WARD is held to it like a clinician; FHIR search only.
    const wardClient = await smartToken(
      t.app,
      await registerSmartClient(t.app, {
        alg: 'ES384',
        role: 'integration',
        scopes: ['system/Observation.rs'],
        careUnits: ['WARD'],
      }),
    );
    const clientSearch = await fhir(t.app, 'GET', `/fhir/Observation?device=Device/mon-move-1`, {
      token: wardClient,
    });
    expect(entries<Observation>(clientSearch.body as Bundle).map((o) => o.valueQuantity?.value)).toEqual(
      afterMove,
    );
    // The ICU keeps none of it: the device is no longer in its unit (the existing rule).
    const icu = await t.userToken('nurse-icu-move', 'clinician', ['ICU']);
    const icuRead = await call(t.app, 'GET', '/api/v1/devices/mon-move-1/telemetry', { token: icu });
    expect([icuRead.status, icuRead.body.code]).toEqual([403, 'ACCESS_CARE_UNIT_DENIED']);

    // Read by id: a reading taken in the ICU is refused to the WARD, and the refusal is audited.
    const ids = new Map(
      entries<Observation>(
        (await fhir(t.app, 'GET', `/fhir/Observation?patient=${patient}&_count=100`, { token: admin }))
          .body as Bundle,
      ).map((o) => [o.valueQuantity?.value, o.id!]),
    );
    expect((await fhir(t.app, 'GET', `/fhir/Observation/${ids.get(111)}`, { token: ward })).status).toBe(200);
    const denials = (await t.app.audit.list({ action: 'access.denied', limit: 10_000 })).length;
    for (const token of [ward, wardClient]) {
      const before = await fhir(t.app, 'GET', `/fhir/Observation/${ids.get(101)}`, { token });
      expect([before.status, outcomeCode(before.body as OperationOutcome)]).toEqual([
        403,
        'ACCESS_CARE_UNIT_DENIED',
      ]);
      expect(JSON.stringify(before.body)).not.toContain('101');
    }
    const denied = (await t.app.audit.list({ action: 'access.denied', limit: 10_000 })).slice(denials);
    expect(denied.map((e) => (e as { code?: string }).code)).toEqual([
      'ACCESS_CARE_UNIT_DENIED',
      'ACCESS_CARE_UNIT_DENIED',
    ]);
    expect((denied[0] as { actor: { name?: string } }).actor.name).toBe('nurse-ward');

    // Break-glass lifts the limit, as it does for the device check.
    const bg = await call(t.app, 'POST', '/api/v1/break-glass', {
      token: ward,
      body: { reason: 'covering the ICU history of bed 7', minutes: 15 },
    });
    expect(bg.status).toBe(201);
    const glass = bg.body.access_token as string;
    expect(await seen(glass)).toEqual({ device: all, patient: all, search: all, unfiltered: all });
    expect((await fhir(t.app, 'GET', `/fhir/Observation/${ids.get(101)}`, { token: glass })).status).toBe(
      200,
    );

    // A reading observed in the ICU but uploaded after the move (a buffered upload) keeps no unit:
    // the WARD does not get it, callers who see every unit do.
    await ingest(t, 'mon-move-1', 6, now - 8500, heartRate(104));
    const buffered = await t.app.store.db
      .selectFrom('telemetry_readings')
      .select('care_unit')
      .where('device_id', '=', 'mon-move-1')
      .where('seq', '=', 6)
      .executeTakeFirstOrThrow();
    expect(buffered.care_unit).toBeNull();
    expect(await seen(ward)).toEqual({
      device: afterMove,
      patient: afterMove,
      search: afterMove,
      unfiltered: afterMove,
    });
    const withBuffered = [112, 111, 103, 102, 104, 101];
    expect(await seen(admin)).toEqual({
      device: withBuffered,
      patient: withBuffered,
      search: withBuffered,
      unfiltered: withBuffered,
    });
  });
});
