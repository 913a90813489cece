/**
 * `npm run bench -- audit [--entries 1000000] [--producers 16] [--batch 500] [--only sqlite|postgres]`
 *
 * Durable append throughput (batched and group-committed: `producers` concurrent callers, each
 * awaiting `appendMany` of `batch` events before its next; every promise resolves only after its
 * transaction committed) and full verification speed (`verifyAuditLog`, in parallel by range), on SQLite (WAL, synchronous=FULL) and PostgreSQL (a scratch
 * database, created and dropped). Targets: >= 50,000 durable appends/s and >= 1,000,000 entries/s
 * verified. Reference point: Tessera's local-disk (POSIX) log publishes about 2,900 writes/s.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { type AuditEventInput, createAuditLog, ed25519Signer, verifyAuditLog } from '../src/audit/index.js';
import { openStore, type Store } from '../src/store/index.js';
import { printResult, printTable, rate } from './_report.js';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '1000000' },
    producers: { type: 'string', default: '16' },
    batch: { type: 'string', default: '500' },
    only: { type: 'string' },
  },
});
const N = Number(values.entries);
const PRODUCERS = Number(values.producers);
const BATCH = Number(values.batch);
const PG_URL = process.env.PULSEGATE_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TARGET_APPEND = 50_000;
const TARGET_VERIFY = 1_000_000;
const TESSERA_POSIX = 2_900;
const ORIGIN = 'bench.pulsegate/audit';
const keys = generateKeyPairSync('ed25519');
const signer = ed25519Signer(ORIGIN, keys.privateKey, keys.publicKey);

function event(i: number): AuditEventInput {
  return {
    actor: { type: 'user', id: `user-${i % 500}`, name: `clin${i % 500}`, role: 'clinician' },
    action: i % 7 === 0 ? 'access.denied' : 'patient.read',
    resource: { type: 'patient', id: `p-${i % 100_000}` },
    outcome: i % 7 === 0 ? 'denied' : 'success',
    source: '10.20.30.40',
    requestId: `req-${i}`,
  };
}

function progress(label: string, done: number, total: number, started: number): void {
  if (
    !process.stderr.isTTY &&
    done !== total &&
    done % Math.max(1, Math.floor(total / 10)) > PRODUCERS * BATCH
  )
    return;
  const pct = ((100 * done) / total).toFixed(0).padStart(3);
  const secs = (performance.now() - started) / 1000;
  process.stderr.write(
    `\r  ${label}: ${pct}% ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')}  ${rate(done / secs)}/s   `,
  );
  if (done === total) process.stderr.write('\n');
}

async function appendAll(store: Store, label: string): Promise<number> {
  const log = createAuditLog({
    store,
    signer,
    origin: ORIGIN,
    checkpointEveryEntries: 100_000,
    checkpointIntervalSeconds: 3600,
  });
  const started = performance.now();
  let next = 0;
  let done = 0;
  let lastReport = 0;
  // PRODUCERS independent callers, each awaiting durability of its batch before the next.
  const producer = async () => {
    while (next < N) {
      const first = next;
      const count = Math.min(BATCH, N - first);
      next += count;
      await log.appendMany(
        Array.from({ length: count }, (_, k) => event(first + k)),
        { returnEntries: false },
      );
      done += count;
      if (done - lastReport >= 25_000 || done === N) {
        lastReport = done;
        progress(`${label} append`, done, N, started);
      }
    }
  };
  await Promise.all(Array.from({ length: PRODUCERS }, producer));
  const seconds = (performance.now() - started) / 1000;
  await log.close();
  return seconds;
}

async function verifyAll(store: Store, label: string): Promise<number> {
  const started = performance.now();
  const result = await verifyAuditLog({
    store,
    origin: ORIGIN,
    publicKey: keys.publicKey,
    onProgress: (checked, total) => progress(`${label} verify`, checked, total, started),
  });
  const seconds = (performance.now() - started) / 1000;
  if (!result.ok || result.size !== N) throw new Error(`verification failed: ${JSON.stringify(result)}`);
  return seconds;
}

interface Row {
  dialect: string;
  append_s: number;
  appends_per_s: number;
  verify_s: number;
  verified_per_s: number;
}

async function runDialect(dialect: 'sqlite' | 'postgres'): Promise<Row> {
  let store: Store;
  let cleanup: () => Promise<void>;
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'pulsegate-bench-audit-'));
    store = openStore({ sqliteFile: join(dir, 'audit.db') });
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const name = `pulsegate_bench_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(PG_URL);
    url.pathname = `/${name}`;
    store = openStore({ postgresUrl: url.toString() });
    cleanup = async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    };
  }
  try {
    const { error } = await store.migrate();
    if (error) throw error;
    const appendSeconds = await appendAll(store, dialect);
    const verifySeconds = await verifyAll(store, dialect);
    return {
      dialect,
      append_s: appendSeconds,
      appends_per_s: N / appendSeconds,
      verify_s: verifySeconds,
      verified_per_s: N / verifySeconds,
    };
  } finally {
    await store.close();
    await cleanup();
  }
}

console.log(
  `audit benchmark: ${N.toLocaleString('en-US')} entries, ${PRODUCERS} concurrent producers of ${BATCH}-event batches, ` +
    `verification on ${availableParallelism()} threads; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
);
const rows: Row[] = [];
for (const d of ['sqlite', 'postgres'] as const) {
  if (values.only && values.only !== d) continue;
  rows.push(await runDialect(d));
}
const pct = (v: number, target: number) => `${((100 * v) / target).toFixed(0)}% of target`;
printTable(
  rows.flatMap((r) => [
    {
      dialect: r.dialect,
      measure: 'durable appends',
      seconds: r.append_s.toFixed(2),
      'entries/s': rate(r.appends_per_s),
      target: `>= ${rate(TARGET_APPEND)}`,
      'vs target': pct(r.appends_per_s, TARGET_APPEND),
      'vs Tessera POSIX (~2,900/s)': `${(r.appends_per_s / TESSERA_POSIX).toFixed(1)}x`,
    },
    {
      dialect: r.dialect,
      measure: 'full verification',
      seconds: r.verify_s.toFixed(2),
      'entries/s': rate(r.verified_per_s),
      target: `>= ${rate(TARGET_VERIFY)}`,
      'vs target': pct(r.verified_per_s, TARGET_VERIFY),
      'vs Tessera POSIX (~2,900/s)': '',
    },
  ]),
);
printResult({
  name: 'audit',
  entries: N,
  producers: PRODUCERS,
  batch: BATCH,
  loadAverage: loadavg()[0],
  unit: 'entries/s',
  results: rows.map((r) => ({
    dialect: r.dialect,
    appendsPerSecond: Math.round(r.appends_per_s),
    verifiedPerSecond: Math.round(r.verified_per_s),
  })),
  targets: { appendsPerSecond: TARGET_APPEND, verifiedPerSecond: TARGET_VERIFY },
  reference: { name: 'Tessera POSIX log', writesPerSecond: TESSERA_POSIX },
});
