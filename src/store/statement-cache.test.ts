import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { withStatementCache } from './statement-cache.js';

describe('SQLite statement cache', () => {
  let raw: SqliteDatabase.Database | undefined;
  afterEach(() => {
    if (raw?.open) raw.close();
    raw = undefined;
  });

  function open(capacity?: number) {
    raw = new SqliteDatabase(':memory:');
    raw.exec('create table t (id integer primary key, name text not null)');
    raw.exec("insert into t (name) values ('a'), ('b'), ('c')");
    const cached = withStatementCache(raw, capacity);
    return {
      cached,
      db: new Kysely<{ t: { id: number; name: string } }>({
        dialect: new SqliteDialect({ database: cached }),
      }),
    };
  }

  it('reuses one prepared statement per SQL text, binding each call its own parameters', async () => {
    const { cached, db } = open();
    const text = 'select name from t where id = ?';
    expect(cached.prepare(text)).toBe(cached.prepare(text));
    const byId = (id: number) => db.selectFrom('t').select('name').where('id', '=', id).executeTakeFirst();
    expect(await Promise.all([byId(1), byId(2), byId(9)])).toEqual([{ name: 'a' }, { name: 'b' }, undefined]);
    await db.updateTable('t').set({ name: 'z' }).where('id', '=', 1).execute();
    expect(await byId(1)).toEqual({ name: 'z' });
  });

  it('hands a statement still iterating to nobody else, and keeps at most `capacity`', async () => {
    const { cached, db } = open(2);
    const query = db.selectFrom('t').select('id').orderBy('id');
    const text = query.compile().sql;
    const first = cached.prepare(text);
    const rows: number[] = [];
    for await (const row of query.stream()) {
      // The stream holds Kysely's only connection, so interleave on the raw cache instead.
      const other = cached.prepare(text);
      if (other === first || !first.busy) rows.push(-1);
      rows.push(row.id);
    }
    expect(rows).toEqual([1, 2, 3]);
    cached.prepare('select 1');
    cached.prepare('select 2');
    expect(cached.prepare(text)).not.toBe(first);
  });

  it('still reports SQL errors, and a failed statement stays usable', async () => {
    const { db } = open();
    const insert = (id: number) => db.insertInto('t').values({ id, name: 'x' }).execute();
    await expect(insert(1)).rejects.toThrow(/UNIQUE/);
    await insert(4);
    expect((await sql<{ n: number }>`select count(*) as n from t`.execute(db)).rows[0]!.n).toBe(4);
  });
});
