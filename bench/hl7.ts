/**
 * `npm run bench -- hl7 [--messages 20000] [--gateways 4] [--devices 25] [--pipeline 32] [--db sqlite|postgres]
 *   [--cpu-prof DIR]`
 *
 * HL7 v2 over MLLP/TLS on this machine, loopback only: `--gateways` gateway connections (each an
 * EST-style certificate from Pulsegate's CA, mutual TLS), each reporting for `--devices` devices
 * (EUI-64 in OBX-18, bound to a patient) and keeping `--pipeline` IHE PCD-01 ORU^R01 messages
 * (NIBP + SpO2, 4 observations) unacknowledged, waiting for each ACK before sending the next.
 * An AA means parsed, checked (gateway ownership, PID-3 binding, bounds), encrypted and durably
 * committed, with the MSH-10 duplicate record committed too. Prints messages/s, ACK latency
 * p50/p99 and the load average (the machine is shared). The server runs in this process; the
 * load generator is a child process (bench/_hl7-load.ts).
 *
 * `runHl7Bench` is exported so that other benchmarks (bench/fhir.ts) can run it and report it.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config/index.js';
import { createInstallation, installationLayout } from '../src/installation/index.js';
import { createLogger } from '../src/logging/logger.js';
import { privateKeyToPem } from '../src/pki/index.js';
import { createCsr } from '../src/sim/est-client.js';
import type { LoadJob, LoadReport } from './_hl7-load.js';
import { printResult, printTable, rate } from './_report.js';

export interface Hl7BenchOptions {
  messages: number;
  gateways: number;
  devicesPerGateway: number;
  pipeline: number;
  db: 'sqlite' | 'postgres';
  /** PostgreSQL server for `db: postgres` (a scratch database is created and dropped). */
  postgresUrl?: string;
  log?: (line: string) => void;
  /** Write a CPU profile of the server during the measured run into this directory. */
  cpuProfDir?: string;
}

export interface Hl7BenchResult {
  messages: number;
  acked: number;
  notAa: number;
  firstError: string | null;
  seconds: number;
  messagesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  storedRows: number;
  /** Messages per durable commit (group commit), approximately. */
  messagesPerCommit: number;
  /** Server CPU (user + system) per acknowledged message, µs: comparable on a loaded machine. */
  serverCpuUsPerMessage: number;
  /** Load generator CPU per message, µs. */
  clientCpuUsPerMessage: number;
  loadAverage: number[];
}

export const HL7_TARGET_MESSAGES_PER_SECOND = 5000;
const here = dirname(fileURLToPath(import.meta.url));

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function runChild(jobFile: string): Promise<LoadReport> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(here, '_hl7-load.ts'), jobFile],
      { maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`load generator failed: ${stderr || error.message}`));
        resolve(JSON.parse(stdout.trim().split('\n').pop()!) as LoadReport);
      },
    );
  });
}

/** Runs the HL7 MLLP benchmark against a fresh installation and returns its figures. */
export async function runHl7Bench(options: Hl7BenchOptions): Promise<Hl7BenchResult> {
  const log = options.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'pulsegate-bench-hl7-'));
  let dropDb: (() => Promise<void>) | undefined;
  let database: { url: string } | undefined;
  if (options.db === 'postgres') {
    const base = options.postgresUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres';
    const name = `pulsegate_bench_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(base);
    url.pathname = `/${name}`;
    database = { url: url.toString() };
    dropDb = async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    };
  }
  const dataDir = join(dir, 'data');
  try {
    await createInstallation({
      dataDir,
      settings: {
        server: { port: 0, host: '127.0.0.1' },
        mqtt: { mode: 'off' },
        // The per-gateway rate limit protects against a runaway gateway; the bench measures the
        // listener at full speed.
        hl7: { enabled: true, port: 0, host: '127.0.0.1', ratePerSecond: 1_000_000, burst: 10_000_000 },
        log: { level: 'silent' },
        ...(database ? { database } : {}),
      },
      env: {},
    });
    const app = await createApp(loadConfig(dataDir, {}), {
      logger: createLogger({ level: 'silent' }),
      env: {},
    });
    try {
      const urls = await app.listen();
      const port = Number(new URL(urls.hl7!.replace('mllps:', 'https:')).port);
      const from = Date.now() - 3600_000;
      const gateways: LoadJob['gateways'] = [];
      for (let g = 0; g < options.gateways; g++) {
        const id = `gw-bench-${g}`;
        await app.devices.create({ id, type: 'other', vendor: 'Acme', model: 'AHD' });
        const { token } = await app.pki.createEnrollmentToken(id);
        const { keys, csrBase64 } = await createCsr(id);
        const issued = await app.pki.enroll(token, Buffer.from(csrBase64, 'base64'));
        const devices: LoadJob['gateways'][number]['devices'] = [];
        for (let d = 0; d < options.devicesPerGateway; d++) {
          const deviceId = `mon-bench-${g}-${d}`;
          const eui64 = (0x0123_4567_0000_0000n + BigInt(g * 10_000 + d))
            .toString(16)
            .toUpperCase()
            .padStart(16, '0');
          await app.devices.create({
            id: deviceId,
            type: 'patient-monitor',
            vendor: 'Acme',
            model: 'M',
            careUnit: 'ICU',
            eui64,
            gatewayId: id,
          });
          const patientId = `MRN-${g}-${d}`;
          await app.patients.bind(deviceId, { patientId, from });
          devices.push({ eui64, patientId });
        }
        gateways.push({
          id,
          cert: issued.certificate.toString('pem'),
          key: await privateKeyToPem(keys.privateKey),
          devices,
        });
      }
      log(`${options.gateways} gateways x ${options.devicesPerGateway} devices ready (${options.db})`);
      const caFile = join(dir, 'ca.pem');
      const layout = installationLayout(dataDir);
      writeFileSync(caFile, (await import('node:fs')).readFileSync(layout.rootCaCert));
      const runJob = async (messages: number, runId: string) => {
        const jobFile = join(dir, `job-${runId}.json`);
        const job: LoadJob = { port, caFile, gateways, messages, pipeline: options.pipeline, runId };
        writeFileSync(jobFile, JSON.stringify(job));
        return runChild(jobFile);
      };
      // Warm-up: JIT, caches, data keys.
      await runJob(Math.min(2000, options.messages), 'warm');
      const before = await rows(app);
      const profiler = options.cpuProfDir ? new Session() : undefined;
      if (profiler) {
        profiler.connect();
        await profiler.post('Profiler.enable');
        await profiler.post('Profiler.start');
      }
      // Readings of one group commit are announced in one synchronous run: count the runs.
      let commits = 0;
      let open = false;
      const off = app.bus.on('telemetry.stored', () => {
        if (open) return;
        open = true;
        commits++;
        setImmediate(() => {
          open = false;
        });
      });
      const cpu0 = process.cpuUsage();
      const report = await runJob(options.messages, 'run');
      off();
      const cpu = process.cpuUsage(cpu0);
      log(`server CPU: user ${(cpu.user / 1000).toFixed(0)} ms, system ${(cpu.system / 1000).toFixed(0)} ms`);
      if (profiler && options.cpuProfDir) {
        const { profile } = await profiler.post('Profiler.stop');
        mkdirSync(options.cpuProfDir, { recursive: true });
        writeFileSync(
          join(options.cpuProfDir, `hl7-server-${Date.now()}.cpuprofile`),
          JSON.stringify(profile),
        );
        profiler.disconnect();
      }
      await app.telemetry.flush();
      const storedRows = (await rows(app)) - before;
      const sorted = [...report.latenciesMs].sort((a, b) => a - b);
      return {
        messages: report.sent,
        acked: report.acked,
        notAa: report.notAa,
        firstError: report.firstError,
        seconds: report.elapsedMs / 1000,
        messagesPerSecond: report.acked / (report.elapsedMs / 1000),
        p50Ms: quantile(sorted, 0.5),
        p99Ms: quantile(sorted, 0.99),
        storedRows,
        messagesPerCommit: report.acked / Math.max(1, commits),
        serverCpuUsPerMessage: (cpu.user + cpu.system) / Math.max(1, report.acked),
        clientCpuUsPerMessage: (report.cpuMs * 1000) / Math.max(1, report.acked),
        loadAverage: loadavg(),
      };
    } finally {
      await app.close();
    }
  } finally {
    await dropDb?.();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function rows(app: Awaited<ReturnType<typeof createApp>>): Promise<number> {
  const r = await app.store.db
    .selectFrom('telemetry_readings')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

if (process.argv[1]?.endsWith('hl7.ts')) {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '20000' },
      gateways: { type: 'string', default: '4' },
      devices: { type: 'string', default: '25' },
      pipeline: { type: 'string', default: '32' },
      db: { type: 'string', default: 'sqlite' },
      'cpu-prof': { type: 'string' },
    },
  });
  const db = values.db === 'postgres' ? 'postgres' : 'sqlite';
  const progress = (line: string) => process.stderr.write(`  ${line}\n`);
  const load = loadavg();
  const r = await runHl7Bench({
    messages: Number(values.messages),
    gateways: Number(values.gateways),
    devicesPerGateway: Number(values.devices),
    pipeline: Number(values.pipeline),
    db,
    ...(process.env.PULSEGATE_BENCH_POSTGRES_URL
      ? { postgresUrl: process.env.PULSEGATE_BENCH_POSTGRES_URL }
      : {}),
    log: progress,
    ...(values['cpu-prof'] ? { cpuProfDir: values['cpu-prof'] } : {}),
  });
  console.log(
    `\nHL7 v2 MLLP over TLS, ${values.gateways} gateway connections x ${values.pipeline} pipelined, ${db}; load average before ${load.map((l) => l.toFixed(2)).join(' ')}, after ${r.loadAverage.map((l) => l.toFixed(2)).join(' ')}\n`,
  );
  printTable([
    {
      measure: 'messages/s (ACK AA after durable store)',
      pulsegate: rate(r.messagesPerSecond),
      target: `>= ${rate(HL7_TARGET_MESSAGES_PER_SECOND)}`,
      ok: r.messagesPerSecond >= HL7_TARGET_MESSAGES_PER_SECOND ? 'yes' : 'NO',
    },
    {
      measure: 'server CPU per message (µs)',
      pulsegate: r.serverCpuUsPerMessage.toFixed(0),
      target: `<= ${Math.round(1e6 / HL7_TARGET_MESSAGES_PER_SECOND)} (one core)`,
      ok: r.serverCpuUsPerMessage <= 1e6 / HL7_TARGET_MESSAGES_PER_SECOND ? 'yes' : 'NO',
    },
    {
      measure: 'load generator CPU per message (µs)',
      pulsegate: r.clientCpuUsPerMessage.toFixed(0),
      target: '',
      ok: '',
    },
    { measure: 'messages per group commit', pulsegate: r.messagesPerCommit.toFixed(0), target: '', ok: '' },
    { measure: 'ACK latency p50 (ms)', pulsegate: r.p50Ms.toFixed(1), target: '', ok: '' },
    { measure: 'ACK latency p99 (ms)', pulsegate: r.p99Ms.toFixed(1), target: '', ok: '' },
    {
      measure: 'messages / AA / not AA',
      pulsegate: `${r.messages} / ${r.acked - r.notAa} / ${r.notAa}`,
      target: '0 not AA',
      ok: r.notAa === 0 ? 'yes' : 'NO',
    },
    {
      measure: 'readings stored',
      pulsegate: r.storedRows,
      target: `${r.messages}`,
      ok: r.storedRows === r.messages ? 'yes' : 'NO',
    },
  ]);
  if (r.firstError) console.log(`first refusal: ${r.firstError}`);
  printResult({
    name: 'hl7',
    unit: 'messages/s',
    value: Math.round(r.messagesPerSecond),
    target: HL7_TARGET_MESSAGES_PER_SECOND,
    p50Ms: Number(r.p50Ms.toFixed(2)),
    p99Ms: Number(r.p99Ms.toFixed(2)),
    serverCpuUsPerMessage: Math.round(r.serverCpuUsPerMessage),
    clientCpuUsPerMessage: Math.round(r.clientCpuUsPerMessage),
    messages: r.messages,
    notAa: r.notAa,
    db,
    gateways: Number(values.gateways),
    pipeline: Number(values.pipeline),
    loadAverage: r.loadAverage.map((l) => Number(l.toFixed(2))),
  });
}
