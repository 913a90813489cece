/** Observation read, search and create over the telemetry store. */
import type { Observation } from '@medplum/fhirtypes';
import { visibilityOf } from '../devices/index.js';
import { PulsegateError } from '../errors.js';
import type { ReadingPosition, StoredReading } from '../telemetry/index.js';
import { VITAL_CODES } from '../telemetry/index.js';
import { searchsetJson } from './bundle.js';
import { auditBase, type FhirDeps, type FhirRequest } from './context.js';
import { decodeCursor, encodeCursor, searchFingerprint } from './cursor.js';
import { FhirJson } from './fhir-json.js';
import { blindIndexOf, observationKeyOf } from './ids.js';
import { categoryCodeOf, LOINC, MDC, observationJson, toObservation } from './observation.js';
import { requireScope } from './scopes.js';
import {
  type DateCondition,
  dateBounds,
  dateMatches,
  type ParamSpec,
  type ParsedSearch,
  parseSearch,
  type TokenValue,
} from './search-params.js';

export const OBSERVATION_SEARCH: ParamSpec = {
  patient: 'reference',
  subject: 'reference',
  device: 'reference',
  code: 'token',
  category: 'token',
  date: 'date',
  _lastUpdated: 'date',
  _count: 'number',
  _sort: 'sort',
  _cursor: 'cursor',
};
export const OBSERVATION_SORTS = ['-date', 'date'] as const;
const DEFAULT_COUNT = 50;
const CATEGORY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/observation-category';
/** An observation may be taken up to 24 h before its message (telemetry's MAX_OBSERVATION_AGE_MS). */
const MAX_OBSERVATION_AGE_MS = 24 * 3_600_000;
/** Observations scanned at most per request before answering with what was found and a `next` link. */
const MAX_ROWS_PER_PAGE = 2000;

interface Cursor {
  t: number;
  d: string;
  s: number;
  /** First observation index of that reading still to return. */
  i: number;
}

function tokenMatches(coding: ReadonlyArray<{ system?: string; code?: string }>, token: TokenValue): boolean {
  return coding.some(
    (c) =>
      (token.system === undefined || c.system === token.system) &&
      (token.code === undefined || c.code === token.code),
  );
}

/** The vital kinds a `code` occurrence (OR list) can match. */
function kindsForCodes(tokens: readonly TokenValue[]): string[] {
  const kinds = new Set<string>();
  for (const t of tokens) {
    for (const v of VITAL_CODES) {
      const systems =
        t.system === undefined
          ? ['LOINC', 'MDC']
          : t.system === LOINC
            ? ['LOINC']
            : t.system === MDC
              ? ['MDC']
              : [];
      const hit =
        t.code === undefined
          ? systems.length > 0
          : systems.some((s) =>
              s === 'LOINC' ? v.loinc.includes(t.code!) : v.mdc.some((m) => m.code === t.code),
            );
      if (hit) kinds.add(v.kind);
    }
  }
  return [...kinds];
}

function kindsForCategories(tokens: readonly TokenValue[]): string[] {
  return VITAL_CODES.filter((v) =>
    tokens.some(
      (t) =>
        (t.system === undefined || t.system === CATEGORY_SYSTEM) &&
        (t.code === undefined || t.code === categoryCodeOf(v.kind)),
    ),
  ).map((v) => v.kind);
}

const intersect = (a: string[] | undefined, b: string[]) =>
  a === undefined ? b : a.filter((x) => b.includes(x));

/** Compiled filters of one Observation search. */
interface Plan {
  patientIndex?: string;
  deviceIds?: string[];
  careUnits?: string[];
  kinds?: string[];
  codes: TokenValue[][];
  categories: TokenValue[][];
  date: DateCondition[];
  lastUpdated: DateCondition[];
  empty: boolean;
}

/**
 * What a search asks for, in the store's terms. `deviceIdOf` turns the device keys of `device`
 * parameters into device ids (a key no device has stays as it is and matches nothing).
 */
function plan(
  parsed: ParsedSearch,
  req: FhirRequest,
  now: number,
  deviceIdOf: (key: string) => string,
): Plan {
  const p: Plan = {
    codes: parsed.tokens.get('code') ?? [],
    categories: parsed.tokens.get('category') ?? [],
    date: parsed.dates.get('date') ?? [],
    lastUpdated: parsed.dates.get('_lastUpdated') ?? [],
    empty: false,
  };
  const patients = new Set<string>();
  for (const name of ['patient', 'subject']) {
    for (const occurrence of parsed.references.get(name) ?? []) {
      if (occurrence.length !== 1)
        throw new PulsegateError('FHIR_PARAM_INVALID', `${name}: one patient per search`, {
          fields: [{ pointer: name, problem: 'one patient per search' }],
        });
      // Only a Patient id (the hex reference): anything else may be an MRN, which is neither
      // searched with nor echoed into the Bundle's links from a URL.
      if (blindIndexOf(occurrence[0]!) === undefined)
        throw new PulsegateError('FHIR_PARAM_INVALID', `${name}: must be a Patient id`, {
          fields: [{ pointer: name, problem: 'must be a Patient id (from POST [base]/Patient/_search)' }],
        });
      patients.add(occurrence[0]!);
    }
  }
  if (patients.size > 1) p.empty = true;
  const [patient] = patients;
  if (patient !== undefined) p.patientIndex = blindIndexOf(patient)!;
  for (const occurrence of parsed.references.get('device') ?? []) {
    p.deviceIds = intersect(p.deviceIds, occurrence.map(deviceIdOf));
  }
  const visibility = visibilityOf(req.principal, now);
  if (visibility.careUnits) p.careUnits = [...visibility.careUnits];
  if (visibility.deviceIds) p.deviceIds = intersect(p.deviceIds, [...visibility.deviceIds]);
  for (const occurrence of p.codes) p.kinds = intersect(p.kinds, kindsForCodes(occurrence));
  for (const occurrence of p.categories) p.kinds = intersect(p.kinds, kindsForCategories(occurrence));
  return p;
}

function observationMatches(p: Plan, reading: StoredReading, index: number, obs: Observation): boolean {
  const o = reading.observations[index]!;
  if (p.date.length > 0 && !dateMatches(o.ts, p.date)) return false;
  if (p.lastUpdated.length > 0 && !dateMatches(reading.receivedAt, p.lastUpdated)) return false;
  if (p.codes.length > 0) {
    const coding = obs.code.coding ?? [];
    for (const occurrence of p.codes) if (!occurrence.some((t) => tokenMatches(coding, t))) return false;
  }
  if (p.categories.length > 0) {
    const categories = obs.category?.flatMap((c) => c.coding ?? []) ?? [];
    for (const occurrence of p.categories)
      if (!occurrence.some((t) => tokenMatches(categories, t))) return false;
  }
  return true;
}

/** Observation API: read by id, search, create. */
export function observationApi(deps: FhirDeps) {
  const now = deps.now ?? Date.now;
  const slackMs = deps.maxClockSkewSeconds * 2000;

  async function auditPatients(
    req: FhirRequest,
    action: string,
    patients: Iterable<string | null>,
    reason: string,
    fallback: { type: string; id?: string },
  ): Promise<void> {
    const indexes = [...new Set([...patients].filter((p): p is string => p !== null))];
    const events = (indexes.length > 0 ? indexes.map((id) => ({ type: 'patient', id })) : [fallback]).map(
      (resource) => ({ ...auditBase(req), action, resource, reason }),
    );
    await deps.audit.appendMany(events, { returnEntries: false });
  }

  return {
    async read(req: FhirRequest, id: string): Promise<Observation> {
      requireScope(req.principal, 'Observation', 'r');
      const key = observationKeyOf(id);
      if (!key) throw new PulsegateError('FHIR_NOT_FOUND');
      const deviceId = await deps.devices.idOfExternalKey(key.deviceKey);
      if (deviceId === undefined) throw new PulsegateError('FHIR_NOT_FOUND');
      const position: ReadingPosition = { deviceId, observedAt: key.observedAt, seq: key.seq };
      const device = await deps.devices.getRow(deviceId).catch(() => undefined);
      if (!device) throw new PulsegateError('FHIR_NOT_FOUND');
      deps.access.checkResource(req.principal, { careUnit: device.care_unit, deviceId: device.id });
      const reading = await deps.telemetry.readOne(position);
      if (!reading || key.index >= reading.observations.length) throw new PulsegateError('FHIR_NOT_FOUND');
      // And the unit the reading was taken in: a device moved into the caller's unit does not
      // bring the readings of its earlier unit along.
      deps.access.checkResource(req.principal, { careUnit: reading.careUnit, deviceId: device.id });
      const obs = toObservation(reading, key.index);
      await auditPatients(req, 'observation.read', [reading.patientIndex], '1 observation', {
        type: 'device',
        id: reading.deviceId,
      });
      return obs;
    },

    async search(req: FhirRequest, query: Record<string, unknown>): Promise<FhirJson> {
      requireScope(req.principal, 'Observation', 's');
      const parsed = parseSearch(query, OBSERVATION_SEARCH, {
        lenient: req.lenient,
        referenceTargets: { patient: ['Patient'], subject: ['Patient'], device: ['Device'] },
        sorts: OBSERVATION_SORTS,
      });
      const count = parsed.numbers.get('_count') ?? DEFAULT_COUNT;
      const order = parsed.sort === 'date' ? 'asc' : 'desc';
      const fingerprint = searchFingerprint('Observation', parsed.accepted);
      const t = now();
      let resume: Cursor | undefined = parsed.cursor
        ? decodeCursor<Cursor>(deps.keys, parsed.cursor, fingerprint, t)
        : undefined;
      const keys = [...new Set((parsed.references.get('device') ?? []).flat())];
      const ids = new Map(
        await Promise.all(keys.map(async (k) => [k, (await deps.devices.idOfExternalKey(k)) ?? k] as const)),
      );
      const p = plan(parsed, req, t, (k) => ids.get(k) ?? k);
      const found: Observation[] = [];
      const foundJson: string[] = [];
      const patients: Array<string | null> = [];
      let next: Cursor | undefined;
      let suppressed: string | undefined;
      if (!p.empty) {
        const dates = dateBounds(p.date);
        const updated = dateBounds(p.lastUpdated);
        let scanned = 0;
        // Readings hold several observations (a monitor sends a whole scan at once): start with
        // a quarter of the page in readings and grow, so a page decrypts few readings it won't use.
        let batch = Math.max(8, Math.ceil((count + 1) / 4));
        const filters = {
          ...(p.patientIndex !== undefined ? { patientIndex: p.patientIndex } : {}),
          ...(p.deviceIds ? { deviceIds: p.deviceIds } : {}),
          ...(p.careUnits ? { careUnits: p.careUnits } : {}),
          ...(p.kinds ? { kinds: p.kinds } : {}),
          // Message time bounds, widened by how far an observation's own time may differ from it.
          ...(dates.from !== undefined ? { from: dates.from - slackMs } : {}),
          ...(dates.to !== undefined ? { to: dates.to + MAX_OBSERVATION_AGE_MS } : {}),
          ...(updated.from !== undefined ? { receivedFrom: updated.from } : {}),
          ...(updated.to !== undefined ? { receivedTo: updated.to } : {}),
        };
        // The message times this page spans: from where it resumed to the last reading it read.
        const startedAt = resume?.t;
        let lastAt: number | undefined;
        scan: for (;;) {
          const rows = await deps.telemetry.search({
            ...filters,
            order,
            ...(resume ? { at: { observedAt: resume.t, deviceId: resume.d, seq: resume.s } } : {}),
            limit: batch,
          });
          for (const reading of rows) {
            lastAt = reading.observedAt;
            const first =
              resume &&
              reading.observedAt === resume.t &&
              reading.deviceId === resume.d &&
              reading.seq === resume.s
                ? resume.i
                : 0;
            for (let i = first; i < reading.observations.length; i++) {
              const obs = toObservation(reading, i);
              if (!observationMatches(p, reading, i, obs)) continue;
              if (found.length === count) {
                next = { t: reading.observedAt, d: reading.deviceId, s: reading.seq, i };
                break scan;
              }
              found.push(obs);
              foundJson.push(observationJson(reading, i, obs));
              patients.push(reading.patientIndex);
            }
            scanned += 1;
            if (scanned >= MAX_ROWS_PER_PAGE) {
              // A sparse match over many readings: answer now and let the client continue.
              next = { t: reading.observedAt, d: reading.deviceId, s: reading.seq, i: 64 };
              break scan;
            }
          }
          const last = rows[rows.length - 1];
          if (!last || rows.length < batch) break;
          resume = { t: last.observedAt, d: last.deviceId, s: last.seq, i: 64 };
          batch = Math.min(batch * 2, 500);
        }
        // A care-unit limited caller learns that matching readings were left out of what this
        // page covers (not which): the page's span only, so the probe stays about a page's size.
        if (p.careUnits) {
          const end = next ? lastAt : undefined;
          const span =
            order === 'desc'
              ? {
                  ...(end !== undefined ? { from: end } : {}),
                  ...(startedAt !== undefined ? { to: startedAt + 1 } : {}),
                }
              : {
                  ...(startedAt !== undefined ? { from: startedAt } : {}),
                  ...(end !== undefined ? { to: end + 1 } : {}),
                };
          if (await deps.telemetry.withheld(filters, span))
            suppressed =
              'Some matching Observations may have been recorded in another care unit and are not shown';
        }
      }
      // Serialised before the audit wait (see FhirJson); the response still leaves only after it.
      const body = new FhirJson(
        searchsetJson(
          {
            base: req.base,
            resourceType: 'Observation',
            accepted: parsed.accepted,
            resources: found,
            ...(next ? { next: encodeCursor(deps.keys, fingerprint, next, t) } : {}),
            ignored: parsed.ignored,
            ...(suppressed ? { suppressed } : {}),
          },
          foundJson,
        ),
      );
      await auditPatients(
        req,
        'observation.search',
        [...patients, p.patientIndex ?? null],
        `${found.length} observations`,
        p.deviceIds?.length === 1 ? { type: 'device', id: p.deviceIds[0]! } : { type: 'observation' },
      );
      return body;
    },
  };
}
