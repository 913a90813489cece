import { Type as T } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { Principal, ResourceScope } from '../../access/index.js';
import { PulsegateError } from '../../errors.js';
import { type HttpAudit, requirePrincipal } from '../../http/index.js';
import { type PatientReachDeps, patientReach } from '../../patients/index.js';
import type { ClinicalMonitor } from './clinical-monitor.js';
import type { PatientSettings } from './patient-settings.js';

export interface ClinicalRoutesDeps {
  monitor: ClinicalMonitor;
  settings: PatientSettings;
  patients: PatientReachDeps['patients'] & { patientIndex(patientId: string): string };
  devices: PatientReachDeps['devices'];
  telemetry: PatientReachDeps['telemetry'];
  access: { checkResource(principal: Principal, scope: ResourceScope): void };
  audit: HttpAudit;
}

const Score = T.Union([T.Integer({ minimum: 0, maximum: 3 }), T.Null()]);
const Level = T.Union([T.Literal('low'), T.Literal('low-medium'), T.Literal('medium'), T.Literal('high')]);
const TriageItem = T.Object(
  {
    patientId: T.String(),
    careUnit: T.Union([T.String(), T.Null()]),
    bed: T.Union([T.String(), T.Null()]),
    score: T.Integer({ minimum: 0, maximum: 20 }),
    level: Level,
    trend: T.Union([T.Literal('up'), T.Literal('down'), T.Literal('flat'), T.Null()]),
    components: T.Object(
      {
        respiratoryRate: Score,
        spo2: Score,
        airOrOxygen: Score,
        systolic: Score,
        pulse: Score,
        consciousness: Score,
        temperature: Score,
      },
      { additionalProperties: false },
    ),
    observedAt: T.String({ format: 'date-time' }),
    deviceIds: T.Array(T.String()),
    missing: T.Array(T.String(), {
      description: 'NEWS2 parameters without a recent value: the score is then a lower bound',
    }),
    spo2Scale: T.Union([T.Literal(1), T.Literal(2)]),
  },
  { additionalProperties: false },
);
const PatientId = T.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[^\\s\\u0000-\\u001f\\u007f]([^\\u0000-\\u001f\\u007f]*[^\\s\\u0000-\\u001f\\u007f])?$',
});

const actorOf = (p: Principal) => ({ type: p.kind, id: p.id, name: p.name, role: p.role });

/** The triage list and the per-patient NEWS2 settings. */
export function clinicalRoutes(deps: ClinicalRoutesDeps): FastifyPluginAsync {
  const reach = patientReach(deps);
  return async (app) => {
    app.get(
      '/api/v1/triage',
      {
        config: { access: 'patients:read' },
        schema: {
          tags: ['clinical'],
          summary: 'Patients with recent vitals ordered by NEWS2 acuity (level, score, most recent)',
          response: { 200: T.Object({ items: T.Array(TriageItem) }, { additionalProperties: false }) },
        },
      },
      async (request) => {
        const principal = requirePrincipal(request.principal);
        const items = deps.monitor.triage().filter((item) => {
          try {
            deps.access.checkResource(principal, { careUnit: item.careUnit });
            return true;
          } catch (error) {
            if (error instanceof PulsegateError) return false;
            throw error;
          }
        });
        await deps.audit.append({
          actor: actorOf(principal),
          action: 'patient.read',
          resource: { type: 'triage' },
          outcome: 'success',
          reason: `triage: ${items.length} patients`,
          requestId: request.id,
          ...(principal.breakGlass ? { breakGlass: true } : {}),
        });
        return { items: items.map((i) => ({ ...i, observedAt: new Date(i.observedAt).toISOString() })) };
      },
    );

    app.put(
      '/api/v1/clinical/news2-scale',
      {
        config: { access: 'patients:write' },
        schema: {
          tags: ['clinical'],
          summary:
            "Sets a patient's NEWS2 SpO2 scale (2 only for hypercapnic respiratory failure with a prescribed 88-92% target)",
          body: T.Object(
            {
              patientId: PatientId,
              spo2Scale: T.Union([T.Literal(1), T.Literal(2)]),
              reason: T.String({
                minLength: 1,
                maxLength: 500,
                pattern: '\\S',
                description: 'Why (required, not blank); may name the patient, so only its length is audited',
              }),
            },
            { additionalProperties: false },
          ),
          response: {
            200: T.Object(
              { spo2Scale: T.Union([T.Literal(1), T.Literal(2)]) },
              { additionalProperties: false },
            ),
          },
        },
      },
      async (request) => {
        const principal = requirePrincipal(request.principal);
        const body = request.body as { patientId: string; spo2Scale: 1 | 2; reason: string };
        const index = deps.patients.patientIndex(body.patientId);
        // The triage rule: a care-unit limited caller changes only patients of its units' devices.
        await reach.check(principal, index);
        const scale = await deps.settings.setSpo2Scale(index, body.spo2Scale, principal.id);
        // The reason may name the patient and there is no sealed store for it (unlike break-glass
        // reasons): only its length reaches the audit tree, which keeps no PHI.
        await deps.audit.append({
          actor: actorOf(principal),
          action: 'patient.news2-scale',
          resource: { type: 'patient', id: index },
          outcome: 'success',
          reason: `SpO2 scale ${scale}; reason of ${body.reason.trim().length} characters`,
          requestId: request.id,
          ...(principal.breakGlass ? { breakGlass: true } : {}),
        });
        await deps.monitor.refreshPatient(index);
        return { spo2Scale: scale };
      },
    );
  };
}
