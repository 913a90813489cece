import type { Kysely } from 'kysely';
import { columnTypes, type DialectName } from '../dialect.js';

/** Device PKI: one-time EST enrollment tokens and the issued certificates. */
export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const { blob } = columnTypes(dialect);
  await db.schema
    .createTable('enrollment_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('token_hash', blob, (c) => c.notNull().unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('enrollment_tokens_device')
    .on('enrollment_tokens')
    .columns(['device_id', 'created_at'])
    .execute();
  await db.schema
    .createTable('certificates')
    .addColumn('serial', 'text', (c) => c.primaryKey())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('not_before', 'bigint', (c) => c.notNull())
    .addColumn('not_after', 'bigint', (c) => c.notNull())
    .addColumn('public_key_sha256', 'text', (c) => c.notNull())
    .addColumn('fingerprint_sha256', 'text', (c) => c.notNull().unique())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .addColumn('revocation_reason', 'text')
    .addColumn('issued_at', 'bigint', (c) => c.notNull())
    .addColumn('der', blob, (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('certificates_device')
    .on('certificates')
    .columns(['device_id', 'status'])
    .execute();
  // The CRL lists revoked and superseded certificates that have not expired yet.
  await db.schema
    .createIndex('certificates_status')
    .on('certificates')
    .columns(['status', 'not_after'])
    .execute();
  await db.schema
    .createIndex('certificates_public_key')
    .on('certificates')
    .column('public_key_sha256')
    .execute();
}
