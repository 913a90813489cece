import type { ErrorCode } from '../errors.js';
import type { EventBus } from '../events/index.js';
import type { IngestMessage, IngestOutcome } from '../ingest/index.js';
import type { EpochKeys, KeyService } from '../keys/index.js';
import { type BulkColumn, type BulkValue, bulkInsert, forUpdate, type Store } from '../store/index.js';
import type { ParsedMessage } from './parse-message.js';
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
];
const CHUNK = 500;
/** PostgreSQL deadlock and serialization failures: the batch is simply tried again. */
const RETRYABLE = new Set(['40P01', '40001']);

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let at = 0; at < items.length; at += size) out.push(items.slice(at, at + size));
  return out;
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
  readonly #o: Required<Omit<WriterOptions, 'onActivated'>> & Pick<WriterOptions, 'onActivated'>;
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
    return new Promise((resolve, reject) => {
      this.#queue.push({ msg, parsed, resolve, reject });
      if (this.#queue.length >= this.#o.maxBatch) this.#kick();
      else this.#timer ??= setTimeout(() => this.#kick(), this.#o.lingerMs);
    });
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
      const batch = this.#queue.splice(0, this.#o.maxBatch);
      try {
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
    });
    job.resolve({ ok: false, code });
  }

  async #write(batch: Job[]): Promise<void> {
    const { keys, epochs, patients } = this.#o;
    await epochs.refresh();
    const oldest = epochs.oldestPeriod();
    // Cheap refusals first, from the cache of committed state and the batch's own order.
    const running = new Map<string, number>();
    const jobs: Job[] = [];
    for (const job of batch) {
      const { deviceId } = job.msg;
      const last = running.get(deviceId) ?? this.#lastSeq.get(deviceId) ?? -1;
      if (job.parsed.seq <= last) this.#refuse(job, 'TELEMETRY_REPLAY');
      // Data of a period already shredded by retention could never be read again.
      else if (periodOf(job.parsed.ts) < oldest) this.#refuse(job, 'TELEMETRY_CLOCK_SKEW');
      else {
        running.set(deviceId, job.parsed.seq);
        jobs.push(job);
      }
    }
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
    let state = new Map<string, number>();
    let activated: string[] = [];
    for (let attempt = 1; ; attempt++) {
      try {
        ({ accepted, state, activated } = await this.#commit(jobs, rows, t));
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
      const { msg, parsed, resolve } = jobs[i]!;
      if (!accepted[i]) {
        this.#refuse(jobs[i]!, 'TELEMETRY_REPLAY');
        continue;
      }
      this.#o.bus.emit('telemetry.stored', {
        deviceId: msg.deviceId,
        seq: parsed.seq,
        count: parsed.observations.length,
        bytes: msg.payload.length,
        receivedAt: msg.receivedAt,
        source: msg.source,
        flagged: parsed.flagged,
      });
      resolve({ ok: true, stored: parsed.observations.length, flagged: parsed.flagged });
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
      const accepted = new Array<boolean>(jobs.length).fill(false);
      const keep: BulkValue[][] = [];
      const lastTs = new Map<string, number>();
      for (let i = 0; i < jobs.length; i++) {
        const { msg, parsed } = jobs[i]!;
        if (parsed.seq <= (state.get(msg.deviceId) ?? -1)) continue;
        accepted[i] = true;
        state.set(msg.deviceId, parsed.seq);
        lastTs.set(msg.deviceId, parsed.ts);
        keep.push(rows[i]!);
      }
      for (const part of chunks(keep, 2000))
        await bulkInsert(store, trx, 'telemetry_readings', COLUMNS, part);
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
      return { accepted, state, activated };
    });
  }
}
