import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Principal } from '../access/index.js';
import { isPulsegateError, PulsegateError } from '../errors.js';
import { patientIdOf, patientRoutes } from '../patients/index.js';
import { DIALECTS } from '../testing/stores.js';
import { telemetryRoutes } from './routes.js';
import { deviceId, message, payload, T0, type TelemetryFixture, telemetryFixture } from './test-fixture.js';

const principal = (role: Principal['role'], careUnits: string[] = []): Principal => ({
  kind: 'user',
  id: `u-${role}`,
  name: role,
  role,
  careUnits,
  vendorDevices: [],
  scopes: [],
});

describe('telemetry and patient routes', () => {
  let fx: TelemetryFixture;
  let app: FastifyInstance;
  let as: Principal;

  beforeEach(async () => {
    fx = await telemetryFixture(DIALECTS[0]!.open);
    app = Fastify();
    // Stand-ins for the HTTP layer: the authenticated principal and problem codes.
    app.addHook('onRequest', async (request) => {
      request.principal = as;
    });
    app.setErrorHandler((error, _request, reply) => {
      if (isPulsegateError(error)) return reply.status(error.status).send({ code: error.code });
      const status = (error as { statusCode?: number }).statusCode ?? 500;
      return reply.status(status).send({ code: status === 400 ? 'VALIDATION_FAILED' : 'INTERNAL' });
    });
    // The care-unit rule of access/policy.ts for clinicians (without break-glass).
    const access = {
      checkResource(p: Principal, scope: { careUnit?: string | null }) {
        if (p.role === 'clinician' && !p.careUnits.includes(scope.careUnit ?? '\u0000'))
          throw new PulsegateError('ACCESS_CARE_UNIT_DENIED');
      },
    };
    const devices = { getRow: (id: string) => fx.devices.getRow(id) };
    await app.register(
      telemetryRoutes({ telemetry: fx.telemetry, patients: fx.patients, devices, access, audit: fx.audit }),
    );
    await app.register(patientRoutes({ patients: fx.patients, devices, access, audit: fx.audit }));
    await app.ready();
  });

  afterEach(async () => {
    await app.close();
    await fx.cleanup();
  });

  it('binds, lists with decrypted ids (audited by blind index), and serves patient and device telemetry', async () => {
    as = principal('admin');
    const bind = await app.inject({
      method: 'POST',
      url: `/api/v1/devices/${deviceId(0)}/bindings`,
      payload: { patientId: 'MRN-ROUTE-1', from: new Date(T0 - 60_000).toISOString() },
    });
    expect(bind.statusCode).toBe(201);
    expect(bind.body).not.toContain('MRN-ROUTE-1');
    const overlap = await app.inject({
      method: 'POST',
      url: `/api/v1/devices/${deviceId(0)}/bindings`,
      payload: { patientId: 'MRN-ROUTE-2' },
    });
    expect(overlap.json()).toEqual({ code: 'PATIENT_BINDING_CONFLICT' });
    await fx.telemetry.ingest([message(deviceId(0), payload(1))]);

    as = principal('clinician', ['icu']);
    const list = await app.inject({ url: `/api/v1/devices/${deviceId(0)}/bindings` });
    expect(list.json().items.map((b: { patientId: string }) => b.patientId)).toEqual(['MRN-ROUTE-1']);
    const index = fx.patients.patientIndex('MRN-ROUTE-1');
    expect(fx.audit.of('patient.read').at(-1)!.resource).toEqual({ type: 'patient', id: index });

    const ref = patientIdOf(index);
    // The identifier never goes in a URL: only the patient reference (hex of the blind index).
    expect(list.json().items[0].patientRef).toBe(ref);
    expect((await app.inject({ url: '/api/v1/patients/MRN-ROUTE-1/telemetry' })).statusCode).toBe(400);
    const byPatient = await app.inject({ url: `/api/v1/patients/${ref}/telemetry?code=spo2` });
    expect(byPatient.statusCode).toBe(200);
    expect(byPatient.json()).toMatchObject({ partial: false, observations: [{ kind: 'spo2', value: 97 }] });
    expect(fx.audit.of('patient.read').at(-1)).toMatchObject({ resource: { type: 'patient', id: index } });
    const byDevice = await app.inject({ url: `/api/v1/devices/${deviceId(0)}/telemetry?limit=2` });
    expect(byDevice.json().observations).toHaveLength(2);
    expect(fx.audit.of('telemetry.read').at(-1)!.resource).toEqual({ type: 'device', id: deviceId(0) });
    expect(JSON.stringify(fx.audit.events)).not.toContain('MRN-ROUTE');

    // Outside the clinician's care units: refused.
    as = principal('clinician', ['ward-3']);
    expect((await app.inject({ url: `/api/v1/devices/${deviceId(0)}/telemetry` })).json()).toEqual({
      code: 'ACCESS_CARE_UNIT_DENIED',
    });
    expect((await app.inject({ url: `/api/v1/patients/${ref}/telemetry` })).json()).toEqual({
      code: 'ACCESS_CARE_UNIT_DENIED',
    });

    // Ending the binding.
    as = principal('admin');
    const id = list.json().items[0].id;
    const ended = await app.inject({
      method: 'POST',
      url: `/api/v1/devices/${deviceId(0)}/bindings/${id}/end`,
      payload: {},
    });
    expect(ended.statusCode).toBe(200);
    expect(ended.json().until).not.toBeNull();
  });

  it('validates query strings and refuses unknown codes', async () => {
    as = principal('admin');
    expect((await app.inject({ url: `/api/v1/devices/${deviceId(0)}/telemetry?limit=0` })).statusCode).toBe(
      400,
    );
    expect((await app.inject({ url: `/api/v1/devices/${deviceId(0)}/telemetry?code=nope` })).json()).toEqual({
      code: 'TELEMETRY_UNKNOWN_CODE',
    });
  });
});
