import type { ErrorCode } from '../errors.js';
import type { EventBus, PulsegateEvents } from '../events/index.js';
import type { IngestMessage, IngestOutcome } from '../ingest/index.js';
import type { EpochKeys, KeyService } from '../keys/index.js';
import {
  type BulkColumn,
  type BulkValue,
  bulkInsert,
  type Database,
  forUpdate,
  type Kysely,
  type Store,
  type Transaction,
} from '../store/index.js';
import type { ParsedAlarm, ParsedMessage, ParsedObservation } from './parse-message.js';
import { encodeReading, periodOf, readingAad, scopeOf, vitalsOf } from './reading-codec.js';

/** What the writer needs from patient bindings. */
export interface BindingLookup {
  bindingsAt(
    lookups: ReadonlyArray<{ deviceId: string; time: number }>,
  ): Promise<Array<{ patientIndex: string; patientId: string } | null>>;
}

export interface WriterOptions {
  store: Store;
  keys: KeyService;
  epochs: EpochKeys;
  bus: EventBus;
  patients: BindingLookup;
  now: () => number;
  /** Flush when this many messages wait (default 8,192). */
  maxBatch?: number;
  /** Or after this long (default 2 ms). */
  lingerMs?: number;
  /** Write `devices.last_seen_at` at most this often per device (default 5 s). */
  lastSeenEveryMs?: number;
  /**
   * Called after commit with the devices whose first accepted message moved them from enrolled to
   * active (audits the change); the batch's messages are acknowledged once it has finished.
   */
  onActivated?: (deviceIds: string[], at: number) => Promise<void>;
  /** Called for each message after its batch committed (in-process observers; carries values). */
  onStored?: (message: CommittedMessage) => void;
}

/** One message as committed: what in-process observers (clinical monitoring) receive. PHI: never log it. */
export interface CommittedMessage {
  deviceId: string;
  seq: number;
  ts: number;
  patientId: string | null;
  patientIndex: string | null;
  observations: readonly ParsedObservation[];
  alarms: readonly ParsedAlarm[];
}

interface Job {
  msg: IngestMessage;
  parsed: ParsedMessage;
  resolve(outcome: IngestOutcome): void;
  reject(error: unknown): void;
}

const COLUMNS: readonly BulkColumn[] = [
  { name: 'device_id', type: 'text' },
  { name: 'observed_at', type: 'bigint' },
  { name: 'seq', type: 'bigint' },
  { name: 'received_at', type: 'bigint' },
  { name: 'patient_index', type: 'text' },
  { name: 'key_period', type: 'text' },
  { name: 'vitals', type: 'text' },
  { name: 'flagged', type: 'bigint' },
  { name: 'sealed', type: 'bytea' },
  { name: 'care_unit', type: 'text' },
];
/** Index of `care_unit` in a row: filled inside the transaction, from the inventory as it is then. */
const CARE_UNIT = 9;
const CHUNK = 500;
/**
 * PostgreSQL deadlock and serialization failures, and a unique violation (another node stored
 * the same receipt concurrently): the batch is simply tried again, and then sees the receipt.
 */
const RETRYABLE = new Set(['40P01', '40001', '23505']);

const receiptKey = (job: Job) =>
  job.msg.receipt ? `${job.msg.receipt.sender}\u0000${job.msg.receipt.id}` : undefined;

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let at = 0; at < items.length; at += size) out.push(items.slice(at, at + size));
  return out;
}

/**
 * Lets the event loop read sockets and run timers before going on. Everything from a batch's
 * validation to its acknowledgements is otherwise one run of promise continuations (SQLite answers
 * synchronously), during which no message, not even one that should raise an alert, is read.
 * Measured with 1,000 devices at 10,000 msg/s (`npm run bench -- monitor`, SQLite): event-loop
 * delay p99 14-54 ms before, 7.5-18 ms after; publish-to-alert p99 39-139 ms (eight runs) before,
 * 18-50 ms in six of seven runs after (one 68 ms), 15-39 ms in seven more once nonces were pooled.
 */
const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Acknowledgements released between two yields (each may write a PUBACK to a TLS socket). */
const RELEASE_CHUNK = 128;

/** What the bus learns of a message: identifiers, counts and times, never values. */
function messageFacts(msg: IngestMessage, parsed: ParsedMessage): PulsegateEvents['telemetry.stored'] {
  return {
    deviceId: msg.deviceId,
    seq: parsed.seq,
    count: parsed.observations.length,
    bytes: msg.payload.length,
    receivedAt: msg.receivedAt,
    source: msg.source,
    flagged: parsed.flagged,
    deviceTs: parsed.ts,
  };
}

/**
 * Group commit for ingest. Concurrent `submit` calls queue up; a batch is written when
 * `maxBatch` messages wait or `lingerMs` after the first (and while one batch commits, the next
 * gathers everything that arrives), as one transaction: per-device state rows are read under
 * row locks (`forUpdate`), sequence numbers are checked against them, readings are inserted and
 * the state moves on. Encryption happens before the transaction, because the key service may need the
 * database itself (SQLite has one connection). Nothing resolves before the commit, which is
 * durable (SQLite WAL with synchronous=FULL; PostgreSQL synchronous_commit).
 */
export class IngestWriter {
  readonly #o: Required<Omit<WriterOptions, 'onActivated' | 'onStored'>> &
    Pick<WriterOptions, 'onActivated' | 'onStored'>;
  #queue: Job[] = [];
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** Last committed seq per device (a cache; the database decides). */
  readonly #lastSeq = new Map<string, number>();
  readonly #hasState = new Set<string>();
  readonly #lastSeenAt = new Map<string, number>();

  constructor(options: WriterOptions) {
    this.#o = { maxBatch: 8192, lingerMs: 2, lastSeenEveryMs: 5000, ...options };
  }

  submit(msg: IngestMessage, parsed: ParsedMessage): Promise<IngestOutcome> {
    this.#o.bus.emit('telemetry.received', messageFacts(msg, parsed));
    return new Promise((resolve, reject) => {
      this.#queue.push({ msg, parsed, resolve, reject });
      // Kicked after the current synchronous run of submits, so that the messages of one
      // `ingest` call (one receipt) are queued together before a batch is cut.
      if (this.#queue.length >= this.#o.maxBatch) queueMicrotask(() => this.#kick());
      else this.#timer ??= setTimeout(() => this.#kick(), this.#o.lingerMs);
    });
  }

  /**
   * Forgets the cached last sequence number of a device that enrolled afresh (its stored one was
   * deleted in the enrollment's transaction, `restartSequenceIn`), so it counts from the start.
   */
  forgetSequence(deviceId: string): void {
    this.#lastSeq.delete(deviceId);
    this.#hasState.delete(deviceId);
  }

  /** Resolves when everything queued so far is written. */
  async drain(): Promise<void> {
    while (this.#queue.length > 0 || this.#running) {
      this.#kick();
      await this.#running;
    }
  }

  #kick(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#running) return;
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
      if (this.#queue.length > 0) this.#kick();
    });
  }

  async #loop(): Promise<void> {
    while (this.#queue.length > 0) {
      // Messages of one receipt stay in one batch (one transaction): stored whole or not at all.
      let end = Math.min(this.#o.maxBatch, this.#queue.length);
      const last = end > 0 ? receiptKey(this.#queue[end - 1]!) : undefined;
      while (last !== undefined && end < this.#queue.length && receiptKey(this.#queue[end]!) === last) end++;
      const batch = this.#queue.splice(0, end);
      try {
        await yieldToIo();
        await this.#write(batch);
      } catch (error) {
        for (const job of batch) job.reject(error);
      }
    }
  }

  #refuse(job: Job, code: ErrorCode): void {
    const { msg } = job;
    this.#o.bus.emit('telemetry.rejected', {
      deviceId: msg.deviceId,
      code,
      source: msg.source,
      receivedAt: msg.receivedAt,
      bytes: msg.payload.length,
      seq: job.parsed.seq,
    });
    job.resolve({ ok: false, code });
  }

  async #write(batch: Job[]): Promise<void> {
    const { keys, epochs, patients } = this.#o;
    await epochs.refresh();
    const oldest = epochs.oldestPeriod();
    // Cheap refusals first, from the cache of committed state and the batch's own order. The
    // messages of one receipt are consecutive and refused together: stored whole or not at all.
    const running = new Map<string, number | undefined>();
    const jobs: Job[] = [];
    const refusals: Array<[Job, ErrorCode]> = [];
    for (let i = 0; i < batch.length; ) {
      const key = receiptKey(batch[i]!);
      let end = i + 1;
      while (key !== undefined && end < batch.length && receiptKey(batch[end]!) === key) end++;
      const saved = new Map<string, number | undefined>();
      const group: Job[] = [];
      let refused: ErrorCode | undefined;
      for (const job of batch.slice(i, end)) {
        const { deviceId } = job.msg;
        if (!saved.has(deviceId)) saved.set(deviceId, running.get(deviceId));
        const last = running.get(deviceId) ?? this.#lastSeq.get(deviceId) ?? -1;
        const code: ErrorCode | undefined =
          job.parsed.seq <= last
            ? 'TELEMETRY_REPLAY'
            : // Data of a period already shredded by retention could never be read again.
              periodOf(job.parsed.ts) < oldest
              ? 'TELEMETRY_CLOCK_SKEW'
              : undefined;
        if (code && key === undefined) refusals.push([job, code]);
        else if (code) refused ??= code;
        else {
          running.set(deviceId, job.parsed.seq);
          group.push(job);
        }
      }
      if (refused) {
        for (const [d, seq] of saved) running.set(d, seq);
        for (const job of batch.slice(i, end)) refusals.push([job, refused]);
      } else jobs.push(...group);
      i = end;
    }
    for (const [job, code] of refusals) this.#refuse(job, code);
    if (jobs.length === 0) return;

    const bindings = await patients.bindingsAt(
      jobs.map((j) => ({ deviceId: j.msg.deviceId, time: j.parsed.ts })),
    );
    const rows: BulkValue[][] = new Array(jobs.length);
    const groups = new Map<string, { index: number[]; plaintext: Buffer[]; aad: Buffer[] }>();
    for (let i = 0; i < jobs.length; i++) {
      const { msg, parsed } = jobs[i]!;
      const binding = bindings[i];
      const period = periodOf(parsed.ts);
      const row = {
        device_id: msg.deviceId,
        observed_at: parsed.ts,
        seq: parsed.seq,
        key_period: period,
        patient_index: binding?.patientIndex ?? null,
        vitals: vitalsOf(parsed.observations),
      };
      rows[i] = [
        row.device_id,
        row.observed_at,
        row.seq,
        msg.receivedAt,
        row.patient_index,
        period,
        row.vitals,
        parsed.flagged,
        null,
        null,
      ];
      const scope = `${row.patient_index ?? `device:${msg.deviceId}`}\u0000${period}`;
      let group = groups.get(scope);
      if (!group) {
        group = { index: [], plaintext: [], aad: [] };
        groups.set(scope, group);
      }
      group.index.push(i);
      group.plaintext.push(encodeReading(parsed, binding?.patientId ?? null));
      group.aad.push(readingAad(row));
    }
    const byPeriod = new Map<string, Buffer[]>();
    await Promise.all(
      [...groups.values()].map(async (g) => {
        const first = rows[g.index[0]!]!;
        const scope = scopeOf(first[0] as string, first[4] as string | null, first[5] as string);
        const sealed = await keys.encryptMany(
          scope,
          g.plaintext.map((plaintext, k) => ({ plaintext, aad: g.aad[k]! })),
        );
        const list = byPeriod.get(scope.period) ?? [];
        byPeriod.set(scope.period, list);
        for (let k = 0; k < sealed.length; k++) {
          rows[g.index[k]!]![8] = sealed[k]!;
          list.push(sealed[k]!);
        }
      }),
    );
    for (const [period, sealed] of byPeriod) epochs.mask(period, sealed);

    const t = this.#o.now();
    let accepted: boolean[] = [];
    let duplicate: boolean[] = [];
    const boundTo = bindings;
    let state = new Map<string, number>();
    let activated: string[] = [];
    for (let attempt = 1; ; attempt++) {
      try {
        ({ accepted, duplicate, state, activated } = await this.#commit(jobs, rows, t));
        break;
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (attempt >= 3 || !code || !RETRYABLE.has(code)) throw error;
      }
    }
    for (const [deviceId, seq] of state) {
      this.#lastSeq.set(deviceId, seq);
      this.#hasState.add(deviceId);
    }
    for (const deviceId of activated)
      this.#o.bus.emit('device.changed', { deviceId, change: 'lifecycle.active', at: t });
    if (activated.length > 0) await this.#o.onActivated?.(activated, t);
    for (let i = 0; i < jobs.length; i++) {
      if (i > 0 && i % RELEASE_CHUNK === 0) await yieldToIo();
      const { msg, parsed, resolve } = jobs[i]!;
      if (duplicate[i]) {
        resolve({ ok: false, code: 'TELEMETRY_DUPLICATE' });
        continue;
      }
      if (!accepted[i]) {
        this.#refuse(jobs[i]!, 'TELEMETRY_REPLAY');
        continue;
      }
      this.#o.bus.emit('telemetry.stored', messageFacts(msg, parsed));
      resolve({ ok: true, stored: parsed.observations.length, flagged: parsed.flagged });
      this.#o.onStored?.({
        deviceId: msg.deviceId,
        seq: parsed.seq,
        ts: parsed.ts,
        patientId: boundTo[i]?.patientId ?? null,
        patientIndex: boundTo[i]?.patientIndex ?? null,
        observations: parsed.observations,
        alarms: parsed.alarms,
      });
    }
  }

  /** The transaction: lock and read device state, decide, insert, move state and last-seen on. */
  async #commit(jobs: Job[], rows: BulkValue[][], t: number) {
    const { store } = this.#o;
    const devices = [...new Set(jobs.map((j) => j.msg.deviceId))].sort();
    return store.db.transaction().execute(async (trx) => {
      const fresh = devices.filter((d) => !this.#hasState.has(d));
      for (const part of chunks(fresh)) {
        await trx
          .insertInto('device_ingest_state')
          .values(part.map((device_id) => ({ device_id, last_seq: -1, last_ts: 0, updated_at: t })))
          .onConflict((oc) => oc.column('device_id').doNothing())
          .execute();
      }
      const state = new Map<string, number>();
      for (const part of chunks(devices)) {
        const locked = await forUpdate(
          store,
          trx
            .selectFrom('device_ingest_state')
            .select(['device_id', 'last_seq'])
            .where('device_id', 'in', part),
        ).execute();
        for (const r of locked) state.set(r.device_id, Number(r.last_seq));
      }
      const held = await this.#heldReceipts(trx, jobs);
      const accepted = new Array<boolean>(jobs.length).fill(false);
      const duplicate = new Array<boolean>(jobs.length).fill(false);
      const keep: Array<BulkValue[] | null> = [];
      const lastTs = new Map<string, number>();
      // Jobs of one receipt are consecutive; if one of them cannot be stored, none is.
      const receipts = new Map<string, { sender: string; id: string; readings: number; ok: boolean }>();
      let group:
        | { key: string; from: number; saved: Map<string, [number | undefined, number | undefined]> }
        | undefined;
      const failGroup = (g: NonNullable<typeof group>, to: number) => {
        for (let k = g.from; k < to; k++) {
          if (accepted[k]) keep[keep.indexOf(rows[k]!)] = null;
          accepted[k] = false;
        }
        for (const [d, [seq, ts]] of g.saved) {
          if (seq === undefined) state.delete(d);
          else state.set(d, seq);
          if (ts === undefined) lastTs.delete(d);
          else lastTs.set(d, ts);
        }
        receipts.get(g.key)!.ok = false;
      };
      for (let i = 0; i < jobs.length; i++) {
        const { msg, parsed } = jobs[i]!;
        const key = receiptKey(jobs[i]!);
        if (key !== group?.key) group = undefined;
        if (key !== undefined) {
          // Stored already, or by an earlier group of this batch with the same receipt (two
          // copies of one message submitted at once): a duplicate either way.
          if (held.has(key) || (!group && receipts.has(key))) {
            duplicate[i] = true;
            continue;
          }
          if (!group) {
            group = { key, from: i, saved: new Map() };
            if (!receipts.has(key)) receipts.set(key, { ...msg.receipt!, readings: 0, ok: true });
          }
          if (!receipts.get(key)!.ok) continue;
          if (!group.saved.has(msg.deviceId))
            group.saved.set(msg.deviceId, [state.get(msg.deviceId), lastTs.get(msg.deviceId)]);
        }
        if (parsed.seq <= (state.get(msg.deviceId) ?? -1)) {
          if (group) failGroup(group, i);
          continue;
        }
        accepted[i] = true;
        state.set(msg.deviceId, parsed.seq);
        lastTs.set(msg.deviceId, parsed.ts);
        keep.push(rows[i]!);
        if (key !== undefined) receipts.get(key)!.readings++;
      }
      const kept = keep.filter((r): r is BulkValue[] => r !== null);
      const units = await this.#careUnits(trx, devices);
      for (const row of kept) {
        const place = units.get(row[0] as string);
        // Observed before the device's last move (a buffered upload): no unit, fail closed.
        row[CARE_UNIT] =
          place && (place.since === null || (row[1] as number) >= place.since) ? place.unit : null;
      }
      for (const part of chunks(kept, 2000))
        await bulkInsert(store, trx, 'telemetry_readings', COLUMNS, part);
      const stored = [...receipts.values()].filter((r) => r.ok && r.readings > 0);
      for (const part of chunks(stored)) {
        await trx
          .insertInto('ingest_receipts')
          .values(
            part.map((r) => ({
              sender_id: r.sender,
              message_id: r.id,
              received_at: t,
              readings: r.readings,
            })),
          )
          .execute();
      }
      const moved = [...lastTs.keys()];
      for (const part of chunks(moved)) {
        await trx
          .insertInto('device_ingest_state')
          .values(
            part.map((device_id) => ({
              device_id,
              last_seq: state.get(device_id)!,
              last_ts: lastTs.get(device_id)!,
              updated_at: t,
            })),
          )
          .onConflict((oc) =>
            oc.column('device_id').doUpdateSet((eb) => ({
              last_seq: eb.ref('excluded.last_seq'),
              last_ts: eb.ref('excluded.last_ts'),
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .execute();
      }
      // The inventory's last-seen time, at most every few seconds per device (not per message);
      // an enrolled device whose data is accepted is in service: it becomes active (once).
      const seen = moved.filter((d) => t - (this.#lastSeenAt.get(d) ?? 0) >= this.#o.lastSeenEveryMs);
      const activated: string[] = [];
      for (const part of chunks(seen)) {
        await trx.updateTable('devices').set({ last_seen_at: t }).where('id', 'in', part).execute();
        const moved = await trx
          .updateTable('devices')
          .set((eb) => ({ lifecycle: 'active', updated_at: t, version: eb('version', '+', 1) }))
          .where('id', 'in', part)
          .where('lifecycle', '=', 'enrolled')
          .returning('id')
          .execute();
        for (const r of moved) activated.push(r.id);
      }
      for (const d of seen) this.#lastSeenAt.set(d, t);
      return { accepted, duplicate, state, activated };
    });
  }

  /**
   * Each device's care unit, and since when, as the inventory has it inside the batch's transaction: a reading
   * keeps the unit it was taken in, so it is read afresh for every batch (never cached, a move
   * applies to the next batch), in one query per chunk of devices rather than per message.
   */
  async #careUnits(
    trx: Transaction<Database>,
    devices: readonly string[],
  ): Promise<Map<string, { unit: string | null; since: number | null }>> {
    const units = new Map<string, { unit: string | null; since: number | null }>();
    for (const part of chunks(devices)) {
      const found = await trx
        .selectFrom('devices')
        .select(['id', 'care_unit', 'care_unit_since'])
        .where('id', 'in', part)
        .execute();
      for (const d of found)
        units.set(d.id, {
          unit: d.care_unit,
          since: d.care_unit_since === null ? null : Number(d.care_unit_since),
        });
    }
    return units;
  }

  /** The receipts among the batch's jobs that are already stored. */
  async #heldReceipts(trx: Transaction<Database>, jobs: Job[]): Promise<Set<string>> {
    const bySender = new Map<string, Set<string>>();
    for (const j of jobs) {
      const r = j.msg.receipt;
      if (!r) continue;
      const ids = bySender.get(r.sender) ?? new Set<string>();
      bySender.set(r.sender, ids);
      ids.add(r.id);
    }
    // One primary-key range per sender (the key is sender, message id).
    const held = new Set<string>();
    for (const [sender, ids] of bySender) {
      for (const part of chunks([...ids])) {
        const found = await trx
          .selectFrom('ingest_receipts')
          .select('message_id')
          .where('sender_id', '=', sender)
          .where('message_id', 'in', part)
          .execute();
        for (const f of found) held.add(`${sender}\u0000${f.message_id}`);
      }
    }
    return held;
  }
}

/**
 * Deletes a device's stored last sequence number inside the caller's transaction: the PKI calls it
 * when a device enrolls afresh (replaced, reflashed or re-commissioned after quarantine), so the
 * device counts from the start again as soon as its new certificate exists. Between enrollments
 * the counter must keep rising, across reboots too: a lower one is a replay (TELEMETRY_REPLAY,
 * and a `device.replay` alert). A renewal keeps the count.
 */
export async function restartSequenceIn(
  db: Kysely<Database> | Transaction<Database>,
  deviceId: string,
): Promise<void> {
  await db.deleteFrom('device_ingest_state').where('device_id', '=', deviceId).execute();
}
