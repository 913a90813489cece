/**
 * `serve` checks the master key before it applies pending migrations: started with a wrong key,
 * it stops with KEY_MASTER_WRONG and the database is left exactly as it was.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateMasterKey } from '../src/keys/index.js';
import { openStore } from '../src/store/index.js';
import { cli, initWithCli, tick } from './support/processes.js';

let dir: string;
let data: string;

beforeAll(async () => {
  ({ dir, data } = await initWithCli('pulsegate-serve-key-'));
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('refuses to start with a wrong master key before any pending migration runs', async () => {
  // Pretend the newest migration is still pending.
  const store = openStore({ sqliteFile: join(data, 'pulsegate.db') });
  const applied = async () =>
    (
      await store.db
        .selectFrom('kysely_migration' as never)
        .select('name' as never)
        .execute()
    ).map((r) => (r as { name: string }).name);
  const before = await applied();
  const newest = before.sort().at(-1)!;
  await store.db
    .deleteFrom('kysely_migration' as never)
    .where('name' as never, '=', newest as never)
    .execute();
  const wrong = generateMasterKey().toString('base64');
  await tick();
  const serve = cli(['serve', '--data', data], { PULSEGATE_MASTER_KEY: wrong });
  expect(serve.code).not.toBe(0);
  expect(serve.stderr).toContain('KEY_MASTER_WRONG');
  expect(await applied()).not.toContain(newest);
  await store.close();
});
