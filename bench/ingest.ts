/**
 * `npm run bench -- ingest [--seconds 30] [--db sqlite|postgres] [--devices 1000] [--storm 10000]
 *   [--workers 2] [--inflight 8] [--warmup 3] [--no-mosquitto] [--no-storm] [--cpu-prof DIR]
 *   [--cert-cache DIR] [--server-flags="--max-semi-space-size=64"]`
 *
 * End-to-end MQTT ingest on this machine, loopback only:
 * - Sustained load: `--devices` simulated devices, each with its own certificate from Pulsegate's
 *   CA, connected over mutual-TLS MQTT 3.1.1 to the embedded Aedes broker, each keeping
 *   `--inflight` QoS 1 PUBLISHes (4 vital signs, increasing seq) unacknowledged. A PUBACK means
 *   validated, encrypted and durably committed. Messages/s, publish-to-PUBACK p50/p99, server RSS
 *   and the CPU of server and load generators (the generators must not be the bottleneck).
 * - The same load against Mosquitto (same certificates, TLS, QoS 1, no storage): the ratio.
 * - Connection storm: `--storm` devices connect at once (full TLS handshakes), then, after all
 *   disconnect, reconnect at once offering their TLS session tickets: handshakes/s and failures.
 * - Idle connections: server RSS per connected idle device at `--storm` connections.
 *
 * The server and each load worker are separate processes (`bench/_ingest-server.ts`,
 * `bench/_ingest-load-worker.ts`). Certificates are issued in-process by the PKI
 * (`createEnrollmentToken` + `enroll`), not over HTTP. SQLite by default; `--db postgres` uses a
 * scratch database on `PULSEGATE_BENCH_POSTGRES_URL` (default postgres://postgres@127.0.0.1:5432/postgres),
 * created and dropped.
 *
 * Broker settings can be varied from the shell: `PULSEGATE_MQTT_TLS_SESSION_TICKETS=false npm run
 * bench -- ingest` measures idle memory and the reconnect storm without TLS session tickets, and
 * `OPENSSL_CONF=config/openssl.cnf npm run bench -- ingest` with one ticket per connection (the
 * server process inherits the environment; see `bench/tls-idle.ts`).
 *
 * File descriptors: the server holds one socket per connection and the workers hold the other
 * ends, so `--storm 10000` needs `ulimit -n` of about 12,000 in the shell that runs it (the
 * limit is per process; check with `ulimit -n`, raise with `ulimit -n 65536`).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createTestPostgresDatabase } from '../src/testing/stores.js';
import { Child, procCpuMs, procRss, startMosquitto } from './_ingest-procs.js';
import {
  BUCKETS,
  type ConnectReport,
  type Measured,
  type PublishReport,
  quantile,
  type ServerReady,
  type ServerRequest,
} from './_ingest-protocol.js';
import { printResult, printTable, rate } from './_report.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    db: { type: 'string', default: 'sqlite' },
    devices: { type: 'string', default: '1000' },
    storm: { type: 'string', default: '10000' },
    workers: { type: 'string', default: '2' },
    inflight: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '3' },
    'no-mosquitto': { type: 'boolean', default: false },
    'no-storm': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    'cert-cache': { type: 'string' },
    'server-flags': { type: 'string', default: '' },
  },
});
const SECONDS = Number(values.seconds);
const DEVICES = Number(values.devices);
const STORM = values['no-storm'] ? 0 : Number(values.storm);
const WORKERS = Number(values.workers);
const INFLIGHT = Number(values.inflight);
const WARMUP = Number(values.warmup);
const DB = values.db === 'postgres' ? 'postgres' : 'sqlite';
const PG_URL = process.env.PULSEGATE_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TARGET_MSGS = 30_000;
const TARGET_IDLE_BYTES = 30 * 1024;
const here = dirname(fileURLToPath(import.meta.url));
const progress = (line: string) => process.stderr.write(`  ${line}\n`);
const mb = (n: number) => `${(n / 2 ** 20).toFixed(0)} MB`;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** For PostgreSQL runs a scratch database on PG_URL's server, created here and dropped after. */
async function scratchDatabase(): Promise<{ url?: string; drop: () => Promise<void> }> {
  if (DB === 'sqlite') return { drop: async () => {} };
  return createTestPostgresDatabase(PG_URL, 'pulsegate_bench');
}

/** Load workers, each holding an equal slice of devices `[0, total)`. */
async function startWorkers(
  ready: ServerReady,
  total: number,
): Promise<Array<{ w: Child; from: number; to: number }>> {
  const n = Math.min(WORKERS, total);
  const workers = Array.from({ length: n }, (_, i) => ({
    w: new Child(join(here, '_ingest-load-worker.ts'), {
      BENCH_CREDENTIALS: ready.credentialsFile,
      BENCH_CA: ready.caBundle,
    }),
    from: Math.floor((i * total) / n),
    to: Math.floor(((i + 1) * total) / n),
  }));
  await Promise.all(workers.map(({ w }) => w.next()));
  return workers;
}

type Workers = Awaited<ReturnType<typeof startWorkers>>;

async function connectAll(workers: Workers, port: number, concurrency: number, resume: boolean) {
  const t0 = performance.now();
  const reports = await Promise.all(
    workers.map(({ w, from, to }) =>
      w.ask<ConnectReport>({ cmd: 'connect', port, from, to, concurrency, resume }),
    ),
  );
  const ms = performance.now() - t0;
  const sum = (k: 'ok' | 'failed' | 'resumed' | 'cpuMs') => reports.reduce((s, r) => s + r[k], 0);
  return { ok: sum('ok'), failed: sum('failed'), resumed: sum('resumed'), cpuMs: sum('cpuMs'), ms };
}

async function disconnectAll(workers: Workers) {
  await Promise.all(workers.map(({ w }) => w.ask({ cmd: 'disconnect' })));
}

/** Runs the sustained load against `port`; `serverCpuMs` reads the broker's CPU time. */
async function sustained(workers: Workers, port: number, serverCpuMs: () => Promise<number>, server?: Child) {
  const c = await connectAll(workers, port, 100, false);
  if (c.failed > 0) progress(`${c.failed} of ${c.ok + c.failed} connections failed`);
  progress(`${c.ok} devices connected; ${WARMUP} s warm-up, then ${SECONDS} s measured`);
  const running = Promise.all(
    workers.map(({ w }) =>
      w.ask<PublishReport>({ cmd: 'publish', seconds: SECONDS, warmupSeconds: WARMUP, inflight: INFLIGHT }),
    ),
  );
  // The server CPU is sampled over the same window as the workers measure.
  await new Promise((r) => setTimeout(r, WARMUP * 1000));
  const s0 = await serverCpuMs();
  // Pulsegate's server records its event-loop delay (and, with BENCH_PROFILE, a CPU profile) over the window.
  server?.proc.send({ cmd: 'measure-start' } satisfies ServerRequest);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const s1 = await serverCpuMs();
  const loop = await server?.ask<Measured>({ cmd: 'measure-stop' } satisfies ServerRequest);
  if (loop) progress(`server event-loop delay p50 ${loop.loopDelayP50} ms, p99 ${loop.loopDelayP99} ms`);
  const reports = await running;
  const histogram = new Array<number>(BUCKETS).fill(0);
  for (const r of reports) for (let i = 0; i < BUCKETS; i++) histogram[i]! += r.histogram[i]!;
  const seconds = Math.max(...reports.map((r) => r.seconds));
  const acked = reports.reduce((s, r) => s + r.acked, 0);
  const closed = reports.reduce((s, r) => s + r.closed, 0);
  const clientCpu = reports.reduce((s, r) => s + r.cpuMs, 0) / 1000 / seconds;
  await disconnectAll(workers);
  return {
    perSecond: acked / seconds,
    p50: quantile(histogram, 0.5),
    p99: quantile(histogram, 0.99),
    serverCpu: (s1 - s0) / 1000 / seconds,
    clientCpu,
    closed,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'pulsegate-bench-ingest-'));
const db = await scratchDatabase();
const children: Child[] = [];
let mosquittoProc: ReturnType<typeof startMosquitto> extends Promise<infer P> ? P | undefined : never;
try {
  progress(
    `ingest bench: ${DB}, ${DEVICES} devices x ${INFLIGHT} in flight for ${SECONDS} s, storm ${STORM}; ` +
      `${availableParallelism()} cores, load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  const total = Math.max(DEVICES, STORM);
  const fdLimit = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
  if (fdLimit < STORM + 2000)
    progress(
      `warning: ulimit -n is ${fdLimit}; ${STORM} connections need about ${STORM + 2000} (ulimit -n 65536)`,
    );
  const server = new Child(
    join(here, '_ingest-server.ts'),
    {
      BENCH_DATA_DIR: join(dir, 'data'),
      BENCH_DEVICES: String(total),
      BENCH_BOUND: String(Math.floor(DEVICES / 2)),
      BENCH_POSTGRES_URL: db.url ?? '',
      BENCH_CACHE_DIR: values['cert-cache'] ?? join(tmpdir(), 'pulsegate-bench-ingest-cache'),
    },
    [
      '--expose-gc',
      ...values['server-flags']!.split(' ').filter(Boolean),
      ...(values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}`] : []),
    ],
  );
  children.push(server);
  progress(`server: installation, ${total} devices and their certificates...`);
  const ready = await server.next<ServerReady>();
  const serverPid = server.proc.pid!;

  // Sustained load: Pulsegate, then Mosquitto with the same clients and certificates.
  const load = await startWorkers(ready, DEVICES);
  children.push(...load.map((x) => x.w));
  progress('sustained load against Pulsegate...');
  const pulse = await sustained(load, ready.mqttPort, async () => procCpuMs(serverPid), server);
  const pulseRss = procRss(serverPid);
  progress(
    `Pulsegate: ${rate(pulse.perSecond)} msgs/s, p50 ${pulse.p50.toFixed(1)} ms, p99 ${pulse.p99.toFixed(1)} ms`,
  );
  let mosq: Awaited<ReturnType<typeof sustained>> | undefined;
  let mosqRss = 0;
  if (!values['no-mosquitto']) {
    const port = await freePort();
    const proc = await startMosquitto({
      dir,
      port,
      caBundle: ready.caBundle,
      cert: ready.serverCert,
      key: ready.serverKey,
    });
    mosquittoProc = proc;
    progress('sustained load against Mosquitto...');
    mosq = await sustained(load, port, async () => procCpuMs(proc.pid!));
    mosqRss = procRss(proc.pid!);
    proc.kill();
    mosquittoProc = undefined;
    progress(
      `Mosquitto: ${rate(mosq.perSecond)} msgs/s, p50 ${mosq.p50.toFixed(1)} ms, p99 ${mosq.p99.toFixed(1)} ms`,
    );
  }
  for (const { w } of load) w.kill();

  // Storm and idle connections.
  let storm: Awaited<ReturnType<typeof connectAll>> | undefined;
  let restorm: Awaited<ReturnType<typeof connectAll>> | undefined;
  let idle: { rss0: number; rss1: number; connected: number } | undefined;
  const stormCpu: number[] = [];
  if (STORM > 0) {
    const before = await server.ask<{ rss: number; heap: number; external: number }>({ cmd: 'rss' });
    const rss0 = before.rss;
    const swarm = await startWorkers(ready, STORM);
    children.push(...swarm.map((x) => x.w));
    progress(`storm: ${STORM} devices connect at once...`);
    let c0 = procCpuMs(serverPid);
    storm = await connectAll(swarm, ready.mqttPort, 1_000_000_000, false);
    stormCpu.push(procCpuMs(serverPid) - c0);
    progress(`  ${storm.ok} connected, ${storm.failed} failed in ${(storm.ms / 1000).toFixed(1)} s`);
    const settled = await server.ask<{ rss: number; heap: number; external: number; connected: number }>({
      cmd: 'rss',
    });
    progress(
      `idle: JS heap ${mb(before.heap)} -> ${mb(settled.heap)}, external ${mb(before.external)} -> ${mb(settled.external)}`,
    );
    idle = { rss0, rss1: settled.rss, connected: settled.connected };
    progress(`idle: ${settled.connected} connected, RSS ${mb(rss0)} -> ${mb(settled.rss)}`);
    await disconnectAll(swarm);
    await new Promise((r) => setTimeout(r, 1000));
    progress(`reconnect storm: ${STORM} devices reconnect at once, offering TLS session tickets...`);
    c0 = procCpuMs(serverPid);
    restorm = await connectAll(swarm, ready.mqttPort, 1_000_000_000, true);
    stormCpu.push(procCpuMs(serverPid) - c0);
    progress(`  ${restorm.ok} connected (${restorm.resumed} resumed), ${restorm.failed} failed`);
    await disconnectAll(swarm);
    for (const { w } of swarm) w.kill();
  }
  await server.ask({ cmd: 'stop' });
  await server.exited();

  const row = (name: string, r: Awaited<ReturnType<typeof sustained>>, rss: number) => ({
    broker: name,
    'msgs/s (PUBACKed)': rate(r.perSecond),
    'p50 ms': r.p50.toFixed(1),
    'p99 ms': r.p99.toFixed(1),
    'broker CPU (cores)': r.serverCpu.toFixed(2),
    'broker CPU us/msg': ((r.serverCpu * 1e6) / r.perSecond).toFixed(0),
    'load CPU (cores)': r.clientCpu.toFixed(2),
    'broker RSS': mb(rss),
    'closed conns': r.closed,
    target: name.startsWith('Pulsegate') ? `>= ${rate(TARGET_MSGS)}` : '',
  });
  console.log(
    `\nSustained QoS 1 over mutual TLS: ${DEVICES} devices x ${INFLIGHT} in flight, ${SECONDS} s (${DB}); ` +
      `load avg ${loadavg()[0]!.toFixed(2)} on ${availableParallelism()} cores`,
  );
  printTable([
    row(`Pulsegate (validate+encrypt+${DB} commit)`, pulse, pulseRss),
    ...(mosq ? [row('Mosquitto (relay, no storage)', mosq, mosqRss)] : []),
  ]);
  const ratio = mosq ? pulse.perSecond / mosq.perSecond : undefined;
  if (ratio !== undefined) console.log(`Pulsegate / Mosquitto: ${ratio.toFixed(2)}`);
  console.log(
    'Published reference: Aedes ~28,000 QoS 1 msgs/s (plain TCP, 4 cores); Mosquitto ~90,000 (one thread)',
  );
  const perConn = idle ? (idle.rss1 - idle.rss0) / Math.max(1, idle.connected) : undefined;
  if (storm && restorm && idle) {
    console.log(`\nConnections: ${STORM} devices at once (TLS 1.3 + client certificate + CONNECT)`);
    printTable([
      {
        phase: 'storm (full handshakes)',
        connected: storm.ok,
        failed: storm.failed,
        resumed: storm.resumed,
        seconds: (storm.ms / 1000).toFixed(1),
        'handshakes/s': rate(storm.ok / (storm.ms / 1000)),
        'broker CPU (cores)': (stormCpu[0]! / storm.ms).toFixed(2),
        'load CPU (cores)': (storm.cpuMs / storm.ms).toFixed(2),
      },
      {
        phase: 'reconnect storm (session tickets)',
        connected: restorm.ok,
        failed: restorm.failed,
        resumed: restorm.resumed,
        seconds: (restorm.ms / 1000).toFixed(1),
        'handshakes/s': rate(restorm.ok / (restorm.ms / 1000)),
        'broker CPU (cores)': (stormCpu[1]! / restorm.ms).toFixed(2),
        'load CPU (cores)': (restorm.cpuMs / restorm.ms).toFixed(2),
      },
    ]);
    printTable([
      {
        'idle connections': idle.connected,
        'RSS with 0': mb(idle.rss0),
        [`RSS with ${idle.connected}`]: mb(idle.rss1),
        'KB per connection': (perConn! / 1024).toFixed(1),
        target: '<= 30 KB',
      },
    ]);
  }
  printResult({
    name: 'mqtt-ingest',
    unit: 'messages/s',
    value: Math.round(pulse.perSecond),
    target: TARGET_MSGS,
    db: DB,
    devices: DEVICES,
    inflight: INFLIGHT,
    seconds: SECONDS,
    p50Ms: pulse.p50,
    p99Ms: pulse.p99,
    serverRssBytes: pulseRss,
    serverCpuCores: Number(pulse.serverCpu.toFixed(2)),
    loadCpuCores: Number(pulse.clientCpu.toFixed(2)),
    ...(mosq
      ? {
          mosquitto: { value: Math.round(mosq.perSecond), p50Ms: mosq.p50, p99Ms: mosq.p99 },
          ratio: Number(ratio!.toFixed(3)),
        }
      : {}),
    ...(storm && restorm
      ? {
          storm: {
            devices: STORM,
            handshakesPerSecond: Math.round(storm.ok / (storm.ms / 1000)),
            failed: storm.failed,
          },
          reconnectStorm: {
            handshakesPerSecond: Math.round(restorm.ok / (restorm.ms / 1000)),
            failed: restorm.failed,
            resumed: restorm.resumed,
          },
        }
      : {}),
    ...(perConn !== undefined
      ? { idleBytesPerConnection: Math.round(perConn), idleTargetBytes: TARGET_IDLE_BYTES }
      : {}),
    loadAverage: Number(loadavg()[0]!.toFixed(2)),
  });
} finally {
  mosquittoProc?.kill();
  for (const c of children) c.kill();
  await db.drop().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
