/**
 * FHIR R4 AuditEvent in the shape of IHE Basic Audit Log Patterns (BALP):
 * https://profiles.ihe.net/ITI/BALP/ . RESTful CRUD becomes type `rest` with a
 * restful-interaction subtype; logins use DICOM 110114/110122; access refusals 110113.
 * The events use BALP's codes and agent/entity layout but do not claim its profiles (meta.profile):
 * BALP's Query and Read profiles also want client and server agents and the query text, and an
 * entry never holds a query (it may carry an MRN), so a claim would not validate.
 */
import { externalKeyOf as deviceKeyOf } from '../device-key.js';
import type { AuditEntry } from './entry.js';

type Coding = { system: string; code: string; display?: string };
type Identifier = { system: string; value: string };
type Reference = { reference?: string; identifier?: Identifier; display?: string; type?: string };

/** The subset of the FHIR R4 AuditEvent resource that Pulsegate fills in. */
export interface FhirAuditEvent {
  resourceType: 'AuditEvent';
  id: string;
  meta?: { profile: string[] };
  type: Coding;
  subtype: Coding[];
  action: 'C' | 'R' | 'U' | 'D' | 'E';
  recorded: string;
  outcome: '0' | '4' | '8' | '12';
  outcomeDesc?: string;
  agent: Array<{
    type: { coding: Coding[] };
    who: Reference;
    role?: Array<{ text: string }>;
    requestor: boolean;
    network?: { address: string; type: '1' | '2' };
    purposeOfUse?: Array<{ coding: Coding[] }>;
  }>;
  source: { site: string; observer: Reference; type: Coding[] };
  entity?: Array<{ what: Reference; type?: Coding; role?: Coding; description?: string }>;
}

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const EVENT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
const RESTFUL = 'http://hl7.org/fhir/restful-interaction';
const PARTICIPATION = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const SOURCE_TYPE = 'http://terminology.hl7.org/CodeSystem/security-source-type';
const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
/** Pulsegate's own action code system, so the original action is never lost. */
export const PULSEGATE_ACTION_SYSTEM = 'urn:pulsegate:audit-action';

const CRUD: Record<string, { action: FhirAuditEvent['action']; interaction: string }> = {
  create: { action: 'C', interaction: 'create' },
  read: { action: 'R', interaction: 'read' },
  list: { action: 'E', interaction: 'search-type' },
  search: { action: 'E', interaction: 'search-type' },
  update: { action: 'U', interaction: 'update' },
  delete: { action: 'D', interaction: 'delete' },
};

const FHIR_TYPES: Record<string, string> = {
  patient: 'Patient',
  device: 'Device',
  observation: 'Observation',
};

function classify(entry: AuditEntry): Pick<FhirAuditEvent, 'type' | 'subtype' | 'action'> {
  const own: Coding = { system: PULSEGATE_ACTION_SYSTEM, code: entry.action };
  const verb = entry.action.slice(entry.action.lastIndexOf('.') + 1);
  if (entry.action.startsWith('auth.')) {
    const logout = verb === 'logout';
    return {
      type: { system: DCM, code: '110114', display: 'User Authentication' },
      subtype: [
        logout
          ? { system: DCM, code: '110123', display: 'Logout' }
          : { system: DCM, code: '110122', display: 'Login' },
        own,
      ],
      action: 'E',
    };
  }
  if (entry.action.startsWith('access.')) {
    return { type: { system: DCM, code: '110113', display: 'Security Alert' }, subtype: [own], action: 'E' };
  }
  const crud = CRUD[verb];
  if (crud) {
    return {
      type: { system: EVENT_TYPE, code: 'rest', display: 'Restful Operation' },
      subtype: [{ system: RESTFUL, code: crud.interaction }, own],
      action: crud.action,
    };
  }
  return {
    type: { system: DCM, code: '110100', display: 'Application Activity' },
    subtype: [own],
    action: 'E',
  };
}

const OUTCOME: Record<AuditEntry['outcome'], FhirAuditEvent['outcome']> = {
  success: '0',
  denied: '4',
  failure: '8',
};

/** Maps one entry to a FHIR R4 AuditEvent (BALP). Carries references only, like the entry. */
export function toFhirAuditEvent(
  entry: AuditEntry,
  options: { site?: string; observer?: string } = {},
): FhirAuditEvent {
  const kind = classify(entry);
  const { actor } = entry;
  const who: Reference = {
    ...(actor.id ? { identifier: { system: `urn:pulsegate:${actor.type}`, value: actor.id } } : {}),
    display: actor.name ?? actor.id ?? actor.type,
  };
  const writes = kind.action === 'C' || kind.action === 'U' || kind.action === 'D';
  const event: FhirAuditEvent = {
    resourceType: 'AuditEvent',
    id: `pulsegate-audit-${entry.seq}`,
    type: kind.type,
    subtype: kind.subtype,
    action: kind.action,
    recorded: entry.time,
    outcome: OUTCOME[entry.outcome],
    ...(entry.code || entry.reason
      ? { outcomeDesc: [entry.code, entry.reason].filter(Boolean).join(': ') }
      : {}),
    agent: [
      {
        type: {
          coding: [
            writes
              ? { system: PARTICIPATION, code: 'AUT', display: 'author (originator)' }
              : { system: PARTICIPATION, code: 'IRCP', display: 'information recipient' },
          ],
        },
        who,
        ...(actor.role ? { role: [{ text: actor.role }] } : {}),
        requestor: true,
        ...(entry.source ? { network: { address: entry.source, type: '2' as const } } : {}),
        ...(entry.breakGlass
          ? { purposeOfUse: [{ coding: [{ system: ACT_REASON, code: 'BTG', display: 'break the glass' }] }] }
          : {}),
      },
    ],
    source: {
      site: options.site ?? 'pulsegate',
      observer: { display: options.observer ?? 'pulsegate' },
      type: [{ system: SOURCE_TYPE, code: '4', display: 'Application Server' }],
    },
  };
  const entity: NonNullable<FhirAuditEvent['entity']> = [];
  if (entry.resource) {
    const fhirType = FHIR_TYPES[entry.resource.type.toLowerCase()];
    const what: Reference =
      fhirType && entry.resource.id
        ? {
            reference: `${fhirType}/${fhirType === 'Device' ? deviceKeyOf(entry.resource.id) : entry.resource.id}`,
          }
        : {
            ...(entry.resource.id
              ? { identifier: { system: `urn:pulsegate:${entry.resource.type}`, value: entry.resource.id } }
              : {}),
            display: entry.resource.type,
          };
    entity.push(
      fhirType === 'Patient'
        ? {
            what,
            type: { system: ENTITY_TYPE, code: '1', display: 'Person' },
            role: { system: OBJECT_ROLE, code: '1', display: 'Patient' },
          }
        : { what, type: { system: ENTITY_TYPE, code: '2', display: 'System Object' } },
    );
  }
  if (entry.requestId) {
    entity.push({
      what: { identifier: { system: 'urn:pulsegate:request-id', value: entry.requestId } },
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      description: 'request id',
    });
  }
  if (entity.length > 0) event.entity = entity;
  return event;
}
