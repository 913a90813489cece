/**
 * SMART Backend Services against the FHIR API, on SQLite and PostgreSQL:
 * - a real FHIR client library (fhir-kit-client) discovers the token endpoint, gets a token with a
 *   client assertion the test signed with its own key (ES384 and RS384) over real HTTPS, then
 *   reads and searches (following `next` links);
 * - refused assertions and tokens (wrong audience, expired, replayed jti, alg none, unknown kid);
 * - a matrix of scopes, roles and care units, where every access, allowed or refused, is found
 *   again through `/fhir/AuditEvent`.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Bundle, Observation, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { Client } from 'fhir-kit-client';
import { generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { Agent, setGlobalDispatcher } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { outcomeCode, patientIdOf } from '../src/fhir/index.js';
import { PATIENT_INDEX_PURPOSE } from '../src/patients/index.js';
import { describeEachDialect } from '../src/testing/dialects.js';
import {
  type FhirInstallation,
  fhir,
  fhirIssues,
  registerSmartClient,
  requestToken,
  smartToken,
  startFhirInstallation,
} from './support/fhir.js';

const MRN_ICU = 'MRN-SMART-ICU-1';
const MRN_CCU = 'MRN-SMART-CCU-2';

const matches = <T extends Resource>(b: Bundle) =>
  (b.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource as T);

describeEachDialect('FHIR with SMART backend services', (_open, dialect) => {
  let t: FhirInstallation;
  let icuPatient: string;
  let ccuPatient: string;
  const now = Date.now();

  beforeAll(async () => {
    t = await startFhirInstallation({ dialect });
    // fetch (undici) trusting the installation's CA: the client talks real HTTPS to the listener.
    setGlobalDispatcher(new Agent({ connect: { ca: readFileSync(t.caFile) } }));
    await t.app.devices.create({
      id: 'mon-icu-7',
      type: 'patient-monitor',
      vendor: 'Acme',
      model: 'M1',
      careUnit: 'ICU',
    });
    await t.app.devices.create({
      id: 'mon-ccu-7',
      type: 'patient-monitor',
      vendor: 'Acme',
      model: 'M1',
      careUnit: 'CCU',
    });
    await t.app.patients.bind('mon-icu-7', { patientId: MRN_ICU, from: now - 86_400_000 });
    await t.app.patients.bind('mon-ccu-7', { patientId: MRN_CCU, from: now - 86_400_000 });
    icuPatient = patientIdOf(t.app.keys.blindIndex(PATIENT_INDEX_PURPOSE, MRN_ICU));
    ccuPatient = patientIdOf(t.app.keys.blindIndex(PATIENT_INDEX_PURPOSE, MRN_CCU));
    for (const [device, n] of [
      ['mon-icu-7', 12],
      ['mon-ccu-7', 3],
    ] as const) {
      const messages = Array.from({ length: n }, (_, i) => ({
        deviceId: device,
        payload: Buffer.from(
          JSON.stringify({
            seq: i + 1,
            ts: new Date(now - (n - i) * 1000).toISOString(),
            observations: [{ code: { system: 'MDC', code: '150456' }, value: 95 + (i % 4), unit: '%' }],
          }),
        ),
        receivedAt: Date.now(),
        source: 'https' as const,
        kind: 'telemetry' as const,
      }));
      expect((await t.app.telemetry.ingest(messages)).every((o) => o.ok)).toBe(true);
    }
  }, 120_000);
  afterAll(async () => {
    setGlobalDispatcher(new Agent());
    await t?.cleanup();
  });

  for (const alg of ['ES384', 'RS384'] as const) {
    it(`lets fhir-kit-client read and search over HTTPS with a ${alg} backend-services token`, async () => {
      const smart = await registerSmartClient(t.app, {
        alg,
        role: 'integration',
        scopes: ['system/Observation.rs', 'system/Patient.rs', 'system/Device.rs'],
      });
      const client = new Client({ baseUrl: `${t.url}/fhir` });
      const meta = await client.smartAuthMetadata();
      expect(meta.tokenUrl?.toString()).toBe(`${t.url}/oauth/token`);
      // The token request itself goes over HTTPS too, with an assertion signed by the client's key.
      const form = new URLSearchParams({
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await smart.assertion({ aud: String(meta.tokenUrl) }),
        scope: 'system/Observation.rs system/Patient.rs system/Device.rs',
      });
      const tokenRes = await fetch(String(meta.tokenUrl), { method: 'POST', body: form });
      expect(tokenRes.status).toBe(200);
      const { access_token: token } = (await tokenRes.json()) as { access_token: string };
      client.bearerToken = token;

      const device = (await client.read({ resourceType: 'Device', id: 'mon-icu-7' })) as Resource;
      expect(fhirIssues(device)).toEqual([]);
      const patient = (await client.read({ resourceType: 'Patient', id: icuPatient })) as Resource;
      expect(fhirIssues(patient)).toEqual([]);
      let page = (await client.search({
        resourceType: 'Observation',
        searchParams: { patient: `Patient/${icuPatient}`, _count: 5 },
      })) as unknown as Bundle | undefined;
      const seen: Observation[] = [];
      for (let n = 0; page; n++) {
        expect(n).toBeLessThan(5);
        expect(fhirIssues(page)).toEqual([]);
        seen.push(...matches<Observation>(page));
        page = (await client.nextPage({ bundle: page as never })) as unknown as Bundle | undefined;
      }
      expect(seen).toHaveLength(12);
      expect(seen.every((o) => o.subject?.reference === `Patient/${icuPatient}`)).toBe(true);
    });
  }

  it('refuses bad assertions and bad access tokens, auditing each with its code', async () => {
    const smart = await registerSmartClient(t.app, {
      alg: 'ES384',
      role: 'integration',
      scopes: ['system/Observation.rs'],
    });
    const refused = async (assertion: string) => {
      const res = await requestToken(t.app, assertion);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
      expect(res.body.access_token).toBeUndefined();
    };
    await refused(await smart.assertion({ aud: 'https://elsewhere.example/oauth/token' }));
    await refused(await smart.assertion({ exp: Math.floor(Date.now() / 1000) - 60 }));
    const jti = randomUUID();
    expect((await requestToken(t.app, await smart.assertion({ jti }))).status).toBe(200);
    await refused(await smart.assertion({ jti }));
    await refused(
      new UnsecuredJWT({ jti: randomUUID() })
        .setIssuer(smart.id)
        .setSubject(smart.id)
        .setAudience(t.app.access.tokenUrl)
        .setExpirationTime('2m')
        .encode(),
    );
    await refused(await smart.assertion({ kid: 'no-such-kid' }));
    const stranger = await generateKeyPair('ES384');
    await refused(await smart.assertion({ key: stranger.privateKey as CryptoKey }));
    const failures = (await t.app.audit.list({ actor: smart.id, action: 'auth.token', limit: 100 })).filter(
      (e) => e.outcome === 'failure',
    );
    expect(failures.map((e) => e.code)).toEqual([
      'AUTH_CLIENT_INVALID',
      'AUTH_CLIENT_INVALID',
      'AUTH_ASSERTION_REPLAYED',
      'AUTH_CLIENT_INVALID',
      'AUTH_CLIENT_INVALID',
      'AUTH_CLIENT_INVALID',
    ]);

    // Access tokens presented to /fhir: signed with the server's own key but wrong, or not ours.
    const key = await t.app.keys.signingKey('jwt');
    const mint = (o: {
      aud?: string;
      exp?: number;
      kid?: string;
      signer?: CryptoKey | typeof key.privateKey;
    }) =>
      new SignJWT({ kind: 'client', role: 'integration', care_units: [], scope: 'system/Observation.rs' })
        .setProtectedHeader({ alg: 'ES256', kid: o.kid ?? key.kid, typ: 'at+jwt' })
        .setIssuer(t.url)
        .setAudience(o.aud ?? t.url)
        .setSubject(smart.id)
        .setIssuedAt(Math.floor(Date.now() / 1000) - 120)
        .setExpirationTime(o.exp ?? Math.floor(Date.now() / 1000) + 300)
        .setJti(randomUUID())
        .sign(o.signer ?? key.privateKey);
    const p256 = await generateKeyPair('ES256');
    const bad: Array<[string, string, string]> = [
      ['wrong audience', await mint({ aud: 'https://other.example' }), 'AUTH_TOKEN_AUDIENCE'],
      ['expired', await mint({ exp: Math.floor(Date.now() / 1000) - 10 }), 'AUTH_TOKEN_EXPIRED'],
      [
        'unknown kid',
        await mint({ kid: 'unknown-kid', signer: p256.privateKey as CryptoKey }),
        'AUTH_TOKEN_INVALID',
      ],
      [
        'alg none',
        new UnsecuredJWT({ kind: 'client', role: 'integration', scope: 'system/Observation.rs' })
          .setIssuer(t.url)
          .setAudience(t.url)
          .setSubject(smart.id)
          .setExpirationTime('5m')
          .encode(),
        'AUTH_TOKEN_ALGORITHM',
      ],
    ];
    // The control: the same minting with nothing wrong is accepted.
    expect(
      (await fhir(t.app, 'GET', `/fhir/Observation?patient=${icuPatient}`, { token: await mint({}) })).status,
    ).toBe(200);
    for (const [label, token, code] of bad) {
      const res = await fhir(t.app, 'GET', `/fhir/Observation?patient=${icuPatient}`, { token });
      expect(res.status, label).toBe(401);
      expect(res.headers['www-authenticate'], label).toBe('Bearer');
      expect(outcomeCode(res.body as OperationOutcome), label).toBe(code);
      expect(fhirIssues(res.body)).toEqual([]);
    }
  });

  it('enforces scopes, roles and care units, and every access shows up in /fhir/AuditEvent', async () => {
    const client = async (
      role: 'integration' | 'security-analyst',
      scopes: string[],
      careUnits?: string[],
    ) => {
      const c = await registerSmartClient(t.app, {
        alg: 'ES384',
        role,
        scopes,
        ...(careUnits ? { careUnits } : {}),
      });
      return { id: c.id, token: await smartToken(t.app, c) };
    };
    const principals = {
      obsRs: await client('integration', ['system/Observation.rs']),
      obsR: await client('integration', ['system/Observation.r']),
      obsS: await client('integration', ['system/Observation.s']),
      patientCtx: await client('integration', ['patient/*.rs']),
      userCtx: await client('integration', ['user/Observation.rs']),
      allRs: await client('integration', ['system/*.rs']),
      analyst: await client('security-analyst', ['system/*.rs']),
      clientIcu: await client('integration', ['system/*.rs'], ['ICU']),
      clinicianIcu: { id: '', token: await t.userToken('nurse-icu', 'clinician', ['ICU']) },
      auditor: { id: '', token: await t.userToken('auditor-1', 'auditor') },
    };
    const users = await t.app.access.users.list();
    principals.clinicianIcu.id = users.find((u) => u.username === 'nurse-icu')!.id;
    principals.auditor.id = users.find((u) => u.username === 'auditor-1')!.id;

    const icuObs = matches<Observation>(
      (
        await fhir(t.app, 'GET', `/fhir/Observation?patient=${icuPatient}&_count=1`, {
          token: principals.allRs.token,
        })
      ).body as Bundle,
    )[0]!;
    const ccuObs = matches<Observation>(
      (
        await fhir(t.app, 'GET', `/fhir/Observation?patient=${ccuPatient}&_count=1`, {
          token: principals.allRs.token,
        })
      ).body as Bundle,
    )[0]!;
    const searchIcu = `/fhir/Observation?patient=${icuPatient}`;
    const searchCcu = `/fhir/Observation?patient=${ccuPatient}`;
    type Who = keyof typeof principals;
    // [who, url, status, denial code or number of entries]
    const matrix: Array<[Who, string, number, string | number]> = [
      ['obsRs', searchIcu, 200, 12],
      ['obsRs', `/fhir/Observation/${icuObs.id}`, 200, 1],
      ['obsRs', `/fhir/Patient/${icuPatient}`, 403, 'ACCESS_DENIED'],
      ['obsRs', '/fhir/Device', 403, 'ACCESS_DENIED'],
      ['obsR', `/fhir/Observation/${icuObs.id}`, 200, 1],
      ['obsR', searchIcu, 403, 'ACCESS_DENIED'],
      ['obsS', searchIcu, 200, 12],
      ['obsS', `/fhir/Observation/${icuObs.id}`, 403, 'ACCESS_DENIED'],
      ['patientCtx', searchIcu, 403, 'ACCESS_DENIED'],
      ['userCtx', searchIcu, 403, 'ACCESS_DENIED'],
      ['allRs', `/fhir/Patient/${ccuPatient}`, 200, 1],
      ['allRs', '/fhir/Device', 200, 2],
      ['allRs', '/fhir/AuditEvent?_count=1', 403, 'ACCESS_DENIED'],
      ['clientIcu', searchIcu, 200, 12],
      ['clientIcu', searchCcu, 200, 0],
      ['clientIcu', `/fhir/Observation/${ccuObs.id}`, 403, 'ACCESS_CARE_UNIT_DENIED'],
      ['clientIcu', `/fhir/Patient/${ccuPatient}`, 403, 'ACCESS_CARE_UNIT_DENIED'],
      ['clientIcu', '/fhir/Device', 200, 1],
      ['analyst', searchIcu, 403, 'ACCESS_DENIED'],
      ['analyst', '/fhir/Device', 200, 2],
      ['analyst', '/fhir/AuditEvent?_count=1', 200, 1],
      ['clinicianIcu', searchIcu, 200, 12],
      ['clinicianIcu', searchCcu, 200, 0],
      ['clinicianIcu', `/fhir/Observation/${icuObs.id}`, 200, 1],
      ['clinicianIcu', `/fhir/Observation/${ccuObs.id}`, 403, 'ACCESS_CARE_UNIT_DENIED'],
      ['clinicianIcu', `/fhir/Patient/${icuPatient}`, 200, 1],
      ['clinicianIcu', `/fhir/Patient/${ccuPatient}`, 403, 'ACCESS_CARE_UNIT_DENIED'],
      ['clinicianIcu', '/fhir/Device/mon-ccu-7', 403, 'ACCESS_CARE_UNIT_DENIED'],
      ['clinicianIcu', '/fhir/Device', 200, 1],
      ['clinicianIcu', '/fhir/AuditEvent', 403, 'ACCESS_DENIED'],
      ['auditor', searchIcu, 403, 'ACCESS_DENIED'],
      ['auditor', '/fhir/AuditEvent?_count=2', 200, 2],
    ];
    // The same tokens on the REST API: scopes of another context (patient/, user/ for a client)
    // grant nothing there either, and a client registered for care units is held to them.
    const from = new Date(now - 86_400_000).toISOString();
    const icuTelemetry = `/api/v1/devices/mon-icu-7/telemetry?from=${from}`;
    const ccuTelemetry = `/api/v1/devices/mon-ccu-7/telemetry?from=${from}`;
    const api: Array<[Who, string, number, string | number]> = [
      ['obsRs', icuTelemetry, 200, 12],
      ['patientCtx', icuTelemetry, 403, 'ACCESS_DENIED'],
      ['patientCtx', `/api/v1/patients/${icuPatient}/telemetry?from=${from}`, 403, 'ACCESS_DENIED'],
      ['obsRs', `/api/v1/patients/${icuPatient}/telemetry?from=${from}`, 200, 12],
      ['patientCtx', '/api/v1/devices', 403, 'ACCESS_DENIED'],
      ['userCtx', icuTelemetry, 403, 'ACCESS_DENIED'],
      ['clientIcu', icuTelemetry, 200, 12],
      ['clientIcu', ccuTelemetry, 403, 'ACCESS_CARE_UNIT_DENIED'],
      ['clientIcu', '/api/v1/devices', 200, 1],
      ['allRs', ccuTelemetry, 200, 3],
      ['allRs', '/api/v1/devices', 200, 2],
    ];
    const requests = new Map<Who, string[]>();
    for (const [who, url, status, expected] of [...matrix, ...api]) {
      const res = await fhir(t.app, 'GET', url, { token: principals[who].token });
      const label = `${who} GET ${url}`;
      expect(res.status, `${label}: ${JSON.stringify(res.body).slice(0, 300)}`).toBe(status);
      const body = res.body as Record<string, unknown>;
      if (typeof expected === 'string')
        expect(url.startsWith('/fhir') ? outcomeCode(res.body as OperationOutcome) : body.code, label).toBe(
          expected,
        );
      else if (res.body.resourceType === 'Bundle')
        expect(matches(res.body as Bundle), label).toHaveLength(expected);
      else if (url.startsWith('/api')) {
        const items = (body.items ?? body.readings ?? body.observations) as unknown[] | undefined;
        expect(items, `${label}: ${JSON.stringify(body).slice(0, 300)}`).toHaveLength(expected);
      }
      // Listing the inventory is not a read of patient data: only its refusals are audited.
      if (url === '/api/v1/devices' && status === 200) continue;
      requests.set(who, [...(requests.get(who) ?? []), String(res.headers['x-request-id'])]);
    }
    // Every one of those requests, allowed or refused, is in the audit log as seen through FHIR.
    for (const [who, ids] of requests) {
      const res = await fhir(t.app, 'GET', `/fhir/AuditEvent?agent=${principals[who].id}&_count=1000`, {
        token: t.adminToken,
      });
      expect(res.status).toBe(200);
      // Every event shape (BALP query/read, access refusals, token requests) validates too.
      for (const e of matches(res.body as Bundle)) expect(fhirIssues(e)).toEqual([]);
      const logged = new Set(
        matches<
          Resource & { entity?: Array<{ what?: { identifier?: { system?: string; value?: string } } }> }
        >(res.body as Bundle).flatMap((e) =>
          (e.entity ?? [])
            .filter((x) => x.what?.identifier?.system === 'urn:pulsegate:request-id')
            .map((x) => x.what?.identifier?.value),
        ),
      );
      for (const id of ids) expect(logged.has(id), `${who} request ${id}`).toBe(true);
    }
  });
});
