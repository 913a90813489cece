/**
 * AuditEvent: the audit log as FHIR R4 AuditEvents in IHE BALP shape (`toFhirAuditEvent`), read by
 * id and searched by date, agent, entity and action. Patient references carry the hex blind
 * index, like Patient ids. Reading the log is itself audited.
 */
import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import { type AuditEntry, toFhirAuditEvent } from '../audit/index.js';
import { PulsegateError } from '../errors.js';
import { searchset } from './bundle.js';
import { auditBase, type FhirDeps, type FhirRequest } from './context.js';
import { decodeCursor, encodeCursor, searchFingerprint } from './cursor.js';
import { blindIndexOf, deviceKeyOf, patientIdOf } from './ids.js';
import { requireScope } from './scopes.js';
import { dateBounds, dateMatches, type ParamSpec, parseSearch } from './search-params.js';

export const AUDIT_EVENT_SEARCH: ParamSpec = {
  date: 'date',
  agent: 'reference',
  entity: 'reference',
  action: 'token',
  _count: 'number',
  _cursor: 'cursor',
};
const DEFAULT_COUNT = 50;
const ACTION_SYSTEM = 'http://hl7.org/fhir/audit-event-action';
/** Entries examined at most per request; a sparse search answers with a `next` link. */
const MAX_SCAN = 20_000;
const AGENT_TYPES = [
  'Practitioner',
  'PractitionerRole',
  'Device',
  'Organization',
  'Patient',
  'RelatedPerson',
];
const ENTITY_TYPES = ['Patient', 'Device', 'Observation', 'DeviceMetric', 'AuditEvent'];
const ID = /^pulsegate-audit-(\d{1,15})$/;

/** An audit entry as an AuditEvent, with patient references in the FHIR id form. */
export function toAuditEvent(entry: AuditEntry, observer: string): AuditEvent {
  const event = toFhirAuditEvent(entry, { observer }) as unknown as AuditEvent;
  for (const e of event.entity ?? []) {
    const ref = e.what?.reference;
    if (ref?.startsWith('Patient/')) e.what = { reference: `Patient/${patientIdOf(ref.slice(8))}` };
  }
  return event;
}

/** Does the entry touch one of the entity values (`Patient/<id>`, `Device/<id>` or a bare id)? */
function entityMatches(entry: AuditEntry, values: readonly string[], raw: readonly string[]): boolean {
  const r = entry.resource;
  const id = r?.id;
  if (!r || !id) return false;
  return values.some((v, i) => {
    const typed = raw[i]!.includes('/') ? raw[i]!.split('/')[0]! : undefined;
    if (typed === 'Patient' || (typed === undefined && r.type === 'patient'))
      return r.type === 'patient' && blindIndexOf(v) === r.id;
    if (typed !== undefined && typed.toLowerCase() !== r.type.toLowerCase()) return false;
    // A Device is named by its device key in FHIR (the id itself unless FHIR cannot hold it).
    return id === v || (r.type === 'device' && deviceKeyOf(id) === v);
  });
}

export function auditEventApi(deps: FhirDeps) {
  const now = deps.now ?? Date.now;
  const observer = new URL(deps.publicUrl).host;

  async function audit(req: FhirRequest, action: string, reason: string) {
    await deps.audit.append({ ...auditBase(req), action, resource: { type: 'audit-log' }, reason });
  }

  return {
    async read(req: FhirRequest, id: string): Promise<AuditEvent> {
      requireScope(req.principal, 'AuditEvent', 'r');
      const m = ID.exec(id);
      if (!m) throw new PulsegateError('FHIR_NOT_FOUND');
      const seq = Number(m[1]);
      const [entry] = await deps.audit.list({ after: seq - 1, limit: 1 });
      if (!entry || entry.seq !== seq) throw new PulsegateError('FHIR_NOT_FOUND');
      await audit(req, 'audit-event.read', `entry ${seq}`);
      return toAuditEvent(entry, observer);
    },

    async search(req: FhirRequest, query: Record<string, unknown>): Promise<Bundle> {
      requireScope(req.principal, 'AuditEvent', 's');
      const parsed = parseSearch(query, AUDIT_EVENT_SEARCH, {
        lenient: req.lenient,
        referenceTargets: { agent: AGENT_TYPES, entity: ENTITY_TYPES },
      });
      const count = parsed.numbers.get('_count') ?? DEFAULT_COUNT;
      const fingerprint = searchFingerprint('AuditEvent', parsed.accepted);
      const t = now();
      let after = parsed.cursor ? decodeCursor<number>(deps.keys, parsed.cursor, fingerprint, t) : -1;
      const dates = parsed.dates.get('date') ?? [];
      const bounds = dateBounds(dates);
      const agents = parsed.references.get('agent') ?? [];
      const single = agents.length === 1 && agents[0]!.length === 1 ? agents[0]![0] : undefined;
      const rawEntities = (query.entity === undefined ? [] : [query.entity].flat()).map(String);
      const entities = parsed.references.get('entity') ?? [];
      const actions = parsed.tokens.get('action') ?? [];
      const found: AuditEvent[] = [];
      let next: number | undefined;
      let scanned = 0;
      scan: for (;;) {
        const page = await deps.audit.list({
          after,
          limit: 1000,
          ...(single !== undefined ? { actor: single } : {}),
          ...(bounds.from !== undefined ? { since: new Date(bounds.from).toISOString() } : {}),
          ...(bounds.to !== undefined ? { until: new Date(bounds.to).toISOString() } : {}),
        });
        for (const entry of page) {
          scanned += 1;
          after = entry.seq;
          if (dates.length > 0 && !dateMatches(Date.parse(entry.time), dates)) continue;
          if (!agents.every((occ) => occ.includes(entry.actor.id ?? ''))) continue;
          if (!entities.every((occ, i) => entityMatches(entry, occ, (rawEntities[i] ?? '').split(','))))
            continue;
          const event = toAuditEvent(entry, observer);
          if (
            !actions.every((occ) =>
              occ.some(
                (a) =>
                  (a.system === undefined || a.system === ACTION_SYSTEM) &&
                  (a.code === undefined || a.code === event.action),
              ),
            )
          )
            continue;
          if (found.length === count) {
            next = entry.seq - 1;
            break scan;
          }
          found.push(event);
          if (scanned >= MAX_SCAN) {
            next = entry.seq;
            break scan;
          }
        }
        if (page.length < 1000) break;
        if (scanned >= MAX_SCAN) {
          next = after;
          break;
        }
      }
      await audit(req, 'audit-event.search', `${found.length} events`);
      return searchset({
        base: req.base,
        resourceType: 'AuditEvent',
        accepted: parsed.accepted,
        resources: found,
        ...(next !== undefined ? { next: encodeCursor(deps.keys, fingerprint, next, t) } : {}),
        ignored: parsed.ignored,
      });
    },
  };
}
