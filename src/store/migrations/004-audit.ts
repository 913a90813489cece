import type { Kysely } from 'kysely';
import { columnTypes, type DialectName } from '../dialect.js';

/** The append-only audit log and its signed checkpoints. */
export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const { blob } = columnTypes(dialect);
  await db.schema
    .createTable('audit_entries')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('entry', 'text', (c) => c.notNull())
    .addColumn('leaf_hash', blob, (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull())
    .execute();
  // Filters of GET /api/v1/audit/entries, each paged by seq.
  await db.schema
    .createIndex('audit_entries_actor')
    .on('audit_entries')
    .columns(['actor_id', 'seq'])
    .execute();
  await db.schema
    .createIndex('audit_entries_action')
    .on('audit_entries')
    .columns(['action', 'seq'])
    .execute();
  await db.schema.createIndex('audit_entries_time').on('audit_entries').column('created_at').execute();
  await db.schema
    .createTable('audit_checkpoints')
    .addColumn('tree_size', 'bigint', (c) => c.primaryKey())
    .addColumn('root_hash', blob, (c) => c.notNull())
    .addColumn('note', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
}
