import { Type as T } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { Principal, ResourceScope } from '../access/index.js';
import { requirePrincipal } from '../http/index.js';
import { requireInstant } from '../instant.js';
import type { Binding, PatientAudit, PatientBindings } from './patient-bindings.js';
import { patientIdOf } from './patient-ref.js';

export interface PatientRoutesDeps {
  patients: PatientBindings;
  devices: { getRow(id: string): Promise<{ id: string; care_unit: string | null }> };
  access: { checkResource(principal: Principal, scope: ResourceScope): void };
  audit: PatientAudit;
}

const DeviceId = T.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$' });
const BindingId = T.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' });
const DateTime = T.String({ format: 'date-time', maxLength: 40 });
export const PatientId = T.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[^\\s\\u0000-\\u001f\\u007f]([^\\u0000-\\u001f\\u007f]*[^\\s\\u0000-\\u001f\\u007f])?$',
  description: 'Patient identifier (MRN, HL7 PID-3)',
});

const BindingView = T.Object(
  {
    id: T.String(),
    deviceId: T.String(),
    from: T.String({ format: 'date-time' }),
    until: T.Union([T.String({ format: 'date-time' }), T.Null()]),
    createdAt: T.String({ format: 'date-time' }),
    createdBy: T.String(),
    patientRef: T.String({ description: 'patient reference (hex of the blind index), for URLs' }),
  },
  { additionalProperties: false },
);
const BindingWithPatientView = T.Object(
  { ...BindingView.properties, patientId: T.String() },
  { additionalProperties: false },
);
const Params = T.Object({ id: DeviceId }, { additionalProperties: false });
const EndParams = T.Object({ id: DeviceId, bindingId: BindingId }, { additionalProperties: false });
const BindBody = T.Object(
  { patientId: PatientId, from: T.Optional(DateTime), until: T.Optional(T.Union([DateTime, T.Null()])) },
  { additionalProperties: false },
);
const EndBody = T.Object({ at: T.Optional(DateTime) }, { additionalProperties: false });

const iso = (ms: number) => new Date(ms).toISOString();
const view = (b: Binding) => ({
  id: b.id,
  deviceId: b.deviceId,
  from: iso(b.from),
  until: b.until === null ? null : iso(b.until),
  createdAt: iso(b.createdAt),
  createdBy: b.createdBy,
  patientRef: patientIdOf(b.patientIndex),
});

function actorOf(p: Principal) {
  return { type: p.kind, id: p.id, name: p.name, role: p.role };
}

/**
 * Patient bindings of a device. Creating and ending need devices:write and never echo the patient
 * identifier; listing needs patients:read, returns identifiers decrypted and is audited
 * (`patient.read`, by blind index) before the response leaves.
 */
export function patientRoutes(deps: PatientRoutesDeps): FastifyPluginAsync {
  const deviceInScope = async (principal: Principal, id: string) => {
    const device = await deps.devices.getRow(id);
    deps.access.checkResource(principal, { careUnit: device.care_unit, deviceId: device.id });
  };

  return async (app) => {
    app.post(
      '/api/v1/patients/lookup',
      {
        config: { access: 'patients:read' },
        schema: {
          tags: ['patients'],
          summary: "A patient's reference, from its identifier",
          description:
            'The reference (hex of the blind index; also the FHIR Patient id) names the patient in ' +
            'URLs such as `/api/v1/patients/{id}/telemetry`, so the identifier travels only in a body.',
          body: T.Object({ identifier: PatientId }, { additionalProperties: false }),
          response: {
            200: T.Object(
              { id: T.String({ description: 'patient reference' }) },
              { additionalProperties: false },
            ),
          },
        },
      },
      async (request) => {
        const principal = requirePrincipal(request.principal);
        const { identifier } = request.body as { identifier: string };
        // Only the keyed hash of the identifier: it says nothing about the patient, not even whether
        // a device measures them (which could lie beyond a care-unit limited caller's units).
        const index = deps.patients.patientIndex(identifier);
        await deps.audit.append({
          actor: actorOf(principal),
          action: 'patient.lookup',
          resource: { type: 'patient', id: index },
          outcome: 'success',
          ...(principal.breakGlass ? { breakGlass: true } : {}),
        });
        return { id: patientIdOf(index) };
      },
    );

    app.post(
      '/api/v1/devices/:id/bindings',
      {
        config: { access: 'devices:write' },
        schema: {
          tags: ['patients'],
          summary: 'Bind a device to a patient',
          params: Params,
          body: BindBody,
          response: { 201: BindingView },
        },
      },
      async (request, reply) => {
        const principal = requirePrincipal(request.principal);
        const { id } = request.params as { id: string };
        const body = request.body as { patientId: string; from?: string; until?: string | null };
        await deviceInScope(principal, id);
        const binding = await deps.patients.bind(
          id,
          {
            patientId: body.patientId,
            from: body.from === undefined ? undefined : requireInstant(body.from, 'from'),
            until: body.until == null ? null : requireInstant(body.until, 'until'),
          },
          principal,
        );
        reply.status(201);
        return view(binding);
      },
    );

    app.get(
      '/api/v1/devices/:id/bindings',
      {
        config: { access: 'patients:read' },
        schema: {
          tags: ['patients'],
          summary: "A device's patient bindings",
          params: Params,
          response: {
            200: T.Object({ items: T.Array(BindingWithPatientView) }, { additionalProperties: false }),
          },
        },
      },
      async (request) => {
        const principal = requirePrincipal(request.principal);
        const { id } = request.params as { id: string };
        await deviceInScope(principal, id);
        const bindings = await deps.patients.list(id);
        for (const index of new Set(bindings.map((b) => b.patientIndex))) {
          await deps.audit.append({
            actor: actorOf(principal),
            action: 'patient.read',
            resource: { type: 'patient', id: index },
            outcome: 'success',
            reason: `bindings of device ${id}`,
            ...(principal.breakGlass ? { breakGlass: true } : {}),
          });
        }
        return { items: bindings.map((b) => ({ ...view(b), patientId: b.patientId })) };
      },
    );

    app.post(
      '/api/v1/devices/:id/bindings/:bindingId/end',
      {
        config: { access: 'devices:write' },
        schema: {
          tags: ['patients'],
          summary: 'End a patient binding',
          params: EndParams,
          body: T.Optional(EndBody),
          response: { 200: BindingView },
        },
      },
      async (request) => {
        const principal = requirePrincipal(request.principal);
        const { id, bindingId } = request.params as { id: string; bindingId: string };
        const at = (request.body as { at?: string } | undefined)?.at;
        await deviceInScope(principal, id);
        const ended = await deps.patients.end(
          id,
          bindingId,
          at === undefined ? undefined : requireInstant(at, 'at'),
          principal,
        );
        return view(ended);
      },
    );
  };
}
