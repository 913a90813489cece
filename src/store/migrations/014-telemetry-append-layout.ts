import { type Kysely, sql } from 'kysely';
import type { DialectName } from '../dialect.js';

/**
 * SQLite only: telemetry readings move from a WITHOUT ROWID table clustered on
 * (device_id, observed_at, seq) to an ordinary rowid table whose rows append in arrival order, with
 * the same key as a unique index. Measured with 1,000 devices and 1,000-row commits (SQLite WAL,
 * synchronous FULL): the clustered layout rewrote about one full table page per device per commit
 * (each device's rows live in their own leaf), 27-29 CPU µs per row; the append layout touches
 * only the small index pages per device, 13-15 µs per row, and its WAL is several times smaller.
 * PostgreSQL tables are heaps already (the primary key is a separate index), so nothing changes there.
 */
export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  if (dialect !== 'sqlite') return;
  await sql`create table telemetry_readings_v2 (
    device_id text not null,
    observed_at bigint not null,
    seq bigint not null,
    received_at bigint not null,
    patient_index text,
    key_period text not null,
    vitals text not null,
    flagged integer not null,
    sealed blob not null
  )`.execute(db);
  await sql`insert into telemetry_readings_v2
    select device_id, observed_at, seq, received_at, patient_index, key_period, vitals, flagged, sealed
    from telemetry_readings order by observed_at`.execute(db);
  await sql`drop table telemetry_readings`.execute(db);
  await sql`alter table telemetry_readings_v2 rename to telemetry_readings`.execute(db);
  await sql`create unique index telemetry_readings_pk on telemetry_readings (device_id, observed_at, seq)`.execute(
    db,
  );
  await sql`create index telemetry_readings_patient on telemetry_readings (patient_index, observed_at)
    where patient_index is not null`.execute(db);
  await sql`create index telemetry_readings_time on telemetry_readings (observed_at)`.execute(db);
}
