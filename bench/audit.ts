/**
 * `npm run bench -- audit [--entries 1000000] [--producers 16] [--batch 500] [--only sqlite|postgres]`
 *
 * Durable append throughput (batched and group-committed: `producers` concurrent callers, each
 * awaiting `appendMany` of `batch` events before its next; every promise resolves only after its
 * transaction committed) and full verification speed (`verifyAuditLog`, in parallel by range), on SQLite (WAL, synchronous=FULL) and PostgreSQL (a scratch
 * database, created and dropped). Targets: >= 50,000 durable appends/s and >= 1,000,000 entries/s
 * verified; verification also runs with the workers' JavaScript loop, to compare with the compiled row
 * checker (src/audit/native). Reference point: Tessera's local-disk (POSIX) log publishes about 2,900 writes/s.
 *
 * The machine may be shared, so beside wall-clock rates each phase reports its CPU time and the
 * rate per CPU-second: this process (all threads, `process.cpuUsage`) plus, for PostgreSQL, the
 * server backends serving the scratch database (their /proc CPU times, sampled every 20 ms while
 * the phase runs, so the last few ms of an exiting backend can be missed; a backend that starts
 * and ends within 200 ms can be missed entirely). The load average is
 * printed before and after each phase. On an idle machine with C cores the wall rate can reach
 * at most C times the CPU rate (more threads than cores cannot help).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { type AuditEventInput, createAuditLog, ed25519Signer, verifyAuditLog } from '../src/audit/index.js';
import { compiledRowChecker, type RowChecker } from '../src/audit/native-rows.js';
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
/** Whether the workers' compiled row checker is built (then the JavaScript loop is measured too). */
const CHECKER = compiledRowChecker();
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

/** Wall seconds, CPU seconds (this process + database backends) and the load around a phase. */
interface Phase {
  seconds: number;
  cpu: number;
  serverCpu: number | undefined;
  load: [number, number];
}

const TICKS_PER_SECOND = 100;

/** The PostgreSQL backends whose process title names `database` (local server only). */
function backendPids(database: string): string[] {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d));
  } catch {
    return [];
  }
  return pids.filter((pid) => {
    try {
      const title = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
      return title.startsWith('postgres:') && title.includes(` ${database} `);
    } catch {
      return false; // The process ended between the listing and the read.
    }
  });
}

/** utime + stime of a process, in clock ticks; undefined once it has ended. */
function ticksOf(pid: string): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return;
  }
}

/**
 * Runs `work`, measuring wall time, this process's CPU and (for PostgreSQL) its backends' CPU.
 * Backends are looked for every 200 ms (listing /proc costs a few ms) and the CPU of those found
 * read every 20 ms, so the sampling itself costs this process about 1% of one core.
 */
async function measure(database: string | undefined, work: () => Promise<void>): Promise<Phase> {
  const before = new Map<string, number>();
  const seen = new Map<string, number>();
  let samples = 0;
  const sample = () => {
    if (!database) return;
    if (samples++ % 10 === 0) {
      for (const pid of backendPids(database)) if (!seen.has(pid)) seen.set(pid, ticksOf(pid) ?? 0);
    }
    for (const [pid, last] of seen) seen.set(pid, ticksOf(pid) ?? last);
  };
  sample();
  for (const [pid, t] of seen) before.set(pid, t);
  const timer = database ? setInterval(sample, 20) : undefined;
  const load = loadavg()[0]!;
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  const seconds = (performance.now() - started) / 1000;
  const c = process.cpuUsage(cpu0);
  sample();
  let ticks = 0;
  for (const [pid, t] of seen) ticks += t - (before.get(pid) ?? 0);
  return {
    seconds,
    cpu: (c.user + c.system) / 1e6,
    serverCpu: database && seen.size > 0 ? ticks / TICKS_PER_SECOND : undefined,
    load: [load, loadavg()[0]!],
  };
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

async function verifyAll(store: Store, label: string, checker?: RowChecker): Promise<number> {
  const started = performance.now();
  const result = await verifyAuditLog({
    store,
    origin: ORIGIN,
    publicKey: keys.publicKey,
    ...(checker ? { checker } : {}),
    onProgress: (checked, total) => progress(`${label} verify`, checked, total, started),
  });
  const seconds = (performance.now() - started) / 1000;
  if (!result.ok || result.size !== N) throw new Error(`verification failed: ${JSON.stringify(result)}`);
  return seconds;
}

interface Row {
  dialect: string;
  append: Phase;
  verify: Phase;
  /** The same verification with the workers' JavaScript loop instead of the compiled checker. */
  verifyScript?: Phase | undefined;
}

async function runDialect(dialect: 'sqlite' | 'postgres'): Promise<Row> {
  let store: Store;
  let cleanup: () => Promise<void>;
  let database: string | undefined;
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'pulsegate-bench-audit-'));
    store = openStore({ sqliteFile: join(dir, 'audit.db') });
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const name = `pulsegate_bench_${randomBytes(4).toString('hex')}`;
    database = name;
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
    const append = await measure(database, async () => {
      await appendAll(store, dialect);
    });
    const verify = await measure(database, async () => {
      await verifyAll(store, dialect);
    });
    const verifyScript = CHECKER
      ? await measure(database, async () => {
          await verifyAll(store, `${dialect} (JavaScript loop)`, 'javascript');
        })
      : undefined;
    return { dialect, append, verify, verifyScript };
  } finally {
    await store.close();
    await cleanup();
  }
}

console.log(
  `audit benchmark: ${N.toLocaleString('en-US')} entries, ${PRODUCERS} concurrent producers of ${BATCH}-event batches, ` +
    `verification on ${availableParallelism()} threads with the ${CHECKER ? 'compiled' : 'JavaScript (the compiled one is not built)'} row checker; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
);
const rows: Row[] = [];
for (const d of ['sqlite', 'postgres'] as const) {
  if (values.only && values.only !== d) continue;
  rows.push(await runDialect(d));
}
const pct = (v: number, target: number) => `${((100 * v) / target).toFixed(0)}% of target`;
const cores = availableParallelism();
const totalCpu = (p: Phase) => p.cpu + (p.serverCpu ?? 0);
const cpuText = (p: Phase) =>
  p.serverCpu === undefined
    ? p.cpu.toFixed(2)
    : `${totalCpu(p).toFixed(2)} (${p.serverCpu.toFixed(2)} server)`;
const line = (r: Row, measure: string, p: Phase, target: number, tessera: string) => ({
  dialect: r.dialect,
  measure,
  seconds: p.seconds.toFixed(2),
  'entries/s': rate(N / p.seconds),
  target: `>= ${rate(target)}`,
  'vs target': pct(N / p.seconds, target),
  'CPU s': cpuText(p),
  'entries/CPU-s': rate(N / totalCpu(p)),
  [`idle bound (${cores} cores)`]: rate((cores * N) / totalCpu(p)),
  load: `${p.load[0].toFixed(2)} -> ${p.load[1].toFixed(2)}`,
  'vs Tessera POSIX (~2,900/s)': tessera,
});
printTable(
  rows.flatMap((r) => [
    line(
      r,
      'durable appends',
      r.append,
      TARGET_APPEND,
      `${(N / r.append.seconds / TESSERA_POSIX).toFixed(1)}x`,
    ),
    line(r, 'full verification', r.verify, TARGET_VERIFY, ''),
    ...(r.verifyScript ? [line(r, '  same, JavaScript loop', r.verifyScript, TARGET_VERIFY, '')] : []),
  ]),
);
console.log(
  `CPU s: this process (all threads) plus PostgreSQL backends of the scratch database; entries/CPU-s is ` +
    `load-independent; the idle bound (${cores} x entries/CPU-s) is the best wall rate ${cores} idle cores could give. ` +
    `Load average now ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}.`,
);
const phase = (p: Phase) => ({
  seconds: Number(p.seconds.toFixed(3)),
  perSecond: Math.round(N / p.seconds),
  cpuSeconds: Number(totalCpu(p).toFixed(3)),
  serverCpuSeconds: p.serverCpu === undefined ? null : Number(p.serverCpu.toFixed(3)),
  perCpuSecond: Math.round(N / totalCpu(p)),
  loadAverage: p.load.map((l) => Number(l.toFixed(2))),
});
printResult({
  name: 'audit',
  entries: N,
  producers: PRODUCERS,
  batch: BATCH,
  cores,
  loadAverage: loadavg()[0],
  unit: 'entries/s',
  results: rows.map((r) => ({
    dialect: r.dialect,
    appendsPerSecond: Math.round(N / r.append.seconds),
    verifiedPerSecond: Math.round(N / r.verify.seconds),
    append: phase(r.append),
    verify: phase(r.verify),
    ...(r.verifyScript ? { verifyJavaScriptLoop: phase(r.verifyScript) } : {}),
  })),
  rowChecker: CHECKER ? 'compiled' : 'javascript',
  targets: { appendsPerSecond: TARGET_APPEND, verifiedPerSecond: TARGET_VERIFY },
  reference: { name: 'Tessera POSIX log', writesPerSecond: TESSERA_POSIX },
});
