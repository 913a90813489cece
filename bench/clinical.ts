/**
 * Clinical monitoring and live-stream cost:
 * - NEWS2 scoring per observation set (pure function);
 * - the clinical monitor's cost per stored message (limits + NEWS2 + dedup bookkeeping), for
 *   1,000 patients, fed through the same observer interface telemetry uses (no database);
 * - alert-to-subscriber latency on the SSE stream (real HTTP sockets, 20 subscribers), while the
 *   hub also fans out `telemetry` events at the background rate. Target p99 <= 50 ms.
 *
 *   npm run bench -- clinical [messages=200000] [telemetryPerSecond=10000]
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import type { Principal } from '../src/access/index.js';
import { computeNews2, createClinicalMonitor, LimitTable } from '../src/monitor/clinical/index.js';
import { type AlertEvent, type AlertSink, createdAlertEvent } from '../src/monitor/contracts.js';
import { StreamHub } from '../src/monitor/notify/index.js';
import type { StoredTelemetry } from '../src/telemetry/index.js';
import { printResult, printTable, rate } from './_report.js';

const MESSAGES = Number(process.argv[2] ?? 200_000);
const BACKGROUND = Number(process.argv[3] ?? 10_000);
const PATIENTS = 1000;

// --- NEWS2 -------------------------------------------------------------------------------------
const sets = Array.from({ length: 1024 }, (_, i) => ({
  respiratoryRate: 8 + (i % 20),
  spo2: 85 + (i % 15),
  airOrOxygen: i % 3 === 0 ? ('oxygen' as const) : ('air' as const),
  systolic: 85 + (i % 140),
  pulse: 40 + (i % 100),
  consciousness: i % 7 === 0 ? ('V' as const) : ('A' as const),
  temperature: 35 + (i % 50) / 10,
  spo2Scale: (i % 5 === 0 ? 2 : 1) as 1 | 2,
}));
let sink = 0;
const N2 = 2_000_000;
for (let i = 0; i < 100_000; i++) sink += computeNews2(sets[i & 1023]!).score;
let start = process.cpuUsage();
for (let i = 0; i < N2; i++) sink += computeNews2(sets[i & 1023]!).score;
let used = process.cpuUsage(start);
const news2Ns = ((used.user + used.system) * 1000) / N2;

// --- Clinical monitor per message --------------------------------------------------------------
let listener: ((s: StoredTelemetry) => void) | undefined;
let raised = 0;
const alertSink: AlertSink = {
  async raise() {
    raised++;
    return { outcome: 'created', alertId: 'x' };
  },
};
const clock = { ms: Date.now() };
const monitor = createClinicalMonitor({
  telemetry: {
    observeStored(l) {
      listener = l;
      return () => {};
    },
  },
  sink: alertSink,
  settings: { spo2Scale: async () => 1, setSpo2Scale: async () => 1 },
  limits: new LimitTable(),
  config: {
    vitalsMaxAgeMinutes: 60,
    news2AlertLevel: 'low-medium',
    trendIntervalMinutes: 15,
    signalLossSeconds: 120,
    realertSeconds: 60,
  },
  now: () => clock.ms,
});
const obs = (kind: string, value: number, ts: number) => ({
  system: 'LOINC' as const,
  code: kind,
  kind,
  unit: '',
  value,
  ts,
  implausible: false,
});
const message = (i: number): StoredTelemetry => {
  const p = i % PATIENTS;
  const ts = clock.ms;
  const sick = p % 10 === 0;
  return {
    deviceId: `dev-${p}`,
    seq: i,
    ts,
    patientId: `MRN-${p}`,
    patientIndex: `idx-${p}`,
    careUnit: p % 2 ? 'ward-3' : 'icu',
    bed: null,
    observations: [
      obs('heart-rate', sick ? 125 : 70 + (i % 10), ts),
      obs('spo2', sick ? 90 : 97, ts),
      obs('resp-rate', sick ? 24 : 16, ts),
      obs('body-temp', 37, ts),
    ],
    alarms: [],
  };
};
for (let i = 0; i < 20_000; i++) listener!(message(i));
await monitor.idle();
start = process.cpuUsage();
const wallStart = performance.now();
for (let i = 0; i < MESSAGES; i++) {
  if (i % 1000 === 0) clock.ms += 100;
  listener!(message(i));
  if (i % 5000 === 0) await monitor.idle();
}
await monitor.idle();
used = process.cpuUsage(start);
const monitorUs = (used.user + used.system) / MESSAGES;
const monitorWall = MESSAGES / ((performance.now() - wallStart) / 1000);
monitor.stop();

// --- SSE latency -------------------------------------------------------------------------------
const analyst: Principal = {
  kind: 'user',
  id: 'a',
  name: 'a',
  role: 'security-analyst',
  careUnits: [],
  vendorDevices: [],
  scopes: [],
};
const hub = new StreamHub({
  access: { authorize() {}, checkResource() {} },
  heartbeatMs: 15_000,
  maxBufferBytes: 4 * 1024 * 1024,
  maxSubscribers: 100,
  isCareUnitLimited: () => false,
});
const server = http.createServer((_req, res) => hub.subscribe(analyst, res));
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;
const latencies: number[] = [];
const SUBSCRIBERS = 20;
const clients: http.IncomingMessage[] = [];
for (let s = 0; s < SUBSCRIBERS; s++) {
  clients.push(
    await new Promise<http.IncomingMessage>((resolve) =>
      http.get({ port, host: '127.0.0.1', path: '/' }, (res) => {
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          buf += c;
          for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            if (block.startsWith('event: alert')) {
              const data = JSON.parse(block.slice(block.indexOf('data: ') + 6)) as AlertEvent;
              latencies.push(performance.now() - data.at);
            }
          }
        });
        resolve(res);
      }),
    ),
  );
}
while (hub.size < SUBSCRIBERS) await new Promise((r) => setTimeout(r, 5));
const ALERTS = 500;
const tickMs = 10;
const perTick = Math.max(1, Math.round((BACKGROUND * tickMs) / 1000));
for (let a = 0; a < ALERTS; a++) {
  for (let k = 0; k < perTick; k++)
    hub.publish({
      kind: 'telemetry',
      data: { deviceId: `dev-${k}`, count: 4, at: Date.now() },
      careUnit: 'icu',
    });
  hub.publish({
    kind: 'alert',
    data: createdAlertEvent({
      alertId: `a${a}`,
      category: 'clinical',
      rule: 'clinical.news2',
      title: 'NEWS2 medium',
      deviceId: 'dev-1',
      careUnit: 'icu',
      at: performance.now(),
    }),
  });
  await new Promise((r) => setTimeout(r, tickMs));
}
const end = Date.now() + 10_000;
while (latencies.length < ALERTS * SUBSCRIBERS && Date.now() < end)
  await new Promise((r) => setTimeout(r, 10));
latencies.sort((x, y) => x - y);
const pct = (p: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
for (const c of clients) c.destroy();
hub.close();
server.close();

const [l1] = loadavg();
console.log(
  `load average ${l1!.toFixed(2)} on ${availableParallelism()} cores (other work on the machine skews timings)`,
);
printTable([
  { measure: 'NEWS2 score (one observation set)', value: `${news2Ns.toFixed(0)} ns`, target: '-' },
  {
    measure: `clinical monitor per message (${PATIENTS} patients)`,
    value: `${monitorUs.toFixed(2)} us CPU (${rate(monitorWall)} msg/s)`,
    target: '<= 10 us',
  },
  {
    measure: `alert -> SSE client p50 (${SUBSCRIBERS} subs, ${rate(BACKGROUND)} telemetry ev/s)`,
    value: `${pct(50).toFixed(2)} ms`,
    target: '-',
  },
  { measure: 'alert -> SSE client p99', value: `${pct(99).toFixed(2)} ms`, target: '<= 50 ms' },
]);
printResult({
  name: 'clinical',
  news2Ns: Math.round(news2Ns),
  monitorUsPerMessage: Number(monitorUs.toFixed(3)),
  monitorMessagesPerSecond: Math.round(monitorWall),
  alertsRaised: raised,
  sseP50Ms: Number(pct(50).toFixed(3)),
  sseP99Ms: Number(pct(99).toFixed(3)),
  sseDelivered: latencies.length,
  sseExpected: ALERTS * SUBSCRIBERS,
  targets: { monitorUsPerMessage: 10, sseP99Ms: 50 },
  loadAverage: l1,
  checksum: sink % 7,
});
process.exit(0);
