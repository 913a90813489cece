import { Type as T } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import {
  breakGlassActive,
  isCareUnitLimited,
  type Permission,
  type Principal,
  type ResourceScope,
} from '../access/index.js';
import { PulsegateError } from '../errors.js';
import { requirePrincipal } from '../http/index.js';
import type { AlertActor, AlertViewer } from './alert-model.js';
import { type AlertChange, type AlertQuery, narrowedIncident } from './alert-store.js';
import { ALERT_CATEGORIES, ALERT_SEVERITIES, ALERT_STATES } from './contracts.js';
import { FLEET_CHECKS } from './fleet-checks.js';
import type { Monitor } from './monitor-service.js';

export interface MonitorRoutesDeps {
  monitor: Monitor;
  access: {
    authorize(principal: Principal, permission: Permission): void;
    checkResource(principal: Principal, scope: ResourceScope): void;
  };
}

const literals = (values: readonly string[]) => T.Union(values.map((v) => T.Literal(v)));
const Id = T.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' });
const DeviceId = T.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$' });
const RuleName = T.String({ pattern: '^[a-z][a-z0-9-]*(\\.[a-z0-9][a-z0-9-]*)+$', maxLength: 100 });
const DateTime = T.String({ format: 'date-time', maxLength: 40 });
const Reason = T.String({ maxLength: 500 });
const Params = T.Object({ id: Id }, { additionalProperties: false });
const Evidence = T.Object({}, { additionalProperties: true });

const AlertViewSchema = T.Object(
  {
    id: T.String(),
    category: literals(ALERT_CATEGORIES),
    severity: literals(ALERT_SEVERITIES),
    rule: T.String(),
    title: T.String(),
    deviceId: T.Union([T.String(), T.Null()]),
    careUnit: T.Union([T.String(), T.Null()]),
    patientId: T.Optional(T.String()),
    state: literals(ALERT_STATES),
    count: T.Integer(),
    firstSeenAt: T.String({ format: 'date-time' }),
    lastSeenAt: T.String({ format: 'date-time' }),
    incidentId: T.Union([T.String(), T.Null()]),
    escalationLevel: T.Integer(),
    evidence: T.Optional(Evidence),
    history: T.Optional(
      T.Array(
        T.Object(
          {
            change: T.String(),
            actor: T.String(),
            reason: T.Union([T.String(), T.Null()]),
            /** A person's reason this viewer may not read (it may name the patient). */
            restricted: T.Optional(T.Boolean()),
            at: T.String({ format: 'date-time' }),
          },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false },
);
const AlertList = T.Object(
  { items: T.Array(AlertViewSchema), next: T.Union([T.String(), T.Null()]) },
  { additionalProperties: false },
);
const AlertListQuery = T.Object(
  {
    state: T.Optional(literals(ALERT_STATES)),
    severity: T.Optional(literals(ALERT_SEVERITIES)),
    category: T.Optional(literals(ALERT_CATEGORIES)),
    deviceId: T.Optional(DeviceId),
    since: T.Optional(DateTime),
    limit: T.Optional(T.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: T.Optional(T.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$' })),
  },
  { additionalProperties: false },
);
const ChangeBody = T.Object({ reason: T.Optional(Reason) }, { additionalProperties: false });
const Incident = T.Object(
  {
    id: T.String(),
    title: T.String(),
    severity: literals(ALERT_SEVERITIES),
    state: literals(['open', 'resolved']),
    alertCount: T.Integer(),
    deviceIds: T.Array(T.String()),
    openedAt: T.String({ format: 'date-time' }),
    updatedAt: T.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
const IncidentWithAlerts = T.Object(
  { ...Incident.properties, alerts: T.Array(AlertViewSchema) },
  { additionalProperties: false },
);
const Suppression = T.Object(
  {
    id: T.String(),
    rule: T.Union([T.String(), T.Null()]),
    deviceId: T.Union([T.String(), T.Null()]),
    reason: T.String(),
    createdBy: T.String(),
    createdAt: T.String({ format: 'date-time' }),
    expiresAt: T.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
const SuppressionCreate = T.Object(
  {
    rule: T.Optional(RuleName),
    deviceId: T.Optional(DeviceId),
    reason: T.String({ minLength: 1, maxLength: 500 }),
    expiresAt: DateTime,
  },
  { additionalProperties: false },
);
const CheckBody = T.Object(
  {
    checks: T.Optional(
      T.Array(literals(FLEET_CHECKS), { minItems: 1, maxItems: FLEET_CHECKS.length, uniqueItems: true }),
    ),
  },
  { additionalProperties: false },
);
const CheckResult = T.Object(
  {
    ranAt: T.String({ format: 'date-time' }),
    findings: T.Array(
      T.Object(
        {
          check: T.String(),
          rule: T.String(),
          deviceId: T.Union([T.String(), T.Null()]),
          title: T.String(),
          outcome: T.String(),
          alertId: T.Optional(T.String()),
          evidence: Evidence,
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/** The alert-store viewer for a principal: care-unit limits, and whether it may read patients. */
export function viewerOf(p: Principal, access: MonitorRoutesDeps['access']): AlertViewer {
  const limited = isCareUnitLimited(p) && !breakGlassActive(p, Date.now());
  return {
    ...(limited ? { careUnits: p.careUnits } : {}),
    mayReadPatient(careUnit) {
      try {
        access.authorize(p, 'patients:read');
        access.checkResource(p, { careUnit });
        return true;
      } catch {
        return false;
      }
    },
    audit: { type: p.kind, id: p.id, name: p.name, role: p.role },
    ...(p.breakGlass ? { breakGlass: true } : {}),
  };
}

export function actorOf(p: Principal): AlertActor {
  return {
    id: p.id,
    name: p.name,
    audit: { type: p.kind, id: p.id, name: p.name, role: p.role },
    ...(p.breakGlass ? { breakGlass: true } : {}),
  };
}

const CHANGES: Array<{ path: string; change: AlertChange; summary: string }> = [
  { path: 'acknowledge', change: 'acknowledged', summary: 'Acknowledge an alert' },
  { path: 'resolve', change: 'resolved', summary: 'Resolve an alert (reason required)' },
  {
    path: 'false-positive',
    change: 'false-positive',
    summary: 'Mark an alert a false positive (reason required)',
  },
];

/** `/api/v1/alerts`, `/api/v1/incidents` and `/api/v1/monitor/*` (monitor HTTP contract). */
export function monitorRoutes(deps: MonitorRoutesDeps): FastifyPluginAsync {
  const { monitor, access } = deps;
  const viewer = (p: Principal | undefined) => viewerOf(requirePrincipal(p), access);
  return async (app) => {
    app.get(
      '/api/v1/alerts',
      {
        config: { access: 'alerts:read' },
        schema: {
          tags: ['alerts'],
          summary: 'List alerts, newest first',
          querystring: AlertListQuery,
          response: { 200: AlertList },
        },
      },
      async (request) => monitor.alerts.list(request.query as AlertQuery, viewer(request.principal)),
    );

    app.get(
      '/api/v1/alerts/:id',
      {
        config: { access: 'alerts:read' },
        schema: {
          tags: ['alerts'],
          summary: 'Get an alert with evidence and history',
          params: Params,
          response: { 200: AlertViewSchema },
        },
      },
      async (request) => monitor.alerts.get((request.params as { id: string }).id, viewer(request.principal)),
    );

    for (const c of CHANGES)
      app.post(
        `/api/v1/alerts/:id/${c.path}`,
        {
          config: { access: 'alerts:write' },
          schema: {
            tags: ['alerts'],
            summary: c.summary,
            params: Params,
            body: ChangeBody,
            response: { 200: AlertViewSchema },
          },
        },
        async (request) => {
          const principal = requirePrincipal(request.principal);
          const { reason } = (request.body ?? {}) as { reason?: string };
          return monitor.alerts.change(
            (request.params as { id: string }).id,
            c.change,
            actorOf(principal),
            reason ?? null,
            viewerOf(principal, access),
          );
        },
      );

    app.get(
      '/api/v1/incidents',
      {
        config: { access: 'alerts:read' },
        schema: {
          tags: ['alerts'],
          summary: 'List incidents (related alerts grouped)',
          querystring: T.Object(
            { state: T.Optional(literals(['open', 'resolved'])) },
            { additionalProperties: false },
          ),
          response: { 200: T.Object({ items: T.Array(Incident) }, { additionalProperties: false }) },
        },
      },
      async (request) => ({
        items: await monitor.alerts.incidentsFor(
          request.query as { state?: string },
          viewer(request.principal),
        ),
      }),
    );

    app.get(
      '/api/v1/incidents/:id',
      {
        config: { access: 'alerts:read' },
        schema: {
          tags: ['alerts'],
          summary: 'Get an incident with its alerts',
          params: Params,
          response: { 200: IncidentWithAlerts },
        },
      },
      async (request) => {
        const id = (request.params as { id: string }).id;
        const v = viewer(request.principal);
        const incident = await monitor.alerts.incidents.get(id);
        const alerts = await monitor.alerts.alertsOf(id, v);
        if (!v.careUnits) return { ...incident, alerts };
        // A limited viewer learns of the incident only what its own alerts show.
        if (alerts.length === 0) throw new PulsegateError('INCIDENT_NOT_FOUND');
        return { ...narrowedIncident(incident, alerts), alerts };
      },
    );

    app.get(
      '/api/v1/monitor/suppressions',
      {
        config: { access: 'alerts:read' },
        schema: {
          tags: ['alerts'],
          summary: 'List active suppression windows',
          response: { 200: T.Object({ items: T.Array(Suppression) }, { additionalProperties: false }) },
        },
      },
      async (request) => ({
        items: await monitor.alerts.suppressions.list(false, viewer(request.principal).careUnits),
      }),
    );

    app.post(
      '/api/v1/monitor/suppressions',
      {
        config: { access: 'monitor:admin' },
        schema: {
          tags: ['alerts'],
          summary: 'Suppress a rule and/or device until a time',
          body: SuppressionCreate,
          response: { 201: Suppression },
        },
      },
      async (request, reply) => {
        const created = await monitor.alerts.suppressions.create(
          request.body as { rule?: string; deviceId?: string; reason: string; expiresAt: string },
          actorOf(requirePrincipal(request.principal)),
        );
        reply.status(201);
        return created;
      },
    );

    app.delete(
      '/api/v1/monitor/suppressions/:id',
      {
        config: { access: 'monitor:admin' },
        schema: {
          tags: ['alerts'],
          summary: 'End a suppression window',
          params: Params,
          response: { 204: T.Null() },
        },
      },
      async (request, reply) => {
        await monitor.alerts.suppressions.remove(
          (request.params as { id: string }).id,
          actorOf(requirePrincipal(request.principal)),
        );
        reply.status(204);
        return null;
      },
    );

    app.post(
      '/api/v1/monitor/checks',
      {
        config: { access: 'monitor:admin' },
        schema: {
          tags: ['alerts'],
          summary: 'Run the fleet audit checks now',
          body: T.Optional(CheckBody),
          response: { 200: CheckResult },
        },
      },
      async (request) => {
        const at = Date.now();
        const body = (request.body ?? {}) as { checks?: string[] };
        const findings = await monitor.runChecks({
          ...(body.checks ? { only: body.checks } : {}),
          at,
          actor: actorOf(requirePrincipal(request.principal)),
        });
        return {
          ranAt: new Date(at).toISOString(),
          findings: findings.map((f) => ({
            check: f.check,
            rule: f.rule,
            deviceId: f.deviceId,
            title: f.title,
            outcome: f.outcome ?? 'off',
            ...(f.alertId ? { alertId: f.alertId } : {}),
            evidence: f.evidence,
          })),
        };
      },
    );

    app.post(
      '/api/v1/monitor/rules/reload',
      {
        config: { access: 'monitor:admin' },
        schema: {
          tags: ['alerts'],
          summary: 'Reload the detection rules file',
          response: {
            200: T.Object({ source: T.String(), rules: T.Integer() }, { additionalProperties: false }),
          },
        },
      },
      async (request) => {
        const r = await monitor.reloadRules(actorOf(requirePrincipal(request.principal)));
        return { source: r.source.split('/').pop() ?? r.source, rules: r.rules };
      },
    );
  };
}
