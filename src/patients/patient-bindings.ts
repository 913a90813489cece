import { randomBytes } from 'node:crypto';
import type { Principal } from '../access/index.js';
import { PulsegateError } from '../errors.js';
import type { KeyService } from '../keys/index.js';
import type { Database, Kysely, Store } from '../store/index.js';
import type { PatientBindingsTable } from '../store/tables/telemetry.js';

/** Blind-index purpose of patient identifiers (shared with telemetry's patient column). */
export const PATIENT_INDEX_PURPOSE = 'patient-id';
/** Data-key purpose of sealed patient identifiers. */
const SEAL_PURPOSE = 'patient-id';
const SEAL_PERIOD = 'identity';
/** MRNs and similar identifiers (HL7 PID-3 CX.1): printable, no control characters, no edge spaces. */
const PATIENT_ID = /^[^\s\p{Cc}](?:[^\p{Cc}]{0,62}[^\s\p{Cc}])?$/u;
const FAR_FUTURE = Number.MAX_SAFE_INTEGER;
/** The last instant an RFC 3339 date-time can name (year 9999): later ones have no ISO form. */
const LAST_INSTANT = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** The narrow audit interface bindings need. */
export interface PatientAudit {
  append(event: {
    actor: { type: 'user' | 'client' | 'system'; id?: string; name?: string; role?: string };
    action: string;
    resource: { type: string; id?: string };
    outcome: 'success' | 'failure' | 'denied';
    reason?: string;
    breakGlass?: boolean;
  }): Promise<unknown>;
}

/** A binding as stored, without the patient identifier. */
export interface Binding {
  id: string;
  deviceId: string;
  patientIndex: string;
  from: number;
  until: number | null;
  createdAt: number;
  createdBy: string;
}

/** A binding with the decrypted patient identifier (only for callers allowed to see it). */
export interface BindingWithPatient extends Binding {
  patientId: string;
}

interface CachedDevice {
  loadedAt: number;
  bindings: BindingWithPatient[];
}

export interface PatientBindingsOptions {
  store: Store;
  keys: KeyService;
  audit: PatientAudit;
  now?: () => number;
  /** How long a device's bindings are trusted in memory before re-reading (another node may change them). */
  cacheMs?: number;
  cacheSize?: number;
}

function actorOf(p: Principal | undefined) {
  return p
    ? { type: p.kind, id: p.id, name: p.name, role: p.role }
    : { type: 'system' as const, name: 'pulsegate' };
}

const aadOf = (id: string, deviceId: string, index: string) =>
  Buffer.from(`patient_bindings|${id}|${deviceId}|${index}`);

const toBinding = (r: PatientBindingsTable): Binding => ({
  id: r.id,
  deviceId: r.device_id,
  patientIndex: r.patient_index,
  from: Number(r.bound_from),
  until: r.bound_until === null ? null : Number(r.bound_until),
  createdAt: Number(r.created_at),
  createdBy: r.created_by,
});

/** Checks and normalises a patient identifier; the value never appears in the error. */
export function checkPatientId(patientId: unknown): string {
  if (typeof patientId !== 'string' || !PATIENT_ID.test(patientId)) {
    throw new PulsegateError('VALIDATION_FAILED', 'The patient identifier is not valid', {
      fields: [{ pointer: '/patientId', problem: 'must be 1-64 printable characters' }],
    });
  }
  return patientId;
}

/**
 * Checks a binding time (Unix ms) before it reaches a query or a row: NaN (what `Date.parse` answers
 * for a leap second or an impossible date) would be stored as NULL by SQLite and turn a closed
 * interval into an open one; fractions and times outside 1970..9999 cannot be stored or shown.
 */
function checkTime(value: number, pointer: string): number {
  if (!Number.isSafeInteger(value) || value < 0 || value > LAST_INSTANT) {
    throw new PulsegateError('VALIDATION_FAILED', `${pointer.slice(1)} is not a valid time`, {
      fields: [{ pointer, problem: 'must be a whole number of ms between 1970 and 9999' }],
    });
  }
  return value;
}

/**
 * Which patient each device measures, and when. The patient identifier is stored sealed (keys
 * envelope, scope = the patient's blind index) and found by its blind index; it never appears in
 * logs, errors or audit entries, which carry the blind index instead.
 */
export function createPatientBindings(opts: PatientBindingsOptions) {
  const { store, keys, audit } = opts;
  const now = opts.now ?? Date.now;
  const cacheMs = opts.cacheMs ?? 5000;
  const cacheSize = opts.cacheSize ?? 100_000;
  const cache = new Map<string, CachedDevice>();

  const indexOf = (patientId: string) => keys.blindIndex(PATIENT_INDEX_PURPOSE, checkPatientId(patientId));

  /** The devices bound to the patient with this blind index, optionally only bindings overlapping [from, to). */
  async function devicesForIndex(
    index: string,
    range: { from?: number; to?: number } = {},
  ): Promise<Binding[]> {
    const rows = await store.db
      .selectFrom('patient_bindings')
      .selectAll()
      .where('patient_index', '=', index)
      .$if(range.to !== undefined, (q) => q.where('bound_from', '<', range.to!))
      .$if(range.from !== undefined, (q) =>
        q.where((eb) => eb.or([eb('bound_until', 'is', null), eb('bound_until', '>', range.from!)])),
      )
      .orderBy('bound_from')
      .execute();
    return rows.map(toBinding);
  }

  async function open(rows: PatientBindingsTable[]): Promise<BindingWithPatient[]> {
    if (rows.length === 0) return [];
    const plain = await keys.decryptMany(
      rows.map((r) => ({ sealed: r.patient_sealed, aad: aadOf(r.id, r.device_id, r.patient_index) })),
    );
    return rows.map((r, i) => ({ ...toBinding(r), patientId: plain[i]!.toString('utf8') }));
  }

  /** Loads the bindings of the devices not freshly cached, in one query per 500 devices. */
  async function load(deviceIds: Iterable<string>): Promise<void> {
    const t = now();
    const missing = [...new Set(deviceIds)].filter((id) => {
      const c = cache.get(id);
      return !c || t - c.loadedAt >= cacheMs;
    });
    for (let at = 0; at < missing.length; at += 500) {
      const chunk = missing.slice(at, at + 500);
      const rows = await store.db
        .selectFrom('patient_bindings')
        .selectAll()
        .where('device_id', 'in', chunk)
        .orderBy('bound_from')
        .execute();
      const opened = await open(rows);
      if (cache.size + chunk.length > cacheSize) cache.clear();
      for (const id of chunk) cache.set(id, { loadedAt: t, bindings: [] });
      for (const b of opened) cache.get(b.deviceId)!.bindings.push(b);
    }
  }

  /** True when a binding of the device overlaps [from, until). */
  async function clashes(db: Kysely<Database>, deviceId: string, from: number, until: number | null) {
    const clash = await db
      .selectFrom('patient_bindings')
      .select('id')
      .where('device_id', '=', deviceId)
      .where('bound_from', '<', until ?? FAR_FUTURE)
      .where((eb) => eb.or([eb('bound_until', 'is', null), eb('bound_until', '>', from)]))
      .executeTakeFirst();
    return clash !== undefined;
  }

  const covers = (b: Binding, time: number) => b.from <= time && (b.until === null || time < b.until);

  const service = {
    /** The blind index of a patient identifier (VALIDATION_FAILED if it is not one). */
    patientIndex: indexOf,

    /** Binds the device to a patient from `from` (default now) until `until` (open-ended by default). */
    async bind(
      deviceId: string,
      input: { patientId: string; from?: number; until?: number | null },
      actor?: Principal,
    ): Promise<Binding> {
      const index = indexOf(input.patientId);
      const from = checkTime(input.from ?? now(), '/from');
      const until = input.until == null ? null : checkTime(input.until, '/until');
      if (until !== null && until <= from) {
        throw new PulsegateError('VALIDATION_FAILED', 'until must be after from', {
          fields: [{ pointer: '/until', problem: 'must be after from' }],
        });
      }
      // Refused before a key is touched (no data key made, no key use reserved for nothing); the
      // check is repeated under the lock, where it decides.
      if (await clashes(store.db, deviceId, from, until))
        throw new PulsegateError('PATIENT_BINDING_CONFLICT');
      const id = randomBytes(12).toString('base64url');
      const sealed = await keys.encrypt(
        { purpose: SEAL_PURPOSE, subject: index, period: SEAL_PERIOD },
        Buffer.from(input.patientId, 'utf8'),
        aadOf(id, deviceId, index),
      );
      const row: PatientBindingsTable = {
        id,
        device_id: deviceId,
        patient_index: index,
        patient_sealed: sealed,
        bound_from: from,
        bound_until: until,
        created_at: now(),
        created_by: actor ? `${actor.kind}:${actor.id}` : 'system',
      };
      await store.db.transaction().execute(async (trx) => {
        // One writer of bindings at a time, on every node: the overlap check and the insert are atomic.
        await store.lock(trx, 'patient-bindings');
        if (await clashes(trx, deviceId, from, until)) throw new PulsegateError('PATIENT_BINDING_CONFLICT');
        await trx.insertInto('patient_bindings').values(row).execute();
      });
      cache.delete(deviceId);
      await audit.append({
        actor: actorOf(actor),
        action: 'patient.bind',
        resource: { type: 'patient', id: index },
        outcome: 'success',
        reason: `binding ${id} of device ${deviceId}`,
        ...(actor?.breakGlass ? { breakGlass: true } : {}),
      });
      return toBinding(row);
    },

    /** Ends a binding at `at` (default now). NOT_FOUND if the device has no such binding. */
    async end(deviceId: string, bindingId: string, at?: number, actor?: Principal): Promise<Binding> {
      const t = checkTime(at ?? now(), '/at');
      const updated = await store.db.transaction().execute(async (trx) => {
        await store.lock(trx, 'patient-bindings');
        const row = await trx
          .selectFrom('patient_bindings')
          .selectAll()
          .where('id', '=', bindingId)
          .where('device_id', '=', deviceId)
          .executeTakeFirst();
        if (!row) throw new PulsegateError('NOT_FOUND');
        if (t <= Number(row.bound_from)) {
          throw new PulsegateError('VALIDATION_FAILED', 'A binding cannot end before it starts', {
            fields: [{ pointer: '/at', problem: 'must be after the start of the binding' }],
          });
        }
        if (row.bound_until !== null && Number(row.bound_until) <= t) {
          throw new PulsegateError('CONFLICT', 'The binding has already ended');
        }
        await trx
          .updateTable('patient_bindings')
          .set({ bound_until: t })
          .where('id', '=', bindingId)
          .execute();
        return { ...row, bound_until: t };
      });
      cache.delete(deviceId);
      await audit.append({
        actor: actorOf(actor),
        action: 'patient.unbind',
        resource: { type: 'patient', id: updated.patient_index },
        outcome: 'success',
        reason: `binding ${bindingId} of device ${deviceId}`,
      });
      return toBinding(updated);
    },

    /** Ends the device's binding in force at `at` (default now); null when there is none. */
    async unbind(deviceId: string, at?: number, actor?: Principal): Promise<Binding | null> {
      const t = checkTime(at ?? now(), '/at');
      const current = await service.bindingAt(deviceId, t);
      return current ? service.end(deviceId, current.id, t, actor) : null;
    },

    /** The binding (with the patient identifier) in force for the device at `time`, or null. Cached. */
    async bindingAt(deviceId: string, time: number): Promise<BindingWithPatient | null> {
      return (await service.bindingsAt([{ deviceId, time }]))[0]!;
    },

    /** `bindingAt` for many devices at once (the ingest path): one query for all uncached devices. */
    async bindingsAt(
      lookups: ReadonlyArray<{ deviceId: string; time: number }>,
    ): Promise<Array<BindingWithPatient | null>> {
      await load(lookups.map((l) => l.deviceId));
      return lookups.map(({ deviceId, time }) => {
        for (const b of cache.get(deviceId)?.bindings ?? []) if (covers(b, time)) return b;
        return null;
      });
    },

    /** Every binding of the device, oldest first, with patient identifiers (callers authorise). */
    async list(deviceId: string): Promise<BindingWithPatient[]> {
      const rows = await store.db
        .selectFrom('patient_bindings')
        .selectAll()
        .where('device_id', '=', deviceId)
        .orderBy('bound_from')
        .execute();
      return open(rows);
    },

    /** The devices bound to the patient, optionally only bindings overlapping [from, to). */
    async devicesForPatient(
      patientId: string,
      range: { from?: number; to?: number } = {},
    ): Promise<Binding[]> {
      return devicesForIndex(indexOf(patientId), range);
    },

    devicesForIndex,

    /**
     * The patient identifier behind a blind index, from the most recent binding that carries it;
     * null when no binding does (callers authorise and audit).
     */
    async patientIdOf(patientIndex: string): Promise<string | null> {
      const rows = await store.db
        .selectFrom('patient_bindings')
        .selectAll()
        .where('patient_index', '=', patientIndex)
        .orderBy('bound_from', 'desc')
        .limit(1)
        .execute();
      const [opened] = await open(rows);
      return opened?.patientId ?? null;
    },

    /** The devices ever bound to a blind index, with their binding times (callers authorise). */
    async bindingsOfIndex(patientIndex: string): Promise<Binding[]> {
      const rows = await store.db
        .selectFrom('patient_bindings')
        .selectAll()
        .where('patient_index', '=', patientIndex)
        .orderBy('bound_from')
        .execute();
      return rows.map(toBinding);
    },

    /** Forgets cached bindings (all, or one device's). */
    invalidate(deviceId?: string): void {
      if (deviceId === undefined) cache.clear();
      else cache.delete(deviceId);
    },
  };
  return service;
}

export type PatientBindings = ReturnType<typeof createPatientBindings>;
