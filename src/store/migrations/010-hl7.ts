import type { Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

/**
 * HL7 v2 feeds: devices get an IEEE EUI-64 (how PCD-01 messages name them in OBX-18, unique) and
 * the gateway that reports for them; `hl7_messages` remembers each stored message by sender and
 * MSH-10 so that a resent message is acknowledged again but stored once.
 */
export async function up(db: Kysely<unknown>, _dialect: DialectName): Promise<void> {
  await db.schema.alterTable('devices').addColumn('eui64', 'text').execute();
  await db.schema.alterTable('devices').addColumn('gateway_id', 'text').execute();
  // NULLs are distinct in a unique index on both dialects: devices without an EUI-64 coexist.
  await db.schema.createIndex('devices_eui64').on('devices').column('eui64').unique().execute();
  await db.schema.createIndex('devices_gateway').on('devices').columns(['gateway_id', 'id']).execute();

  await db.schema
    .createTable('hl7_messages')
    .addColumn('sender_id', 'text', (c) => c.notNull())
    .addColumn('control_id', 'text', (c) => c.notNull())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('observations', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('hl7_messages_pk', ['sender_id', 'control_id'])
    .execute();
  await db.schema.createIndex('hl7_messages_received').on('hl7_messages').column('received_at').execute();
}
