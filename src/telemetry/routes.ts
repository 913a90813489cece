import { Type as T } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { type Principal, type ResourceScope, readableCareUnits } from '../access/index.js';
import { PulsegateError } from '../errors.js';
import { type HttpAudit, requirePrincipal } from '../http/index.js';
import { blindIndexOf, type PatientBindings } from '../patients/index.js';
import type { TelemetryQuery } from './telemetry-reader.js';
import type { TelemetryService } from './telemetry-service.js';

export interface TelemetryRoutesDeps {
  telemetry: TelemetryService;
  patients: PatientBindings;
  devices: { getRow(id: string): Promise<{ id: string; care_unit: string | null }> };
  access: { checkResource(principal: Principal, scope: ResourceScope): void };
  audit: HttpAudit;
  /** The clock break-glass expiry is judged by (default `Date.now`). */
  now?: () => number;
}

/** The reading-level rule, as the OpenAPI descriptions state it. */
const READINGS_KEPT =
  'sees only the readings taken while the device was in one of them: each reading keeps the care unit ' +
  'its device was in when it was stored (unless break-glass is active).';

const DateTime = T.String({ format: 'date-time', maxLength: 40 });
const Query = T.Object(
  {
    from: T.Optional(DateTime),
    to: T.Optional(DateTime),
    code: T.Optional(T.String({ minLength: 1, maxLength: 80, pattern: '^[A-Za-z0-9_.|:-]+$' })),
    limit: T.Optional(T.Integer({ minimum: 1, maximum: 5000, default: 500 })),
  },
  { additionalProperties: false },
);
const Observation = T.Object(
  {
    deviceId: T.String(),
    seq: T.Integer(),
    time: T.String({ format: 'date-time' }),
    kind: T.String(),
    display: T.String(),
    code: T.Object(
      { system: T.Union([T.Literal('LOINC'), T.Literal('MDC')]), code: T.String() },
      { additionalProperties: false },
    ),
    value: T.Number(),
    unit: T.String(),
    flags: T.Array(T.String()),
  },
  { additionalProperties: false },
);
const Alarm = T.Object(
  {
    deviceId: T.String(),
    seq: T.Integer(),
    time: T.String({ format: 'date-time' }),
    code: T.String(),
    priority: T.String(),
    kind: T.String(),
  },
  { additionalProperties: false },
);
const Page = (extra: Record<string, ReturnType<typeof T.Boolean>>) =>
  T.Object(
    { observations: T.Array(Observation), alarms: T.Array(Alarm), ...extra },
    { additionalProperties: false },
  );
const DevicePage = Page({
  partial: T.Boolean({
    description: 'Readings in the range were left out: taken while the device was in another care unit',
  }),
});
const PatientPage = Page({
  partial: T.Boolean({
    description:
      'Some bound devices were left out (outside the caller’s care units), or readings taken in another care unit',
  }),
});

function toQuery(q: { from?: string; to?: string; code?: string; limit?: number }): TelemetryQuery {
  const query: TelemetryQuery = { limit: q.limit ?? 500 };
  if (q.from !== undefined) query.from = Date.parse(q.from);
  if (q.to !== undefined) query.to = Date.parse(q.to);
  if (q.code !== undefined) query.code = q.code;
  if (query.from !== undefined && query.to !== undefined && query.to <= query.from) {
    throw new PulsegateError('VALIDATION_FAILED', 'to must be after from', {
      fields: [{ pointer: 'to', problem: 'must be after from' }],
    });
  }
  return query;
}

const actorOf = (p: Principal) => ({ type: p.kind, id: p.id, name: p.name, role: p.role });

/**
 * Telemetry reads. Authorised by role (telemetry:read) and by care unit: the device must be in one
 * of a limited caller's units now, and only readings taken while it was in one of them are
 * returned (a device moved from ICU to a ward does not show the ward its ICU readings). Every
 * read is written to the audit log, with references only, before the response is sent.
 */
export function telemetryRoutes(deps: TelemetryRoutesDeps): FastifyPluginAsync {
  const now = deps.now ?? Date.now;
  const limitedTo = (principal: Principal, query: TelemetryQuery): TelemetryQuery => {
    const careUnits = readableCareUnits(principal, now());
    return careUnits ? { ...query, careUnits } : query;
  };
  return async (app) => {
    app.get(
      '/api/v1/devices/:id/telemetry',
      {
        config: { access: 'telemetry:read' },
        schema: {
          tags: ['telemetry'],
          summary: "A device's observations, newest first",
          description: `A care-unit limited caller (clinician, client registered for care units) needs the device in one of its units, and ${READINGS_KEPT}`,
          params: T.Object(
            { id: T.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$' }) },
            { additionalProperties: false },
          ),
          querystring: Query,
          response: { 200: DevicePage },
        },
      },
      async (request) => {
        const principal = requirePrincipal(request.principal);
        const { id } = request.params as { id: string };
        const query = toQuery(request.query as never);
        const device = await deps.devices.getRow(id);
        deps.access.checkResource(principal, { careUnit: device.care_unit, deviceId: device.id });
        const page = await deps.telemetry.readDevice(id, limitedTo(principal, query));
        await deps.audit.append({
          actor: actorOf(principal),
          action: 'telemetry.read',
          resource: { type: 'device', id },
          outcome: 'success',
          reason: `${page.observations.length} observations`,
          requestId: request.id,
          ...(principal.breakGlass ? { breakGlass: true } : {}),
        });
        const { withheld, ...rest } = page;
        return { ...rest, partial: withheld === true };
      },
    );

    app.get(
      '/api/v1/patients/:id/telemetry',
      {
        config: { access: 'telemetry:read' },
        schema: {
          tags: ['telemetry'],
          summary: "A patient's observations from every device bound to them, newest first",
          description:
            'The patient is named by its reference (the FHIR Patient id: hex of the blind index, from ' +
            '`POST /api/v1/patients/lookup` or a binding), never by its identifier: no MRN in a URL. ' +
            'A care-unit limited caller gets the devices now in its units (`partial` when others were ' +
            `left out), and ${READINGS_KEPT}`,
          params: T.Object(
            { id: T.String({ pattern: '^[0-9a-f]{64}$', description: 'patient reference' }) },
            { additionalProperties: false },
          ),
          querystring: Query,
          response: { 200: PatientPage },
        },
      },
      async (request) => {
        const principal = requirePrincipal(request.principal);
        const { id } = request.params as { id: string };
        const query = toQuery(request.query as never);
        const patientIndex = blindIndexOf(id)!;
        const bindings = await deps.patients.devicesForIndex(patientIndex, {
          from: query.from,
          to: query.to,
        });
        const allowed: string[] = [];
        let denied: PulsegateError | undefined;
        for (const deviceId of new Set(bindings.map((b) => b.deviceId))) {
          try {
            const device = await deps.devices.getRow(deviceId);
            deps.access.checkResource(principal, { careUnit: device.care_unit, deviceId });
            allowed.push(deviceId);
          } catch (error) {
            if (!(error instanceof PulsegateError)) throw error;
            if (error.code !== 'DEVICE_NOT_FOUND') denied = error;
          }
        }
        // Bound devices exist but none is within the caller's reach: refuse (audited by the HTTP layer).
        if (allowed.length === 0 && denied) throw denied;
        const page = await deps.telemetry.readPatient(patientIndex, allowed, limitedTo(principal, query));
        await deps.audit.append({
          actor: actorOf(principal),
          action: 'patient.read',
          resource: { type: 'patient', id: patientIndex },
          outcome: 'success',
          reason: `telemetry: ${page.observations.length} observations from ${allowed.length} devices`,
          requestId: request.id,
          ...(principal.breakGlass ? { breakGlass: true } : {}),
        });
        const { withheld, ...rest } = page;
        return { ...rest, partial: denied !== undefined || withheld === true };
      },
    );
  };
}
