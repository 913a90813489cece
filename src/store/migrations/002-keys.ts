import { type Kysely, sql } from 'kysely';
import { columnTypes, type DialectName } from '../dialect.js';

/** Wrapped data keys and encrypted signing keys. */
export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const { blob } = columnTypes(dialect);
  await db.schema
    .createTable('data_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('period', 'text', (c) => c.notNull())
    .addColumn('wrapped', blob, (c) => c.notNull())
    .addColumn('master_key_id', 'text', (c) => c.notNull())
    .addColumn('uses', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('retired_at', 'bigint')
    .addColumn('shredded_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('data_keys_lookup')
    .on('data_keys')
    .columns(['purpose', 'subject', 'period', 'status'])
    .execute();
  // At most one active data key per scope, whatever several processes do at once.
  await db.schema
    .createIndex('data_keys_one_active')
    .on('data_keys')
    .columns(['purpose', 'subject', 'period'])
    .unique()
    .where(sql.ref('status'), '=', 'active')
    .execute();
  await db.schema
    .createTable('signing_keys')
    .addColumn('kid', 'text', (c) => c.primaryKey())
    .addColumn('use', 'text', (c) => c.notNull())
    .addColumn('alg', 'text', (c) => c.notNull())
    .addColumn('public_jwk', 'text', (c) => c.notNull())
    .addColumn('private_enc', blob, (c) => c.notNull())
    .addColumn('master_key_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('retired_at', 'bigint')
    .addColumn('seq', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}
