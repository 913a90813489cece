/**
 * `npm run bench -- monitor [--devices 1000] [--rate 10000] [--samples 100] [--seconds 40]
 *   [--warmup 4] [--db sqlite|postgres] [--events 400000]`
 *
 * Two figures of the monitor (issue 5; target p99 <= 50 ms):
 *
 * 1. Publish-to-alert latency under load. A Pulsegate server (`bench/_ingest-server.ts`, its own
 *    process: the composed app, embedded mutual-TLS broker, durable telemetry store) takes a paced
 *    background of `--devices` devices sending `--rate` messages/s in total (load workers
 *    `bench/_ingest-load-worker.ts`, open loop). Meanwhile `--samples` further devices (mqtt.js
 *    clients with their own certificates) each send ordinary messages until their size baseline is
 *    learned, then one message 40x larger: the detector must raise `device.size-jump`. Latency runs
 *    from just before the trigger's PUBLISH is written to the moment the alert is observed, at two
 *    points (`AlertObserver`): on the live stream, as an alert console sees it (`GET
 *    /api/v1/stream?kinds=alert` over HTTPS with the admin's token), the target figure; and at
 *    the server's `alert.raised` bus event, sent over IPC with a sub-millisecond epoch time (both
 *    processes share the clock), to show what the stream adds.
 *
 * 2. Detector cost per message: bus events of a simulated ward (`wardTraffic`) fed straight into a
 *    BehaviourDetector with the shipped rules; CPU time (user + system) per event.
 *
 * The server's event-loop delay over the measured phase is printed too (what every message and
 * alert waits for); `BENCH_PROFILE=FILE` writes a CPU profile of the server over that phase.
 *
 * The machine is shared (two cores, other jobs): the load average is printed with the results.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { EventBus } from '../src/events/index.js';
import { BehaviourDetector, HourOfDay, loadRules, type NewAlert } from '../src/monitor/index.js';
import { type WardEvent, wardTraffic } from '../src/sim/index.js';
import { createTestPostgresDatabase } from '../src/testing/stores.js';
import { openStream } from '../test/support/sse.js';
import { Child, PULSEGATE_NODE_FLAGS } from './_ingest-procs.js';
import type { Measured, PublishReport, ServerReady, ServerRequest } from './_ingest-protocol.js';
import { printResult, printTable, rate } from './_report.js';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '10000' },
    samples: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '40' },
    warmup: { type: 'string', default: '4' },
    workers: { type: 'string', default: '2' },
    db: { type: 'string', default: 'sqlite' },
    events: { type: 'string', default: '400000' },
    'cert-cache': { type: 'string' },
  },
});
const DEVICES = Number(values.devices);
const RATE = Number(values.rate);
const SAMPLES = Number(values.samples);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const WORKERS = Number(values.workers);
const EVENTS = Number(values.events);
const DB = values.db === 'postgres' ? 'postgres' : 'sqlite';
const PG_URL = process.env.PULSEGATE_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TARGET_P99_MS = 50;
const LEARN_MESSAGES = 55;
const here = dirname(fileURLToPath(import.meta.url));
const progress = (line: string) => process.stderr.write(`  ${line}\n`);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const nowMs = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------------------------------------
// Part 2 first (no server yet): detector cost per message.

function detectorCost(): { usPerEvent: number; events: number; raised: number } {
  const events: WardEvent[] = [];
  for (const e of wardTraffic({
    devices: 1000,
    start: Date.UTC(2026, 2, 2, 8),
    hours: 2,
    intervalMs: 1000,
    seed: 3,
  })) {
    events.push(e);
    if (events.length >= EVENTS) break;
  }
  let raised = 0;
  const bus = new EventBus();
  const rules = loadRules();
  const info = { type: 'patient-monitor', careUnit: 'ICU' };
  const profiles = new Map();
  const detector = new BehaviourDetector({
    sink: {
      raise: async (_a: NewAlert) => {
        raised++;
        return { outcome: 'created', alertId: 'x' };
      },
    },
    rules: () => rules,
    directory: { info: () => info },
    hourOfDay: new HourOfDay('UTC'),
    baselines: profiles,
    dirty: new Set(),
    onError: () => {},
  });
  detector.attach(bus);
  const warm = Math.floor(events.length / 10);
  for (let i = 0; i < warm; i++) bus.emit(events[i]!.name, events[i]!.payload as never);
  const cpu0 = process.cpuUsage();
  for (let i = warm; i < events.length; i++) bus.emit(events[i]!.name, events[i]!.payload as never);
  const cpu = process.cpuUsage(cpu0);
  return {
    usPerEvent: (cpu.user + cpu.system) / (events.length - warm),
    events: events.length - warm,
    raised,
  };
}

// ---------------------------------------------------------------------------------------------
// Part 1: publish-to-alert latency.

/** Where an alert is seen. The bus observer listens to the server's `alert.raised` over IPC. */
interface AlertObserver {
  readonly name: string;
  /** Resolves with the epoch time (ms) at which an alert of `rule` about `deviceId` was observed. */
  waitFor(deviceId: string, rule: string, timeoutMs: number): Promise<number>;
  close(): void;
}

interface AlertMessage {
  cmd: 'alert';
  at: number;
  rule: string;
  deviceId: string | null;
}

/** The server process, with IPC replies and alert notifications kept apart. */
class ServerProcess {
  readonly proc: ChildProcess;
  readonly #replies: Array<(m: unknown) => void> = [];
  readonly #alertListeners = new Set<(m: AlertMessage) => void>();

  constructor(env: Record<string, string>) {
    this.proc = fork(join(here, '_ingest-server.ts'), [], {
      execArgv: ['--import', 'tsx', ...PULSEGATE_NODE_FLAGS],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.proc.on('message', (m: { cmd?: string }) => {
      if (m.cmd === 'alert') for (const l of this.#alertListeners) l(m as AlertMessage);
      else this.#replies.shift()?.(m);
    });
  }

  next<T>(): Promise<T> {
    return new Promise((resolve) => this.#replies.push(resolve as (m: unknown) => void));
  }

  ask<T>(message: object): Promise<T> {
    const reply = this.next<T>();
    this.proc.send(message);
    return reply;
  }

  onAlert(listener: (m: AlertMessage) => void): () => void {
    this.#alertListeners.add(listener);
    return () => this.#alertListeners.delete(listener);
  }

  kill(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

/** First sightings of (device, rule) alerts, and waiting for one. */
function sightings(name: string) {
  const seen = new Map<string, number>();
  const waiting = new Map<string, (at: number) => void>();
  return {
    record(deviceId: unknown, rule: unknown, at: number): void {
      const key = `${deviceId}|${rule}`;
      if (seen.has(key)) return;
      seen.set(key, at);
      waiting.get(key)?.(at);
    },
    waitFor(device: string, rule: string, timeoutMs: number): Promise<number> {
      const key = `${device}|${rule}`;
      const already = seen.get(key);
      if (already !== undefined) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${rule} alert for ${device} (${name})`)),
          timeoutMs,
        );
        waiting.set(key, (at) => {
          clearTimeout(timer);
          resolve(at);
        });
      });
    },
  };
}

function busObserver(server: ServerProcess): AlertObserver {
  const name = 'alert.raised (bus, server process)';
  const seen = sightings(name);
  const off = server.onAlert((m) => seen.record(m.deviceId, m.rule, m.at));
  return { name, waitFor: seen.waitFor, close: off };
}

/**
 * The live stream as an alert console holds it: `GET /api/v1/stream?kinds=alert` over HTTPS with
 * the admin's Bearer token; an alert is observed when its `alert` event has been parsed in this
 * process. (Without `kinds` the admin would also get a telemetry count per stored message,
 * 10,000 frames/s here.)
 */
async function streamObserver(ready: ServerReady): Promise<AlertObserver> {
  const name = 'live stream (SSE /api/v1/stream?kinds=alert, bench process)';
  const seen = sightings(name);
  const token = readFileSync(ready.adminTokenFile, 'utf8').trim();
  const stream = await openStream(ready.apiUrl, readFileSync(ready.rootCaCert), token, {
    path: '/api/v1/stream?kinds=alert',
    onEvent(kind, data) {
      if (kind === 'alert' && data.change === 'created') seen.record(data.deviceId, data.rule, nowMs());
    },
  });
  if (stream.status !== 200) throw new Error(`live stream refused: HTTP ${stream.status}`);
  // The client keeps every event; only the callback matters here.
  const keep = setInterval(() => {
    stream.events.length = 0;
    stream.comments.length = 0;
  }, 1000);
  return {
    name,
    waitFor: seen.waitFor,
    close() {
      clearInterval(keep);
      stream.close();
    },
  };
}

const payload = (seq: number, observations: number) =>
  JSON.stringify({
    seq,
    ts: new Date().toISOString(),
    observations: Array.from({ length: observations }, (_, i) => ({
      code: { system: 'LOINC', code: '8867-4' },
      value: 60 + (i % 30),
      unit: '/min',
    })),
  });

/** For PostgreSQL runs a scratch database on PG_URL's server, created here and dropped after. */
async function scratchDatabase(): Promise<{ url?: string; drop: () => Promise<void> }> {
  if (DB === 'sqlite') return { drop: async () => {} };
  return createTestPostgresDatabase(PG_URL, 'pulsegate_bench');
}

const quantileOf = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * q) - 1)]!;

progress(`monitor bench: ${availableParallelism()} cores, load ${load()}`);
progress(`detector cost: feeding ${EVENTS} simulated ward events straight into the detector`);
const cost = detectorCost();
progress(`  ${cost.usPerEvent.toFixed(2)} us CPU per event (${cost.raised} alerts raised)`);

const dir = mkdtempSync(join(tmpdir(), 'pulsegate-bench-monitor-'));
const db = await scratchDatabase();
const children: Array<{ kill(): void }> = [];
const clients: MqttClient[] = [];
let result: Record<string, unknown> | undefined;
try {
  // The shipped rules, tuned as an operator would for monitors that really send 10 messages/s.
  const rules = structuredClone(loadRules().file);
  rules.static.messagesPerWindow = Math.max(
    rules.static.messagesPerWindow,
    Math.ceil((RATE / DEVICES) * rules.windowSeconds * 3),
  );
  rules.static.bytesPerWindow = Math.max(rules.static.bytesPerWindow, rules.static.messagesPerWindow * 2000);
  const rulesFile = join(dir, 'bench-rules.yaml');
  writeFileSync(rulesFile, stringify(rules));

  const server = new ServerProcess({
    BENCH_DATA_DIR: join(dir, 'data'),
    BENCH_DEVICES: String(DEVICES + SAMPLES),
    BENCH_BOUND: '0',
    BENCH_POSTGRES_URL: db.url ?? '',
    BENCH_CACHE_DIR: values['cert-cache'] ?? join(tmpdir(), 'pulsegate-bench-ingest-cache'),
    BENCH_MONITOR_RULES: rulesFile,
    BENCH_OBSERVE_ALERTS: '1',
  });
  children.push(server);
  const ready = await server.next<ServerReady>();
  // The target is read on the live stream; the bus figure shows what the stream adds.
  const observers = [await streamObserver(ready), busObserver(server)];
  const workers = Array.from({ length: WORKERS }, (_, i) => ({
    w: new Child(join(here, '_ingest-load-worker.ts'), {
      BENCH_CREDENTIALS: ready.credentialsFile,
      BENCH_CA: ready.caBundle,
    }),
    from: Math.floor((i * DEVICES) / WORKERS),
    to: Math.floor(((i + 1) * DEVICES) / WORKERS),
  }));
  children.push(...workers.map((x) => x.w));
  await Promise.all(workers.map(({ w }) => w.next()));
  const connected = await Promise.all(
    workers.map(({ w, from, to }) =>
      w.ask<{ ok: number; failed: number }>({
        cmd: 'connect',
        port: ready.mqttPort,
        from,
        to,
        concurrency: 100,
        resume: false,
      }),
    ),
  );
  progress(
    `${connected.reduce((s, c) => s + c.ok, 0)} background devices connected; ${RATE} msg/s for ${SECONDS} s`,
  );
  const background = Promise.all(
    workers.map(({ w }) =>
      w.ask<PublishReport>({
        cmd: 'publish',
        seconds: SECONDS,
        warmupSeconds: 1,
        inflight: 8,
        rate: RATE / WORKERS,
      }),
    ),
  );

  // Trigger devices: connect, learn their usual message size, then wait for the warm-up.
  const creds = JSON.parse(readFileSync(ready.credentialsFile, 'utf8')) as Array<{
    id: string;
    key: string;
    cert: string;
  }>;
  const ca = readFileSync(ready.caBundle);
  const triggers = await Promise.all(
    Array.from({ length: SAMPLES }, async (_, k) => {
      const d = creds[DEVICES + k]!;
      const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${ready.mqttPort}`, {
        ca,
        cert: d.cert,
        key: d.key,
        protocolVersion: 4,
        reconnectPeriod: 0,
        // Other work may share the two cores: a slow handshake is not a failure here.
        connectTimeout: 120_000,
        clientId: `${d.id}-trigger`,
        servername: 'localhost',
      });
      clients.push(client);
      for (let s = 0; s < LEARN_MESSAGES; s++)
        await client.publishAsync(`devices/${d.id}/telemetry`, payload(s, 1), { qos: 1 });
      return { id: d.id, client, seq: LEARN_MESSAGES };
    }),
  );
  await new Promise((r) => setTimeout(r, WARMUP * 1000));
  progress(
    `${SAMPLES} trigger devices learned; load ${load()}; measuring publish -> ${observers.map((o) => o.name).join(', ')}`,
  );
  const latencies: number[][] = observers.map(() => []);
  server.proc.send({ cmd: 'measure-start' } satisfies ServerRequest);
  // For context: the same messages' PUBACK (durably stored), which the alert cannot precede.
  const acks: number[] = [];
  for (const t of triggers) {
    const big = payload(t.seq++, 40);
    const waiting = observers.map((o) => o.waitFor(t.id, 'device.size-jump', 10_000));
    const t0 = nowMs();
    const acked = new Promise<void>((resolve) =>
      t.client.publish(`devices/${t.id}/telemetry`, big, { qos: 1 }, () => {
        acks.push(nowMs() - t0);
        resolve();
      }),
    );
    const seen = await Promise.all(waiting);
    for (const [i, at] of seen.entries()) latencies[i]!.push(at - t0);
    await acked;
    await new Promise((r) => setTimeout(r, 100));
  }
  const loadDuring = load();
  const loop = await server.ask<Measured>({ cmd: 'measure-stop' } satisfies ServerRequest);
  const reports = await background;
  const seconds = Math.max(...reports.map((r) => r.seconds));
  const acked = reports.reduce((s, r) => s + r.acked, 0);
  const closed = reports.reduce((s, r) => s + r.closed, 0);
  const sentTotal = reports.reduce((s, r) => s + r.sent, 0);
  const workerCpu = reports.reduce((s, r) => s + r.cpuMs, 0) / 1000 / seconds;
  for (const o of observers) o.close();
  for (const c of clients) await c.endAsync().catch(() => {});
  await Promise.all(workers.map(({ w }) => w.ask({ cmd: 'disconnect' })));
  await server.ask({ cmd: 'stop' });

  const figures = latencies.map((l) => {
    const sorted = [...l].sort((x, y) => x - y);
    return { p50: quantileOf(sorted, 0.5), p99: quantileOf(sorted, 0.99), max: sorted.at(-1)! };
  });
  const [stream, bus] = [figures[0]!, figures[1]!];
  const ackP50 = quantileOf(
    [...acks].sort((a, b) => a - b),
    0.5,
  );
  console.log(
    `\nmonitor: ${DB}, ${DEVICES} background devices at ${rate(acked / seconds)} msg/s acknowledged (${RATE} paced), ` +
      `${SAMPLES} size-jump alerts, load average ${loadDuring} on ${availableParallelism()} cores\n`,
  );
  const ms = (v: number) => `${v.toFixed(1)} ms`;
  printTable([
    { figure: 'publish -> live stream p50', value: ms(stream.p50), target: '', ok: '' },
    {
      figure: 'publish -> live stream p99',
      value: ms(stream.p99),
      target: `<= ${TARGET_P99_MS} ms`,
      ok: stream.p99 <= TARGET_P99_MS ? 'yes' : 'NO',
    },
    { figure: 'publish -> live stream max', value: ms(stream.max), target: '', ok: '' },
    { figure: 'publish -> alert.raised (bus) p50', value: ms(bus.p50), target: '', ok: '' },
    { figure: 'publish -> alert.raised (bus) p99', value: ms(bus.p99), target: '', ok: '' },
    {
      figure: 'server event-loop delay p50 / p99 / max',
      value: `${loop.loopDelayP50} / ${loop.loopDelayP99} / ${loop.loopDelayMax} ms`,
      target: '',
      ok: '',
    },
    { figure: 'publish -> PUBACK p50 (stored)', value: `${ackP50.toFixed(1)} ms`, target: '', ok: '' },
    {
      figure: 'background acknowledged',
      value: `${rate(acked / seconds)} msg/s`,
      target: `${RATE} msg/s`,
      ok: acked / seconds >= RATE * 0.95 ? 'yes' : 'NO',
    },
    {
      figure: 'background connections closed',
      value: String(closed),
      target: '0',
      ok: closed === 0 ? 'yes' : 'NO',
    },
    {
      figure: 'background sent (whole run)',
      value: `${rate(sentTotal / (seconds + 1))} msg/s`,
      target: '',
      ok: '',
    },
    { figure: 'load generator CPU', value: `${workerCpu.toFixed(2)} cores`, target: '', ok: '' },
    { figure: 'detector CPU per event', value: `${cost.usPerEvent.toFixed(2)} us`, target: '', ok: '' },
  ]);
  result = {
    name: 'monitor',
    db: DB,
    unit: 'ms',
    observer: observers[0]!.name,
    devices: DEVICES,
    ratePaced: RATE,
    rateAcked: Math.round(acked / seconds),
    samples: SAMPLES,
    p50: Number(stream.p50.toFixed(2)),
    p99: Number(stream.p99.toFixed(2)),
    max: Number(stream.max.toFixed(2)),
    busP50: Number(bus.p50.toFixed(2)),
    busP99: Number(bus.p99.toFixed(2)),
    pubackP50: Number(ackP50.toFixed(2)),
    loopDelayP99: loop.loopDelayP99,
    targetP99: TARGET_P99_MS,
    detectorUsPerEvent: Number(cost.usPerEvent.toFixed(3)),
    detectorEvents: cost.events,
    loadAverage: loadDuring,
    cores: availableParallelism(),
  };
} finally {
  for (const c of clients) c.end(true);
  for (const c of children) c.kill();
  await db.drop().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
if (result) printResult(result);
