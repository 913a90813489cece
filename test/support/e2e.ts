/**
 * End-to-end set-up against the REAL composed application: `createInstallation` into a temp
 * dir with free ports, `createApp(...).listen()`, and the clients a hospital would use: curl for
 * the REST API and EST, openssl as the device making its key and CSR, the mosquitto command-line
 * clients. Nothing here stands in for a Pulsegate capability. Every client runs as a child
 * process without blocking the event loop (the server under test may be in this process).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { createApp, type PulsegateApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import type { PulsegateEvents } from '../../src/events/index.js';
import {
  createInstallation,
  type InstallationLayout,
  installationLayout,
} from '../../src/installation/index.js';
import { createLogger } from '../../src/logging/logger.js';
import type { Store } from '../../src/store/index.js';
import { recordEvents, run } from './ingest-harness.js';
import { freePort } from './processes.js';

export type Settings = Record<string, Record<string, unknown>>;

export interface HttpReply {
  status: number;
  /** Response headers, lower-cased. */
  headers: string;
  body: Buffer;
  json: Record<string, unknown>;
}

/** curl against a Pulsegate HTTPS listener, trusting the installation's root CA. */
export class HttpsClient {
  #n = 0;
  constructor(
    readonly port: number,
    readonly caFile: string,
    readonly work: string,
    readonly token?: string,
  ) {}

  get base(): string {
    return `https://localhost:${this.port}`;
  }

  async request(method: string, path: string, args: string[] = []): Promise<HttpReply> {
    this.#n += 1;
    const out = join(this.work, `curl-${this.#n}.body`);
    const headers = join(this.work, `curl-${this.#n}.headers`);
    const r = await run(
      'curl',
      [
        '-sS',
        '--max-time',
        '20',
        '--cacert',
        this.caFile,
        '--resolve',
        `localhost:${this.port}:127.0.0.1`,
        '-X',
        method,
        '-o',
        out,
        '-D',
        headers,
        '-w',
        '%{http_code}',
        ...args,
        `${this.base}${path}`,
      ],
      25_000,
    );
    if (r.code !== 0) throw new Error(`curl ${method} ${path} failed: ${r.stderr}`);
    const body = readFileSync(out);
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(body.toString()) as Record<string, unknown>;
    } catch {
      json = {};
    }
    return { status: Number(r.stdout), headers: readFileSync(headers, 'utf8').toLowerCase(), body, json };
  }

  /** A REST call with the bearer token and an optional JSON body. */
  api(method: string, path: string, body?: unknown): Promise<HttpReply> {
    const args = this.token ? ['-H', `Authorization: Bearer ${this.token}`] : [];
    if (body !== undefined)
      args.push('-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body));
    return this.request(method, path, args);
  }

  /**
   * A patient's telemetry by identifier, as a client should fetch it: the identifier goes in a
   * body (`POST /api/v1/patients/lookup`), only the returned reference in the URL.
   */
  async patientTelemetry(identifier: string, query = ''): Promise<HttpReply> {
    const lookup = await this.api('POST', '/api/v1/patients/lookup', { identifier });
    if (lookup.status !== 200) return lookup;
    return this.api('GET', `/api/v1/patients/${String(lookup.json.id)}/telemetry${query}`);
  }
}

/** A device's credentials as openssl and the EST reply left them on disk. */
export interface DeviceCredentials {
  deviceId: string;
  /** The EST reply's certificates as PEM (device first). */
  cert: string;
  key: string;
  /** Lower-case hex serial of the device certificate. */
  serial: string;
}

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The device's side of EST: a P-256 key (or the one in `keyFile`) and a base64 DER CSR for `cn`, made by openssl. */
export function makeCsr(
  work: string,
  cn: string,
  keyFile?: string,
): { key: string; der: string; b64: string } {
  const stem = join(work, `${cn}-${Math.random().toString(36).slice(2, 8)}`);
  const key = keyFile ?? `${stem}.key`;
  if (!keyFile) openssl(['ecparam', '-genkey', '-name', 'prime256v1', '-out', key]);
  openssl(['req', '-new', '-key', key, '-subj', `/CN=${cn}`, '-outform', 'DER', '-out', `${stem}.csr.der`]);
  openssl(['base64', '-in', `${stem}.csr.der`, '-out', `${stem}.csr.b64`]);
  return { key, der: `${stem}.csr.der`, b64: `${stem}.csr.b64` };
}

/** POST /.well-known/est/simpleenroll with curl (base64 DER PKCS#10, Bearer enrollment token). */
export function simpleenroll(
  http: HttpsClient,
  csrB64: string,
  token: string | undefined,
): Promise<HttpReply> {
  const args = ['-H', 'Content-Type: application/pkcs10', '--data-binary', `@${csrB64}`];
  if (token) args.push('-H', `Authorization: Bearer ${token}`);
  return http.request('POST', '/.well-known/est/simpleenroll', args);
}

/** Converts a base64 PKCS#7 certs-only reply into PEM with openssl; returns the file. */
export function certsFromReply(work: string, reply: HttpReply, name: string): string {
  const stem = join(work, `${name}-${Math.random().toString(36).slice(2, 8)}`);
  writeFileSync(`${stem}.p7.b64`, reply.body);
  openssl(['base64', '-d', '-in', `${stem}.p7.b64`, '-out', `${stem}.p7`]);
  openssl(['pkcs7', '-inform', 'DER', '-in', `${stem}.p7`, '-print_certs', '-out', `${stem}.pem`]);
  return `${stem}.pem`;
}

export function serialOf(pemFile: string): string {
  return openssl(['x509', '-in', pemFile, '-noout', '-serial']).trim().replace('serial=', '').toLowerCase();
}

/** The operator creates the device (REST), optionally binds a patient, and hands over a token. */
export async function registerDevice(
  admin: HttpsClient,
  deviceId: string,
  opts: { patientId?: string; careUnit?: string } = {},
): Promise<string> {
  const created = await admin.api('POST', '/api/v1/devices', {
    id: deviceId,
    type: 'patient-monitor',
    vendor: 'Acme',
    model: 'X1',
    careUnit: opts.careUnit ?? 'ICU',
  });
  if (created.status !== 201) throw new Error(`create ${deviceId}: ${created.status} ${created.body}`);
  if (opts.patientId) {
    const bound = await admin.api('POST', `/api/v1/devices/${deviceId}/bindings`, {
      patientId: opts.patientId,
    });
    if (bound.status !== 201) throw new Error(`bind ${deviceId}: ${bound.status} ${bound.body}`);
  }
  const token = await admin.api('POST', `/api/v1/devices/${deviceId}/enrollment-tokens`);
  if (token.status !== 201) throw new Error(`token ${deviceId}: ${token.status} ${token.body}`);
  return token.json.token as string;
}

/** The device enrolls over EST with its one-time token (openssl + curl) and keeps key and certificate. */
export async function enroll(http: HttpsClient, deviceId: string, token: string): Promise<DeviceCredentials> {
  const csr = makeCsr(http.work, deviceId);
  const reply = await simpleenroll(http, csr.b64, token);
  if (reply.status !== 200) throw new Error(`enroll ${deviceId}: ${reply.status} ${reply.body}`);
  const cert = certsFromReply(http.work, reply, deviceId);
  return { deviceId, cert, key: csr.key, serial: serialOf(cert) };
}

/** Register, bind and enroll in one go. */
export async function enrolledDevice(
  admin: HttpsClient,
  deviceId: string,
  opts: { patientId?: string } = {},
): Promise<DeviceCredentials> {
  return enroll(admin, deviceId, await registerDevice(admin, deviceId, opts));
}

/** A telemetry payload: heart rate (LOINC 8867-4, /min) and SpO2 (LOINC 59408-5, %). */
export function vitalsPayload(seq: number, values: { hr?: number; spo2?: number; ts?: number } = {}): string {
  return JSON.stringify({
    seq,
    ts: new Date(values.ts ?? Date.now()).toISOString(),
    observations: [
      { code: { system: 'LOINC', code: '8867-4' }, value: values.hr ?? 72, unit: '/min' },
      { code: { system: 'LOINC', code: '59408-5' }, value: values.spo2 ?? 97, unit: '%' },
    ],
  });
}

/** `mosquitto_pub`/`mosquitto_sub` connection arguments (no client certificate when `device` is null). */
export function mqttArgs(
  port: number,
  caFile: string,
  device: Pick<DeviceCredentials, 'cert' | 'key'> | null,
): string[] {
  return [
    '-h',
    'localhost',
    '-p',
    String(port),
    '--cafile',
    caFile,
    ...(device ? ['--cert', device.cert, '--key', device.key] : []),
  ];
}

/** `mosquitto_pub` of one message at QoS 1 over mutual TLS to the installation's broker, as `device`. */
export function publishQos1(
  inst: { mqttPort: number; layout: { rootCaCert: string } },
  device: Pick<DeviceCredentials, 'cert' | 'key'> | null,
  topic: string,
  message: string,
) {
  return run(
    'mosquitto_pub',
    [...mqttArgs(inst.mqttPort, inst.layout.rootCaCert, device), '-q', '1', '-t', topic, '-m', message],
    10_000,
  );
}

/** Rows in `telemetry_readings` (one per accepted message), optionally for one device. */
export async function telemetryRows(store: Store, deviceId?: string): Promise<number> {
  let q = store.db.selectFrom('telemetry_readings').select((eb) => eb.fn.countAll<number>().as('n'));
  if (deviceId) q = q.where('device_id', '=', deviceId);
  return Number((await q.executeTakeFirstOrThrow()).n);
}

/** Seqs stored for a device, ascending. */
export async function storedSeqs(store: Store, deviceId: string): Promise<number[]> {
  const rows = await store.db
    .selectFrom('telemetry_readings')
    .select('seq')
    .where('device_id', '=', deviceId)
    .orderBy('seq')
    .execute();
  return rows.map((r) => Number(r.seq));
}

export const RECORDED = [
  'ingest.refused',
  'telemetry.rejected',
  'telemetry.stored',
  'device.connected',
  'device.disconnected',
  'certificate.revoked',
] as const satisfies ReadonlyArray<keyof PulsegateEvents>;

/** A fresh installation directory with free API and MQTT ports (nothing running yet). */
export async function newInstallation(settings: Settings = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'pulsegate-e2e-'));
  const dataDir = join(dir, 'data');
  const work = join(dir, 'work');
  mkdirSync(work);
  const apiPort = await freePort();
  const mqttPort = await freePort();
  const hl7Port = await freePort();
  await createInstallation({
    dataDir,
    settings: {
      ...settings,
      // publicUrl names the real port, so token audiences and FHIR Bundle links are real.
      server: {
        port: apiPort,
        host: '127.0.0.1',
        publicUrl: `https://localhost:${apiPort}`,
        ...settings.server,
      },
      mqtt: { port: mqttPort, host: '127.0.0.1', ...settings.mqtt },
      hl7: { port: hl7Port, host: '127.0.0.1', ...settings.hl7 },
      log: { level: 'silent', ...settings.log },
    },
    env: {},
  });
  const layout: InstallationLayout = installationLayout(dataDir);
  const adminToken = readFileSync(layout.adminToken, 'utf8').trim();
  return {
    dir,
    dataDir,
    work,
    layout,
    apiPort,
    mqttPort,
    hl7Port,
    adminToken,
    admin: new HttpsClient(apiPort, layout.rootCaCert, work, adminToken),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export type NewInstallation = Awaited<ReturnType<typeof newInstallation>>;

/** A real installation served by the real app in this process, with its bus events recorded. */
export async function startE2e(settings: Settings = {}) {
  const inst = await newInstallation(settings);
  let app: PulsegateApp | undefined;
  try {
    app = await createApp(loadConfig(inst.dataDir, {}), {
      logger: createLogger({ level: 'silent' }),
      env: {},
    });
    const events = recordEvents(app.bus, [...RECORDED]);
    const urls = await app.listen();
    const started = app;
    return {
      ...inst,
      app: started,
      urls,
      events,
      async close() {
        await started.close();
        inst.cleanup();
      },
    };
  } catch (error) {
    await app?.close();
    inst.cleanup();
    throw error;
  }
}

export type E2e = Awaited<ReturnType<typeof startE2e>>;

/**
 * A device's mqtt.js connection (MQTT 3.1.1 over mutual TLS, no automatic reconnect) to the
 * installation's broker; `opened` collects it so the test can end every client afterwards.
 */
export async function connectDevice(
  inst: { mqttPort: number; layout: { rootCaCert: string } },
  device: Pick<DeviceCredentials, 'cert' | 'key'>,
  opened: MqttClient[] = [],
): Promise<MqttClient> {
  const c = await connectAsync({
    host: 'localhost',
    port: inst.mqttPort,
    protocol: 'mqtts',
    protocolVersion: 4,
    ca: readFileSync(inst.layout.rootCaCert),
    cert: readFileSync(device.cert),
    key: readFileSync(device.key),
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });
  c.on('error', () => {});
  opened.push(c);
  return c;
}
