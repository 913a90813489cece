/**
 * `npm run bench -- fhir [--observations 1000000] [--patients 1000] [--clients 50] [--seconds 15]
 *   [--count 50] [--database sqlite|postgres] [--cache DIR | --no-cache] [--profile FILE.cpuprofile]`
 *
 * FHIR search under load, end to end: N stored observations over P patients (one monitor each,
 * five vitals per message, spread over four days), then 50 concurrent HTTPS clients, each
 * searching a random patient's last 24 h of vitals with a SMART backend-services token
 * (`/fhir/Observation?patient=…&date=ge…&_count=50`): authentication, scope check, keyset query,
 * batch decryption, FHIR mapping and an audit entry (group-committed) before every response.
 * Targets on the 2-core machine: p95 <= 20 ms and >= 2,000 searches/s.
 *
 * Setup (loading the observations) is timed separately: it goes through the real telemetry
 * ingest path (validation, sealing, group commit) with the clock moved along the data's times.
 * The load generator runs in a child process (its own event loop); the machine is shared with other
 * work, so the load average is printed with the figures.
 *
 * Loading 1M observations takes minutes, so with SQLite the loaded installation is kept in a cache
 * directory (`--cache`, default `$TMPDIR/pulsegate-bench-fhir-cache`, one template per size) and
 * copied for each run; the searches then ask for the last 24 h *of the data* (which ends when the
 * template was made), so a reused template answers the same pages. `--no-cache` loads afresh
 * (and reports the load rate); PostgreSQL runs always load afresh into their scratch database.
 *
 * HL7 v2 over MLLP has its own benchmark on its own installation: `npm run bench -- hl7`.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createApp, type PulsegateApp } from '../src/app.js';
import { dataPath, type LoadedConfig, loadConfig } from '../src/config/index.js';
import { createDeviceService } from '../src/devices/index.js';
import { EventBus } from '../src/events/index.js';
import { patientIdOf } from '../src/fhir/index.js';
import type { IngestMessage } from '../src/ingest/index.js';
import { createInstallation, installationLayout } from '../src/installation/index.js';
import { openKeyService, readMasterKey } from '../src/keys/index.js';
import { createLogger } from '../src/logging/logger.js';
import { createPatientBindings, PATIENT_INDEX_PURPOSE } from '../src/patients/index.js';
import { openStore } from '../src/store/index.js';
import { createTelemetryService } from '../src/telemetry/index.js';
import { createTestPostgresDatabase } from '../src/testing/stores.js';
import { Child } from './_ingest-procs.js';
import { printResult, printTable, rate } from './_report.js';

const HOUR = 3_600_000;
const SPAN_MS = 96 * HOUR;
const PER_MESSAGE = 5;
const TARGET_P95_MS = 20;
const TARGET_RPS = 2000;

export interface FhirBenchOptions {
  observations: number;
  patients: number;
  database: 'sqlite' | 'postgres';
  /** Where loaded SQLite installations are kept between runs (none: always load afresh). */
  cacheDir?: string;
}

/** An installation holding the benchmark data, served over HTTPS. */
export interface FhirBenchSetup {
  app: PulsegateApp;
  config: LoadedConfig;
  url: string;
  ca: string;
  patientIds: string[];
  /** Load time of this installation (when it was made, for a template reused from the cache). */
  loadSeconds: number;
  /** Whether the installation was copied from the cache rather than loaded in this run. */
  reused: boolean;
  /** When the data ends (epoch ms): searches ask for the 24 h before it. */
  dataEnd: number;
  cleanup(): Promise<void>;
}

const deviceOf = (i: number) => `bench-mon-${String(i).padStart(5, '0')}`;
const mrnOf = (i: number) => `BENCH-MRN-${String(i).padStart(6, '0')}`;

/** Loads observations through the real ingest path, the clock following the data's times. */
async function load(config: LoadedConfig, o: FhirBenchOptions, t0: number): Promise<void> {
  const store = config.database.url
    ? openStore({ postgresUrl: config.database.url, poolSize: 4 })
    : openStore({ sqliteFile: dataPath(config, config.database.sqliteFile) });
  const masterKey = readMasterKey({ file: dataPath(config, config.keys.masterKeyFile), env: {} });
  const keys = await openKeyService({ store, masterKey, dataKeyMaxUses: config.keys.dataKeyMaxUses });
  // Inventory and bindings are set-up, not what is measured: no audit trail for them here.
  const audit = { append: async () => ({}) };
  const bus = new EventBus(() => {});
  const devices = createDeviceService({ store, audit });
  const patients = createPatientBindings({ store, keys, audit });
  let clock = t0;
  const telemetry = await createTelemetryService({
    store,
    keys,
    audit,
    bus,
    devices,
    patients,
    config: { ...config, telemetry: { ...config.telemetry, maxClockSkewSeconds: 86_400 } },
    now: () => clock,
  });
  for (let i = 0; i < o.patients; i++) {
    await devices.create({
      id: deviceOf(i),
      type: 'patient-monitor',
      vendor: 'Bench',
      model: 'B1',
      careUnit: `W${i % 20}`,
    });
    await patients.bind(deviceOf(i), { patientId: mrnOf(i), from: t0 - 86_400_000 });
  }
  const messages = Math.ceil(o.observations / PER_MESSAGE);
  const slots = Math.ceil(messages / o.patients);
  const step = Math.floor(SPAN_MS / slots);
  let done = 0;
  // Several time slots in flight at once, so the writer's group commit sees large batches; the
  // clock stays at the newest slot in flight (within the loader's 24 h skew).
  const inflight = new Set<Promise<void>>();
  for (let s = 0; s < slots; s++) {
    const ts = t0 + s * step;
    clock = ts + 1000;
    const batch: IngestMessage[] = [];
    for (let p = 0; p < o.patients && done < messages; p++, done++) {
      const v = (s + p) % 10;
      const body = {
        seq: s + 1,
        ts: new Date(ts).toISOString(),
        observations: [
          { code: { system: 'MDC', code: '147842' }, value: 60 + v, unit: '/min' },
          { code: { system: 'MDC', code: '150456' }, value: 90 + v, unit: '%' },
          { code: { system: 'MDC', code: '151562' }, value: 12 + v, unit: '/min' },
          { code: { system: 'MDC', code: '150021' }, value: 110 + v, unit: 'mm[Hg]' },
          { code: { system: 'MDC', code: '150022' }, value: 70 + v, unit: 'mm[Hg]' },
        ],
      };
      batch.push({
        deviceId: deviceOf(p),
        payload: Buffer.from(JSON.stringify(body)),
        receivedAt: clock,
        source: 'https',
        kind: 'telemetry',
      });
    }
    const job = telemetry.ingest(batch).then((outcomes) => {
      const bad = outcomes.find((x) => !x.ok);
      if (bad) throw new Error(`load refused a message: ${JSON.stringify(bad)}`);
    });
    inflight.add(job);
    void job.finally(() => inflight.delete(job)).catch(() => {});
    if (inflight.size >= 16) await Promise.race(inflight);
    if (s % 20 === 0) process.stdout.write(`\r  loaded ${rate(done * PER_MESSAGE)} observations`);
  }
  await Promise.all(inflight);
  process.stdout.write(`\r  loaded ${rate(done * PER_MESSAGE)} observations\n`);
  await telemetry.close();
  await keys.close();
  await store.close();
}

interface SetupFacts {
  t0: number;
  loadSeconds: number;
}

/** A new installation (listening on `port`, possibly Postgres) with the benchmark data loaded. */
async function prepare(
  dataDir: string,
  o: FhirBenchOptions,
  port: number,
  pgUrl?: string,
): Promise<SetupFacts> {
  await createInstallation({
    dataDir,
    settings: {
      server: { port, host: '127.0.0.1', publicUrl: `https://localhost:${port}` },
      mqtt: { mode: 'off' },
      log: { level: 'silent' },
      ...(pgUrl ? { database: { url: pgUrl } } : {}),
    },
    env: {},
  });
  const config = loadConfig(dataDir, {});
  const t0 = Date.now() - SPAN_MS - 60_000;
  const started = performance.now();
  await load(config, o, t0);
  return { t0, loadSeconds: (performance.now() - started) / 1000 };
}

/** Copies the cached template of this size into `dataDir`, making the template first if needed. */
async function fromCache(cacheDir: string, dataDir: string, o: FhirBenchOptions, port: number) {
  const template = join(cacheDir, `sqlite-${o.observations}-${o.patients}`);
  const factsFile = join(template, 'bench', 'setup.json');
  if (!existsSync(factsFile)) {
    rmSync(template, { recursive: true, force: true });
    const facts = await prepare(template, o, port);
    mkdirSync(dirname(factsFile), { recursive: true });
    writeFileSync(factsFile, JSON.stringify(facts));
    cpSync(template, dataDir, { recursive: true });
    return { facts, reused: false };
  }
  console.log(`setup: reusing the installation in ${template}`);
  cpSync(template, dataDir, { recursive: true });
  return { facts: JSON.parse(readFileSync(factsFile, 'utf8')) as SetupFacts, reused: true };
}

export async function setupFhirBench(o: FhirBenchOptions): Promise<FhirBenchSetup> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pulsegate-bench-fhir-'));
  const pg = o.database === 'postgres' ? await createTestPostgresDatabase() : undefined;
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const url = `https://localhost:${port}`;
  const { facts, reused } =
    o.cacheDir && !pg
      ? await fromCache(o.cacheDir, dataDir, o, port)
      : { facts: await prepare(dataDir, o, port, pg?.url), reused: false };
  // A template remembers the port it was made with; this run's port comes from the environment.
  const config = loadConfig(dataDir, {
    PULSEGATE_SERVER_PORT: String(port),
    PULSEGATE_SERVER_PUBLIC_URL: url,
  });
  const app = await createApp(config, { logger: createLogger({ level: 'silent' }), env: {} });
  await app.listen();
  const patientIds = Array.from({ length: o.patients }, (_, i) =>
    patientIdOf(app.keys.blindIndex(PATIENT_INDEX_PURPOSE, mrnOf(i))),
  );
  return {
    app,
    config,
    url,
    ca: readFileSync(installationLayout(dataDir).rootCaCert, 'utf8'),
    patientIds,
    loadSeconds: facts.loadSeconds,
    reused,
    dataEnd: facts.t0 + SPAN_MS + 60_000,
    async cleanup() {
      await app.close();
      await pg?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A SMART backend-services token for a benchmark client (its key made here, its assertion signed here). */
async function benchToken(app: PulsegateApp): Promise<string> {
  const { exportJWK, generateKeyPair, SignJWT } = await import('jose');
  const { publicKey, privateKey } = await generateKeyPair('ES384');
  const id = 'bench-ehr';
  await app.access.clients.register({
    id,
    name: id,
    role: 'integration',
    scopes: ['system/Observation.rs'],
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES384' } as never] },
  });
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES384', kid: 'k1' })
    .setIssuer(id)
    .setSubject(id)
    .setAudience(app.access.tokenUrl)
    .setExpirationTime('4m')
    .setJti(crypto.randomUUID())
    .sign(privateKey);
  const token = await app.access.token(
    {
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    },
    {},
  );
  return token.access_token;
}

export interface SearchResult {
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  meanEntries: number;
  generatorCpuPct: number;
  /** CPU (user + system) of this process, the server, over the measured run only (not the warm-up). */
  serverCpuMs: number;
}

/** 50 (or `clients`) concurrent HTTPS clients searching last-24 h vitals for `seconds`. */
export async function runFhirSearch(
  s: FhirBenchSetup,
  opts: { clients: number; seconds: number; count: number },
): Promise<SearchResult> {
  const token = await benchToken(s.app);
  const since = new Date(Math.min(Date.now(), s.dataEnd) - 24 * HOUR).toISOString();
  const paths = s.patientIds.map(
    (id) => `/fhir/Observation?patient=${id}&date=ge${encodeURIComponent(since)}&_count=${opts.count}`,
  );
  const worker = new Child(join(dirname(fileURLToPath(import.meta.url)), '_fhir-load-worker.ts'), {});
  const measured = worker.next<{ phase: 'measuring' }>();
  const results = worker.next<{
    latencies: number[];
    errors: number;
    entries: number;
    seconds: number;
    cpuMs: number;
  }>();
  worker.proc.send({
    origin: s.url,
    ca: s.ca,
    token,
    paths,
    clients: opts.clients,
    seconds: opts.seconds,
    warmupSeconds: Math.min(3, opts.seconds),
  });
  await measured;
  const cpu = process.cpuUsage();
  const r = await results;
  const serverCpu = process.cpuUsage(cpu);
  await worker.exited();
  const sorted = r.latencies.sort((a, b) => a - b);
  const pct = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return {
    requests: sorted.length,
    errors: r.errors,
    rps: sorted.length / r.seconds,
    p50: pct(0.5),
    p95: pct(0.95),
    p99: pct(0.99),
    meanEntries: sorted.length ? r.entries / sorted.length : 0,
    generatorCpuPct: (r.cpuMs / 1000 / r.seconds) * 100,
    serverCpuMs: (serverCpu.user + serverCpu.system) / 1000,
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      observations: { type: 'string', default: '1000000' },
      patients: { type: 'string', default: '1000' },
      clients: { type: 'string', default: '50' },
      seconds: { type: 'string', default: '15' },
      count: { type: 'string', default: '50' },
      database: { type: 'string', default: 'sqlite' },
      profile: { type: 'string' },
      cache: { type: 'string', default: join(tmpdir(), 'pulsegate-bench-fhir-cache') },
      'no-cache': { type: 'boolean', default: false },
    },
  });
  const options: FhirBenchOptions = {
    observations: Number(values.observations),
    patients: Number(values.patients),
    database: values.database === 'postgres' ? 'postgres' : 'sqlite',
    ...(values['no-cache'] ? {} : { cacheDir: values.cache }),
  };
  console.log(
    `fhir: ${rate(options.observations)} observations over ${rate(options.patients)} patients on ${options.database}; ` +
      `${values.clients} clients for ${values.seconds} s; ${availableParallelism()} CPUs, load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  const setup = await setupFhirBench(options);
  const stored = await setup.app.store.db
    .selectFrom('telemetry_readings')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  console.log(
    `setup: ${rate(Number(stored.n))} readings (${rate(Number(stored.n) * PER_MESSAGE)} observations) ` +
      `${setup.reused ? 'reused; loaded when cached' : 'loaded'} in ${setup.loadSeconds.toFixed(1)} s ` +
      `(${rate((Number(stored.n) * PER_MESSAGE) / setup.loadSeconds)} observations/s through ingest)`,
  );
  const auditBefore = await setup.app.audit.size();
  try {
    const session = values.profile ? new (await import('node:inspector/promises')).Session() : undefined;
    if (session) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    const r = await runFhirSearch(setup, {
      clients: Number(values.clients),
      seconds: Number(values.seconds),
      count: Number(values.count),
    });
    const cpuMsPerSearch = r.serverCpuMs / Math.max(1, r.requests);
    if (session && values.profile) {
      const { profile } = await session.post('Profiler.stop');
      (await import('node:fs')).writeFileSync(values.profile, JSON.stringify(profile));
    }
    const audited = (await setup.app.audit.size()) - auditBefore;
    printTable([
      {
        measure: 'searches/s',
        pulsegate: rate(r.rps),
        target: `>= ${rate(TARGET_RPS)}`,
        ok: r.rps >= TARGET_RPS ? 'yes' : 'NO',
      },
      { measure: 'p50 latency (ms)', pulsegate: r.p50.toFixed(1), target: '', ok: '' },
      {
        measure: 'p95 latency (ms)',
        pulsegate: r.p95.toFixed(1),
        target: `<= ${TARGET_P95_MS}`,
        ok: r.p95 <= TARGET_P95_MS ? 'yes' : 'NO',
      },
      { measure: 'p99 latency (ms)', pulsegate: r.p99.toFixed(1), target: '', ok: '' },
      { measure: 'observations per response', pulsegate: r.meanEntries.toFixed(1), target: '', ok: '' },
      { measure: 'errors', pulsegate: r.errors, target: '0', ok: r.errors === 0 ? 'yes' : 'NO' },
      {
        measure: 'audit entries written',
        pulsegate: rate(audited),
        target: `>= ${rate(r.requests)}`,
        ok: audited >= r.requests ? 'yes' : 'NO',
      },
      { measure: 'server CPU per search (ms)', pulsegate: cpuMsPerSearch.toFixed(2), target: '', ok: '' },
      { measure: 'load generator CPU (%)', pulsegate: r.generatorCpuPct.toFixed(0), target: '', ok: '' },
    ]);
    console.log(
      `load average after: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    printResult({
      name: 'fhir',
      database: options.database,
      observations: options.observations,
      patients: options.patients,
      clients: Number(values.clients),
      setupSeconds: Number(setup.loadSeconds.toFixed(1)),
      setupReused: setup.reused,
      searchesPerSecond: Math.round(r.rps),
      p50Ms: Number(r.p50.toFixed(2)),
      p95Ms: Number(r.p95.toFixed(2)),
      p99Ms: Number(r.p99.toFixed(2)),
      errors: r.errors,
      serverCpuMsPerSearch: Number(cpuMsPerSearch.toFixed(3)),
      auditEntries: audited,
      targets: { searchesPerSecond: TARGET_RPS, p95Ms: TARGET_P95_MS },
      loadAverage: loadavg()[0],
    });
  } finally {
    await setup.cleanup();
  }
}

if (process.argv[1]?.endsWith('fhir.ts')) await main();
