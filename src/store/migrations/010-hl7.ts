import type { Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

/**
 * HL7 v2 feeds: devices get an IEEE EUI-64 (how PCD-01 messages name them in OBX-18, unique) and
 * the gateway that reports for them; `ingest_receipts` remembers each stored message by sender
 * and message id (HL7 MSH-10), written in the transaction that stores the readings, so that a
 * resent message is acknowledged again but stored once.
 */
export async function up(db: Kysely<unknown>, _dialect: DialectName): Promise<void> {
  await db.schema.alterTable('devices').addColumn('eui64', 'text').execute();
  await db.schema.alterTable('devices').addColumn('gateway_id', 'text').execute();
  // NULLs are distinct in a unique index on both dialects: devices without an EUI-64 coexist.
  await db.schema.createIndex('devices_eui64').on('devices').column('eui64').unique().execute();
  await db.schema.createIndex('devices_gateway').on('devices').columns(['gateway_id', 'id']).execute();

  await db.schema
    .createTable('ingest_receipts')
    .addColumn('sender_id', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text', (c) => c.notNull())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('readings', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('ingest_receipts_pk', ['sender_id', 'message_id'])
    .execute();
  await db.schema
    .createIndex('ingest_receipts_received')
    .on('ingest_receipts')
    .column('received_at')
    .execute();
}
