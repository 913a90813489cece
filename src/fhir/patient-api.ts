/**
 * Patient: read, search by identifier, and a small ADT feed (create, update). Registered patients
 * are sealed in `patient_records` under the patient's own data key; patients known only from
 * device bindings are served with their identifier alone. The id is the hex blind index.
 */
import type { Bundle, Patient } from '@medplum/fhirtypes';
import { PulsegateError } from '../errors.js';
import { PATIENT_INDEX_PURPOSE, patientReach } from '../patients/index.js';
import { searchset } from './bundle.js';
import { auditBase, type FhirDeps, type FhirRequest } from './context.js';
import { blindIndexOf, patientIdOf } from './ids.js';
import { checkPatientBody, demographicsOf } from './patient-resource.js';
import { requireScope } from './scopes.js';
import { type ParamSpec, parseSearch } from './search-params.js';

export const PATIENT_SEARCH: ParamSpec = { _id: 'token', identifier: 'token', _count: 'number' };
const RECORD_PURPOSE = 'patient-record';
const MR = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] };

const aadOf = (index: string) => Buffer.from(`patient_records|${index}`);

export interface WriteResult {
  patient: Patient;
  created: boolean;
}

export function patientApi(deps: FhirDeps) {
  const now = deps.now ?? Date.now;
  const { db } = deps.store;

  /** A care-unit limited caller reaches a patient only through a device of its units (or break-glass). */
  const reach = patientReach({ ...deps, now });

  /** The Patient for a blind index: the registered record, else one built from a binding, else undefined. */
  async function load(index: string): Promise<Patient | undefined> {
    const row = await db.selectFrom('patient_records').selectAll().where('id', '=', index).executeTakeFirst();
    if (row) {
      const plain = await deps.keys.decrypt(row.sealed, aadOf(index));
      return {
        resourceType: 'Patient',
        id: patientIdOf(index),
        meta: { versionId: String(row.version), lastUpdated: new Date(Number(row.updated_at)).toISOString() },
        ...(JSON.parse(plain.toString('utf8')) as Omit<Patient, 'resourceType'>),
      };
    }
    const mrn = await deps.patients.patientIdOf(index);
    if (mrn === null) return undefined;
    return { resourceType: 'Patient', id: patientIdOf(index), identifier: [{ type: MR, value: mrn }] };
  }

  async function audit(req: FhirRequest, action: string, index: string | undefined, reason?: string) {
    await deps.audit.append({
      ...auditBase(req),
      action,
      resource: index ? { type: 'patient', id: index } : { type: 'patient' },
      ...(reason ? { reason } : {}),
    });
  }

  async function write(
    req: FhirRequest,
    body: unknown,
    id: string | undefined,
    ifMatch?: string,
  ): Promise<WriteResult> {
    const patient = checkPatientBody(body);
    const index = deps.keys.blindIndex(PATIENT_INDEX_PURPOSE, patient.identifier[0]!.value);
    if (id !== undefined) {
      if (patient.id !== id)
        throw new PulsegateError('FHIR_RESOURCE_INVALID', 'the body id must equal the URL id', {
          fields: [{ pointer: '/id', problem: 'must equal the id in the URL' }],
        });
      if (blindIndexOf(id) !== index)
        throw new PulsegateError('FHIR_RESOURCE_INVALID', 'the first identifier cannot change', {
          fields: [{ pointer: '/identifier/0/value', problem: 'does not belong to this patient id' }],
        });
    }
    const wanted = ifMatch === undefined ? undefined : /^W\/"(\d{1,9})"$/.exec(ifMatch)?.[1];
    if (ifMatch !== undefined && wanted === undefined)
      throw new PulsegateError('FHIR_RESOURCE_INVALID', 'If-Match must be W/"<version>"');
    /** The refusals that depend on the stored version (R4 http.html#create, #concurrency). */
    const refuse = (current: { version: number } | undefined) => {
      if (id === undefined && current) throw new PulsegateError('FHIR_PATIENT_EXISTS');
      if (wanted !== undefined && Number(current?.version ?? 0) !== Number(wanted))
        throw new PulsegateError('FHIR_VERSION_CONFLICT');
    };
    const versionOf = (q: typeof db) =>
      q.selectFrom('patient_records').select(['version']).where('id', '=', index).executeTakeFirst();
    // Every refusal is made before a key is touched (no data key made, no key use reserved for a
    // write that will not happen); the transaction repeats the check, where it decides.
    const stored = await versionOf(db);
    // Writes follow the read rule: a patient the caller could not read is not changed, and its
    // existence is not confirmed (FHIR_PATIENT_EXISTS only to who could read it anyway).
    await reach.checkWrite(req.principal, index, stored !== undefined);
    refuse(stored);
    const sealed = await deps.keys.encrypt(
      { purpose: RECORD_PURPOSE, subject: index, period: 'identity' },
      Buffer.from(JSON.stringify(demographicsOf(patient))),
      aadOf(index),
    );
    const t = now();
    const result = await db.transaction().execute(async (trx) => {
      const current = await versionOf(trx);
      refuse(current);
      if (!current) {
        const inserted = await trx
          .insertInto('patient_records')
          .values({
            id: index,
            sealed,
            version: 1,
            created_at: t,
            updated_at: t,
            updated_by: req.principal.id,
          })
          .onConflict((oc) => oc.column('id').doNothing())
          .executeTakeFirst();
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0)
          throw new PulsegateError('FHIR_PATIENT_EXISTS');
        return { version: 1, created: true };
      }
      const version = Number(current.version) + 1;
      const updated = await trx
        .updateTable('patient_records')
        .set({ sealed, version, updated_at: t, updated_by: req.principal.id })
        .where('id', '=', index)
        .where('version', '=', Number(current.version))
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) throw new PulsegateError('FHIR_VERSION_CONFLICT');
      return { version, created: false };
    });
    await audit(req, result.created ? 'patient.create' : 'patient.update', index);
    return {
      created: result.created,
      patient: {
        ...demographicsOf(patient),
        resourceType: 'Patient',
        id: patientIdOf(index),
        meta: { versionId: String(result.version), lastUpdated: new Date(t).toISOString() },
      } as Patient,
    };
  }

  return {
    async read(req: FhirRequest, id: string): Promise<Patient> {
      requireScope(req.principal, 'Patient', 'r');
      const index = blindIndexOf(id);
      if (!index) throw new PulsegateError('FHIR_NOT_FOUND');
      await reach.check(req.principal, index);
      const patient = await load(index);
      if (!patient) throw new PulsegateError('FHIR_NOT_FOUND');
      await audit(req, 'patient.read', index);
      return patient;
    },

    async search(req: FhirRequest, query: Record<string, unknown>): Promise<Bundle> {
      requireScope(req.principal, 'Patient', 's');
      // An MRN in a URL ends up in access logs, proxies and browser history (design: no PHI in a
      // URL): the identifier travels only in a POST _search form body, in any of its spellings.
      for (const name of req.urlParams) {
        if (name.split(':')[0] === 'identifier')
          throw new PulsegateError('FHIR_PHI_IN_URL', undefined, {
            fields: [
              { pointer: 'identifier', problem: 'send it in the form body of POST [base]/Patient/_search' },
            ],
          });
      }
      const parsed = parseSearch(query, PATIENT_SEARCH, { lenient: req.lenient });
      const identifiers = parsed.tokens.get('identifier') ?? [];
      const ids = parsed.tokens.get('_id') ?? [];
      const [occurrence, ...more] = [...identifiers, ...ids];
      const token = occurrence?.length === 1 ? occurrence[0] : undefined;
      if (more.length > 0 || token?.code === undefined) {
        throw new PulsegateError('FHIR_PARAM_INVALID', 'identifier or _id: exactly one value is required', {
          fields: [{ pointer: 'identifier', problem: 'exactly one identifier or _id value is required' }],
        });
      }
      let index: string | undefined;
      if (ids.length > 0) index = token.system === undefined ? blindIndexOf(token.code) : undefined;
      else {
        try {
          index = deps.keys.blindIndex(PATIENT_INDEX_PURPOSE, token.code);
        } catch {
          index = undefined;
        }
      }
      let found: Patient | undefined;
      if (index) {
        try {
          await reach.check(req.principal, index);
          found = await load(index);
        } catch (error) {
          // Out of reach is "no match" for a search (a 403 would confirm the patient exists).
          if (!(error instanceof PulsegateError && error.code === 'ACCESS_CARE_UNIT_DENIED')) throw error;
        }
        if (found && token.system !== undefined && !found.identifier?.some((i) => i.system === token.system))
          found = undefined;
      }
      await audit(req, 'patient.search', found ? index : undefined, `${found ? 1 : 0} patients`);
      // The links name the patient by its reference, never by the identifier searched with.
      const accepted = parsed.accepted.filter(([name]) => name !== 'identifier' && name !== '_id');
      return searchset({
        base: req.base,
        resourceType: 'Patient',
        accepted: index ? [['_id', patientIdOf(index)], ...accepted] : accepted,
        resources: found ? [found] : [],
        ignored: parsed.ignored,
      });
    },

    async create(req: FhirRequest, body: unknown): Promise<WriteResult> {
      requireScope(req.principal, 'Patient', 'c');
      return write(req, body, undefined);
    },

    async update(req: FhirRequest, id: string, body: unknown, ifMatch?: string): Promise<WriteResult> {
      requireScope(req.principal, 'Patient', 'u');
      const index = blindIndexOf(id);
      if (!index) throw new PulsegateError('FHIR_NOT_FOUND');
      return write(req, body, id, ifMatch);
    },

    /** The patient identifier for a blind index (registered record first, then bindings). */
    async identifierOf(index: string): Promise<string | undefined> {
      const row = await db
        .selectFrom('patient_records')
        .selectAll()
        .where('id', '=', index)
        .executeTakeFirst();
      if (row) {
        const body = JSON.parse(
          (await deps.keys.decrypt(row.sealed, aadOf(index))).toString('utf8'),
        ) as Patient;
        return body.identifier?.[0]?.value;
      }
      return (await deps.patients.patientIdOf(index)) ?? undefined;
    },
  };
}
