/**
 * The Pulsegate server for `bench/ingest.ts`, in a process of its own so that its CPU and RSS are
 * measured alone and the load generators never share its event loop. It builds a throw-away
 * installation from the composition root (`createApp(config).listen()`), registers the devices,
 * issues each its own certificate in-process (`createEnrollmentToken` + `enroll` with a fresh
 * P-256 key and CSR, the same path EST takes minus HTTP; cached between SQLite runs), binds half
 * of them to patients, and then answers the parent's IPC requests (`rss`, `cpu`, `stop`).
 *
 * Run with `--expose-gc` so `rss` can settle the heap before measuring. Between `measure-start`
 * and `measure-stop` it records its event-loop delay (what any message or alert waits for the
 * loop), and with `BENCH_PROFILE=FILE` writes a CPU profile of that phase (0.5 ms sampling).
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config/index.js';
import { createInstallation, installationLayout } from '../src/installation/index.js';
import { createLogger } from '../src/logging/logger.js';
import { privateKeyToPem } from '../src/pki/index.js';
import { createCsr } from '../src/sim/est-client.js';
import { deviceId, type Measured, type ServerReady, type ServerRequest } from './_ingest-protocol.js';

const dataDir = process.env.BENCH_DATA_DIR!;
const devices = Number(process.env.BENCH_DEVICES ?? '1000');
const bound = Number(process.env.BENCH_BOUND ?? '0');
const postgresUrl = process.env.BENCH_POSTGRES_URL || undefined;
const cacheDir = process.env.BENCH_CACHE_DIR || undefined;
const log = (line: string) => process.stderr.write(`  [server] ${line}\n`);

/** Runs `fn` over 0..n-1 with at most `limit` calls in flight. */
async function each(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

/** A new installation with `devices` registered devices, each holding a certificate just issued. */
async function prepare(dir: string): Promise<void> {
  await createInstallation({
    dataDir: dir,
    settings: {
      server: { port: 0, host: '127.0.0.1' },
      // The per-device rate limit is a safety valve for a misbehaving device; the bench measures
      // the broker at full speed, so it is set out of the way (a refusal closes the connection).
      mqtt: { port: 0, host: '127.0.0.1', ratePerSecond: 100_000, burst: 100_000 },
      log: { level: 'silent' },
      ...(postgresUrl ? { database: { url: postgresUrl } } : {}),
    },
    env: {},
  });
  const app = await createApp(loadConfig(dir, {}), { logger: createLogger({ level: 'silent' }), env: {} });
  const t0 = performance.now();
  await each(devices, 32, async (i) => {
    await app.devices.create({
      id: deviceId(i),
      type: 'patient-monitor',
      vendor: 'Acme',
      model: 'M',
      careUnit: 'ICU',
    });
  });
  log(`${devices} devices registered in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const t1 = performance.now();
  const credentials: Array<{ id: string; key: string; cert: string }> = new Array(devices);
  await each(devices, 32, async (i) => {
    const id = deviceId(i);
    const { token } = await app.pki.createEnrollmentToken(id);
    const { keys, csrBase64 } = await createCsr(id);
    const issued = await app.pki.enroll(token, Buffer.from(csrBase64, 'base64'));
    credentials[i] = {
      id,
      key: await privateKeyToPem(keys.privateKey),
      cert: issued.certificate.toString('pem'),
    };
    if ((i + 1) % 2000 === 0) log(`${i + 1} certificates issued`);
  });
  log(`${devices} certificates issued in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  await app.close();
  mkdirSync(join(dir, 'bench'), { recursive: true });
  writeFileSync(join(dir, 'bench', 'devices.json'), JSON.stringify(credentials));
}

// Issuing 10,000 certificates takes about a minute here (each a durable transaction plus audit
// entries), so with SQLite the prepared installation is kept in a cache directory and copied for
// each run. PostgreSQL runs prepare a fresh one in their scratch database.
if (cacheDir && !postgresUrl) {
  const template = join(cacheDir, `sqlite-${devices}`);
  if (!existsSync(join(template, 'bench', 'devices.json'))) {
    rmSync(template, { recursive: true, force: true });
    await prepare(template);
  } else log(`reusing ${devices} devices and certificates from ${template}`);
  cpSync(template, dataDir, { recursive: true });
} else await prepare(dataDir);

// Broker settings may be varied from the shell (e.g. PULSEGATE_MQTT_TLS_SESSION_TICKETS=false);
// bench/monitor.ts sets its detection rules, and every alert.raised is reported to the parent with
// its time (epoch ms, sub-millisecond), so publish-to-alert latency can be measured across processes.
const monitorRules = process.env.BENCH_MONITOR_RULES;
const brokerEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k.startsWith('PULSEGATE_MQTT_')),
);
const app = await createApp(
  loadConfig(dataDir, {
    ...brokerEnv,
    ...(monitorRules ? { PULSEGATE_MONITOR_RULES_FILE: monitorRules } : {}),
  }),
  { logger: createLogger({ level: 'silent' }), env: {} },
);
if (process.env.BENCH_OBSERVE_ALERTS === '1')
  app.bus.on('alert.raised', (e) =>
    process.send!({
      cmd: 'alert',
      at: performance.timeOrigin + performance.now(),
      alertId: e.alertId,
      rule: e.rule,
      deviceId: e.deviceId,
      change: e.change,
    }),
  );
const urls = await app.listen();
const layout = installationLayout(dataDir);

const from = Date.now() - 60_000;
await each(bound, 16, async (i) => {
  await app.patients.bind(deviceId(i), { patientId: `MRN-${100000 + i}`, from });
});

const benchDir = join(dataDir, 'bench');
mkdirSync(benchDir, { recursive: true });
const credentialsFile = join(benchDir, 'devices.json');
const caBundle = join(benchDir, 'ca-bundle.pem');
writeFileSync(
  caBundle,
  [layout.issuingCaCert, layout.rootCaCert].map((f) => `${readFileSync(f, 'utf8').trim()}\n`).join(''),
);

const gc = (globalThis as { gc?: () => void }).gc;
const settle = async () => {
  for (let i = 0; i < 4; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 250));
  }
};

const loopDelay = monitorEventLoopDelay({ resolution: 1 });
let profiler: Session | undefined;

process.on('message', async (request: ServerRequest) => {
  if (request.cmd === 'measure-start') {
    loopDelay.reset();
    loopDelay.enable();
    if (process.env.BENCH_PROFILE) {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: 500 });
      await profiler.post('Profiler.start');
    }
  } else if (request.cmd === 'measure-stop') {
    loopDelay.disable();
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(process.env.BENCH_PROFILE!, JSON.stringify(profile));
      profiler.disconnect();
      profiler = undefined;
    }
    const ms = (ns: number) => Number((ns / 1e6).toFixed(1));
    const measured: Measured = {
      cmd: 'measured',
      loopDelayP50: ms(loopDelay.percentile(50)),
      loopDelayP99: ms(loopDelay.percentile(99)),
      loopDelayMax: ms(loopDelay.max),
    };
    process.send!(measured);
  } else if (request.cmd === 'rss') {
    await settle();
    const m = process.memoryUsage();
    process.send!({
      cmd: 'rss',
      rss: m.rss,
      heap: m.heapUsed,
      external: m.external,
      connected: app.connectedDevices(),
    });
  } else if (request.cmd === 'cpu') {
    process.send!({ cmd: 'cpu', cpu: process.cpuUsage(), rss: process.memoryUsage().rss });
  } else if (request.cmd === 'stop') {
    await app.close();
    process.send!({ cmd: 'stopped' });
    process.exit(0);
  }
});

const ready: ServerReady = {
  cmd: 'ready',
  mqttPort: Number(new URL(urls.mqtt!).port),
  credentialsFile,
  caBundle,
  serverCert: layout.serverCert,
  serverKey: layout.serverKey,
  apiUrl: urls.api,
  rootCaCert: layout.rootCaCert,
  adminTokenFile: layout.adminToken,
};
process.send!(ready);
