/**
 * `pulsegate audit verify` against direct tampering with the database, on SQLite and PostgreSQL:
 * changed bytes, a deleted entry, an inserted entry, two swapped entries and a forged checkpoint
 * signature each make it exit 3 naming the first bad entry; the intact log exits 0. Checkpoint
 * keys are trusted from outside the database (`pki/audit-verifier.vkey`, or keys that unwrap under
 * the master key), a rewritten log whose checkpoints were deleted fails on its unproven tail, and a
 * saved checkpoint (`--checkpoint`) catches a truncated log.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { createServices } from '../src/app.js';
import { checkpointBody, ed25519Signer, signNote } from '../src/audit/checkpoint.js';
import { leafHash } from '../src/audit/merkle.js';
import { loadConfig } from '../src/config/index.js';
import { createInstallation, installationLayout } from '../src/installation/index.js';
import { createLogger } from '../src/logging/logger.js';
import { openStore, type Store } from '../src/store/index.js';
import type { AuditCheckpointsTable, AuditEntriesTable } from '../src/store/tables/audit.js';
import { describeEachDialect } from '../src/testing/dialects.js';
import { createTestPostgresDatabase } from '../src/testing/stores.js';
import { cli } from './support/processes.js';

type Row = AuditEntriesTable;
type Checkpoint = AuditCheckpointsTable;

describeEachDialect('audit verify CLI', (_open, dialect) => {
  let dir: string;
  let data: string;
  let store: Store;
  let pristine: { entries: Row[]; checkpoints: Checkpoint[] };
  let dropDb: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pulsegate-verify-'));
    data = join(dir, 'd');
    const settings: Record<string, Record<string, unknown>> = {
      audit: { checkpointEveryEntries: 10 },
      log: { level: 'silent' },
    };
    let postgresUrl: string | undefined;
    if (dialect === 'postgres') {
      const db = await createTestPostgresDatabase();
      postgresUrl = db.url;
      dropDb = db.drop;
      settings.database = { url: postgresUrl };
    }
    await createInstallation({ dataDir: data, settings, env: {} });
    const services = await createServices(loadConfig(data, {}), {
      env: {},
      logger: createLogger({ level: 'silent' }),
    });
    for (let i = 0; i < 45; i++) {
      await services.audit.append({
        actor: { type: 'user', id: `u${i % 3}`, name: `user${i % 3}` },
        action: 'device.read',
        resource: { type: 'device', id: `dev-${i}` },
        outcome: 'success',
      });
    }
    await services.audit.checkpoint();
    await services.close();
    store = postgresUrl ? openStore({ postgresUrl }) : openStore({ sqliteFile: join(data, 'pulsegate.db') });
    pristine = {
      entries: (await store.db.selectFrom('audit_entries').selectAll().orderBy('seq').execute()) as Row[],
      checkpoints: (await store.db
        .selectFrom('audit_checkpoints')
        .selectAll()
        .orderBy('tree_size')
        .execute()) as Checkpoint[],
    };
    expect(pristine.entries.length).toBeGreaterThan(45);
    expect(pristine.checkpoints.length).toBeGreaterThan(3);
  }, 90_000);

  afterAll(async () => {
    await store?.close();
    await dropDb?.();
    rmSync(dir, { recursive: true, force: true });
  });

  // Each case starts from the pristine log.
  beforeEach(async () => {
    await store.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('audit_entries').execute();
      await trx.deleteFrom('audit_checkpoints').execute();
      for (let i = 0; i < pristine.entries.length; i += 200)
        await trx
          .insertInto('audit_entries')
          .values(pristine.entries.slice(i, i + 200))
          .execute();
      await trx.insertInto('audit_checkpoints').values(pristine.checkpoints).execute();
      await trx.deleteFrom('signing_keys').where('kid', 'like', 'forged-%').execute();
    });
  });

  function verify(...extra: string[]): {
    code: number | null;
    result: { ok: boolean; firstBadSeq?: number; problem?: string; keys?: string; unproven?: number };
  } {
    const r = cli(['audit', 'verify', '--data', data, '--json', ...extra]);
    return { code: r.code, result: JSON.parse(r.stdout) };
  }

  /** Rewrites entry `seq` (bytes and leaf hash together) with `change` applied. */
  async function rewrite(seq: number, change: (entry: string) => string): Promise<void> {
    const forged = change(pristine.entries[seq]!.entry);
    expect(forged).not.toBe(pristine.entries[seq]!.entry);
    await store.db
      .updateTable('audit_entries')
      .set({ entry: forged, leaf_hash: Buffer.from(leafHash(Buffer.from(forged))) })
      .where('seq', '=', seq)
      .execute();
  }

  /**
   * An attacker's own checkpoint key in the database, and every checkpoint replaced by one it
   * signed over the current (rewritten) log. Its private half is random bytes: the attacker has
   * no master key to wrap a real one with.
   */
  async function forgeCheckpoints(): Promise<void> {
    const origin = loadConfig(data, {}).audit.origin;
    const pair = generateKeyPairSync('ed25519');
    const signer = ed25519Signer(origin, pair.privateKey, pair.publicKey);
    const jwk = pair.publicKey.export({ format: 'jwk' });
    const current = await store.db
      .selectFrom('signing_keys')
      .selectAll()
      .where('use', '=', 'audit')
      .executeTakeFirstOrThrow();
    await store.db
      .insertInto('signing_keys')
      .values({
        kid: `forged-${randomBytes(4).toString('hex')}`,
        use: 'audit',
        alg: 'EdDSA',
        public_jwk: JSON.stringify({ ...jwk, alg: 'EdDSA', use: 'sig' }),
        private_enc: randomBytes(80),
        master_key_id: current.master_key_id,
        created_at: Date.now(),
        retired_at: null,
      })
      .execute();
    const { CompactRange } = await import('../src/audit/merkle.js');
    const rows = await store.db.selectFrom('audit_entries').select('leaf_hash').orderBy('seq').execute();
    const range = new CompactRange();
    for (const r of rows) range.append(Buffer.from(r.leaf_hash));
    const root = range.root();
    await store.db.deleteFrom('audit_checkpoints').execute();
    await store.db
      .insertInto('audit_checkpoints')
      .values({
        tree_size: rows.length,
        root_hash: root,
        note: await signNote(checkpointBody(origin, rows.length, root), signer),
        created_at: Date.now(),
      })
      .execute();
  }

  it('exits 0 on the intact log', () => {
    const { code, result } = verify();
    expect(code).toBe(0);
    expect(result).toMatchObject({ ok: true, size: pristine.entries.length });
  });

  it('names the entry whose bytes changed', async () => {
    const victim = pristine.entries[17]!;
    await store.db
      .updateTable('audit_entries')
      .set({ entry: victim.entry.replace('"device.read"', '"device.reed"') })
      .where('seq', '=', 17)
      .execute();
    const { code, result } = verify();
    expect(code).toBe(3);
    expect(result).toMatchObject({ ok: false, firstBadSeq: 17 });
  });

  it('names the entry whose bytes and leaf hash were both rewritten (caught by the signed root)', async () => {
    const { leafHash } = await import('../src/audit/merkle.js');
    const forged = pristine.entries[23]!.entry.replace('"success"', '"failure"');
    await store.db
      .updateTable('audit_entries')
      .set({ entry: forged, leaf_hash: Buffer.from(leafHash(Buffer.from(forged))) })
      .where('seq', '=', 23)
      .execute();
    const { code, result } = verify();
    expect(code).toBe(3);
    expect(result.ok).toBe(false);
    // Only the checkpoint root reveals it: the first entry of the range it covers is named.
    expect(result.firstBadSeq).toBeLessThanOrEqual(23);
    expect(result.firstBadSeq).toBeGreaterThan(23 - 11);
  });

  it('names a deleted entry', async () => {
    await store.db.deleteFrom('audit_entries').where('seq', '=', 30).execute();
    const { code, result } = verify();
    expect(code).toBe(3);
    expect(result).toMatchObject({ ok: false, firstBadSeq: 30 });
  });

  it('names an inserted entry', async () => {
    // Make room at seq 12 by shifting later rows up, then insert a forged entry there.
    const rows = pristine.entries.filter((r) => r.seq >= 12).sort((a, b) => b.seq - a.seq);
    for (const r of rows)
      await store.db
        .updateTable('audit_entries')
        .set({ seq: r.seq + 1 })
        .where('seq', '=', r.seq)
        .execute();
    const template = pristine.entries[12]!;
    await store.db
      .insertInto('audit_entries')
      .values({ ...template, entry: template.entry.replace('dev-', 'dev-x') })
      .execute();
    const { code, result } = verify();
    expect(code).toBe(3);
    expect(result).toMatchObject({ ok: false, firstBadSeq: 12 });
  });

  it('names the first of two swapped entries', async () => {
    const [a, b] = [pristine.entries[5]!, pristine.entries[9]!];
    await store.db
      .updateTable('audit_entries')
      .set({ entry: b.entry, leaf_hash: b.leaf_hash })
      .where('seq', '=', 5)
      .execute();
    await store.db
      .updateTable('audit_entries')
      .set({ entry: a.entry, leaf_hash: a.leaf_hash })
      .where('seq', '=', 9)
      .execute();
    const { code, result } = verify();
    expect(code).toBe(3);
    expect(result).toMatchObject({ ok: false, firstBadSeq: 5 });
  });

  it('does not trust a checkpoint key added to the database, with or without pki/audit-verifier.vkey', async () => {
    await rewrite(23, (e) => e.replace('"success"', '"failure"'));
    await forgeCheckpoints();
    const withFile = verify();
    expect(withFile.code).toBe(3);
    expect(withFile.result).toMatchObject({ ok: false, problem: 'bad-signature' });
    const vkey = installationLayout(data).auditVerifierKey;
    renameSync(vkey, `${vkey}.away`);
    try {
      const fromDatabase = verify();
      expect(fromDatabase.code).toBe(3);
      expect(fromDatabase.result).toMatchObject({ ok: false, problem: 'bad-signature' });
      expect(fromDatabase.result.keys).toMatch(/unwrap under the master key \(1 rejected\)/);
    } finally {
      renameSync(`${vkey}.away`, vkey);
    }
  });

  it('fails a rewritten log whose checkpoints were deleted: its unproven tail is older than the checkpoint interval', async () => {
    const hourBefore = new Date(
      Date.parse(JSON.parse(pristine.entries[0]!.entry).time) - 3_600_000,
    ).toISOString();
    await rewrite(0, (e) => e.replace(/"time":"[^"]+"/, `"time":"${hourBefore}"`));
    await store.db.deleteFrom('audit_checkpoints').execute();
    const { code, result } = verify();
    expect(code).toBe(3);
    expect(result).toMatchObject({ ok: false, firstBadSeq: 0, problem: 'unproven-entries' });
  });

  it('checks the log against a checkpoint saved earlier (--checkpoint): truncation is caught', async () => {
    const saved = join(dir, 'witness.checkpoint');
    writeFileSync(saved, pristine.checkpoints.at(-1)!.note);
    expect(verify('--checkpoint', saved)).toMatchObject({ code: 0, result: { ok: true } });
    // As GET /api/v1/audit/checkpoint answers it (JSON with the note), too.
    const savedJson = join(dir, 'witness.json');
    const last = pristine.checkpoints.at(-1)!;
    writeFileSync(savedJson, JSON.stringify({ treeSize: Number(last.tree_size), note: last.note }));
    expect(verify('--checkpoint', savedJson)).toMatchObject({ code: 0, result: { ok: true } });
    const size = Number(pristine.checkpoints.at(-1)!.tree_size);
    await store.db
      .deleteFrom('audit_entries')
      .where('seq', '>=', size - 3)
      .execute();
    await store.db
      .deleteFrom('audit_checkpoints')
      .where('tree_size', '>', size - 3)
      .execute();
    // Without the saved checkpoint the shorter log looks whole.
    expect(verify().code).toBe(0);
    const { code, result } = verify('--checkpoint', saved);
    expect(code).toBe(3);
    expect(result).toMatchObject({ ok: false, problem: 'truncated', firstBadSeq: size - 3 });
    expect(verify('--checkpoint', savedJson).code).toBe(3);
    expect(existsSync(saved)).toBe(true);
  });

  it('detects a forged checkpoint signature', async () => {
    const cp = pristine.checkpoints[1]!;
    const lines = cp.note.trimEnd().split('\n');
    const sigLine = lines.pop()!;
    const [dash, name, sig] = sigLine.split(' ') as [string, string, string];
    const raw = Buffer.from(sig, 'base64');
    raw[raw.length - 1] = raw[raw.length - 1]! ^ 0x01;
    const forged = `${[...lines, `${dash} ${name} ${raw.toString('base64')}`].join('\n')}\n`;
    await store.db
      .updateTable('audit_checkpoints')
      .set({ note: forged })
      .where('tree_size', '=', cp.tree_size)
      .execute();
    const { code, result } = verify();
    expect(code).toBe(3);
    expect(result.ok).toBe(false);
    expect(result.problem).toBe('bad-signature');
  });
});
