/**
 * A load generator process for `bench/ingest.ts`: it holds the connections of a slice of the
 * simulated devices, each over mutual TLS with the device's own certificate, and publishes at
 * QoS 1 with a fixed window of unacknowledged messages per device (closed loop).
 *
 * The MQTT 3.1.1 client here is deliberately minimal (CONNECT, PUBLISH QoS 1, PUBACK, DISCONNECT:
 * MQTT 3.1.1 §3.1, §3.3, §3.4, §3.14, encoded by hand). On this 2-core machine the generator
 * shares the CPU with the broker under test, and a full client library spends several times more
 * CPU per message than the TLS it rides on; a lean client leaves the broker as the bottleneck.
 * Its CPU use is reported so the reader can check that.
 */
import { readFileSync } from 'node:fs';
import { connect, type TLSSocket } from 'node:tls';
import { PatientModel } from '../src/sim/vitals-model.js';
import {
  BUCKET_MS,
  BUCKETS,
  type ConnectReport,
  type PublishReport,
  type WorkerRequest,
} from './_ingest-protocol.js';

interface Device {
  id: string;
  key: string;
  cert: string;
}

const devices = JSON.parse(readFileSync(process.env.BENCH_CREDENTIALS!, 'utf8')) as Device[];
const ca = readFileSync(process.env.BENCH_CA!);

/** The remaining-length varint of MQTT 3.1.1 §2.2.3. */
function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

function connectPacket(clientId: string): Buffer {
  const id = Buffer.from(clientId);
  // "MQTT", level 4, clean session, keep-alive 600 s (no PINGREQ during a run).
  const variable = Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0x02, 0x58]);
  const body = Buffer.concat([variable, Buffer.from([id.length >> 8, id.length & 255]), id]);
  return Buffer.concat([Buffer.from([0x10, ...remainingLength(body.length)]), body]);
}

function publishPacket(topic: Buffer, packetId: number, payload: Buffer): Buffer {
  const len = 2 + topic.length + 2 + payload.length;
  const rl = remainingLength(len);
  const out = Buffer.allocUnsafe(1 + rl.length + len);
  let at = 0;
  out[at++] = 0x32; // PUBLISH, QoS 1
  for (const b of rl) out[at++] = b;
  out.writeUInt16BE(topic.length, at);
  at += 2;
  at += topic.copy(out, at);
  out.writeUInt16BE(packetId, at);
  at += 2;
  payload.copy(out, at);
  return out;
}

const DISCONNECT = Buffer.from([0xe0, 0x00]);

class LoadClient {
  socket: TLSSocket | undefined;
  session: Buffer | undefined;
  connected = false;
  #buf: Buffer = Buffer.alloc(0);
  #seq = 0;
  #nextId = 1;
  readonly sentAt = new Map<number, number>();
  readonly #topic: Buffer;
  readonly #model: PatientModel;
  onConnack: ((rc: number) => void) | undefined;
  onPuback: ((client: LoadClient, sentAt: number) => void) | undefined;
  onClose: (() => void) | undefined;

  constructor(
    readonly device: Device,
    seed: number,
  ) {
    this.#topic = Buffer.from(`devices/${device.id}/telemetry`);
    this.#model = new PatientModel({ seed });
  }

  open(port: number, resume: boolean): Promise<{ ok: boolean; resumed: boolean; error?: string }> {
    return new Promise((resolve) => {
      let settled = false;
      const done = (ok: boolean, error?: string) => {
        if (settled) return;
        settled = true;
        resolve({ ok, resumed: ok && socket.isSessionReused(), error });
      };
      const socket = connect({
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        ca,
        cert: this.device.cert,
        key: this.device.key,
        ...(resume && this.session ? { session: this.session } : {}),
      });
      this.socket = socket;
      this.#buf = Buffer.alloc(0);
      socket.setNoDelay(true);
      socket.on('session', (s: Buffer) => (this.session = s));
      socket.once('secureConnect', () => socket.write(connectPacket(this.device.id)));
      this.onConnack = (rc) => {
        this.connected = rc === 0;
        done(rc === 0, `CONNACK ${rc}`);
      };
      socket.on('data', (chunk: Buffer) => this.#data(chunk));
      socket.on('error', (e) => done(false, e.message));
      socket.on('close', () => {
        this.connected = false;
        done(false, 'closed before CONNACK');
        this.onClose?.();
      });
      socket.setTimeout(120_000, () => socket.destroy());
    });
  }

  #data(chunk: Buffer): void {
    let buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    this.socket!.cork();
    for (;;) {
      if (buf.length < 2) break;
      let len = 0;
      let mul = 1;
      let at = 1;
      for (; at < buf.length && at < 5; at++) {
        len += (buf[at]! & 127) * mul;
        mul *= 128;
        if ((buf[at]! & 128) === 0) break;
      }
      if (at >= buf.length || buf.length < at + 1 + len) break;
      const type = buf[0]! >> 4;
      const body = buf.subarray(at + 1, at + 1 + len);
      buf = buf.subarray(at + 1 + len);
      if (type === 2) this.onConnack?.(body[1]!);
      else if (type === 4) {
        const id = body.readUInt16BE(0);
        const sent = this.sentAt.get(id);
        this.sentAt.delete(id);
        if (sent !== undefined) this.onPuback?.(this, sent);
      }
    }
    this.#buf = buf.length ? Buffer.from(buf) : Buffer.alloc(0);
    const socket = this.socket!;
    process.nextTick(() => socket.uncork());
  }

  /** A realistic telemetry message: four vital signs of the simulated patient, increasing seq. */
  publish(): void {
    const now = Date.now();
    const v = this.#model.at(now);
    const payload = Buffer.from(
      JSON.stringify({
        seq: this.#seq++,
        ts: new Date(now).toISOString(),
        observations: [
          { code: { system: 'LOINC', code: '8867-4' }, value: v.heartRate, unit: '/min' },
          { code: { system: 'LOINC', code: '59408-5' }, value: v.spo2, unit: '%' },
          { code: { system: 'LOINC', code: '9279-1' }, value: v.respiratoryRate, unit: '/min' },
          { code: { system: 'LOINC', code: '8310-5' }, value: v.temperature, unit: 'Cel' },
        ],
      }),
    );
    const id = this.#nextId;
    this.#nextId = (this.#nextId % 65535) + 1;
    this.sentAt.set(id, performance.now());
    this.socket!.write(publishPacket(this.#topic, id, payload));
  }

  close(): void {
    if (this.socket && !this.socket.destroyed) {
      if (this.connected) this.socket.end(DISCONNECT);
      else this.socket.destroy();
    }
    this.connected = false;
  }
}

let clients: LoadClient[] = [];
const cpuMs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

async function connectAll(req: Extract<WorkerRequest, { cmd: 'connect' }>): Promise<ConnectReport> {
  if (clients.length === 0)
    clients = devices.slice(req.from, req.to).map((d, i) => new LoadClient(d, req.from + i + 1));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let ok = 0;
  let failed = 0;
  let resumed = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(req.concurrency, clients.length) }, async () => {
      while (next < clients.length) {
        const r = await clients[next++]!.open(req.port, req.resume);
        if (r.ok) ok++;
        else {
          failed++;
          if (failed === 1) process.stderr.write(`  [load] first connection failure: ${r.error}\n`);
        }
        if (r.resumed) resumed++;
      }
    }),
  );
  return { cmd: 'connected', ok, failed, resumed, ms: performance.now() - t0, cpuMs: cpuMs(cpu0) };
}

async function publishAll(req: Extract<WorkerRequest, { cmd: 'publish' }>): Promise<PublishReport> {
  const histogram = new Uint32Array(BUCKETS);
  const live = clients.filter((c) => c.connected);
  let sent = 0;
  let acked = 0;
  let closed = 0;
  let stopping = false;
  let measuring = false;
  let outstanding = 0;
  let drained: (() => void) | undefined;
  const onPuback = (c: LoadClient, at: number) => {
    outstanding--;
    if (measuring) {
      acked++;
      const b = Math.min(BUCKETS - 1, Math.floor((performance.now() - at) / BUCKET_MS));
      histogram[b]!++;
    }
    if (!stopping && c.connected && !req.rate) {
      c.publish();
      sent++;
      outstanding++;
    } else if (outstanding === 0 && stopping) drained?.();
  };
  for (const c of live) {
    c.onPuback = onPuback;
    c.onClose = () => {
      if (!stopping) closed++;
      outstanding -= c.sentAt.size;
      c.sentAt.clear();
    };
    for (let k = 0; k < (req.rate ? 0 : req.inflight); k++) {
      c.publish();
      sent++;
      outstanding++;
    }
  }
  // Open loop: a paced total rate, spread round-robin over the devices every 10 ms.
  let pacer: NodeJS.Timeout | undefined;
  if (req.rate) {
    let carry = 0;
    let next = 0;
    let last = performance.now();
    const corked = new Set<LoadClient>();
    pacer = setInterval(() => {
      // Timers run late on a busy machine: the quota follows the time that really passed.
      const now = performance.now();
      carry += (req.rate! * (now - last)) / 1000;
      last = now;
      if (stopping || live.length === 0) return;
      for (let tries = 0; carry >= 1 && tries < live.length; tries++) {
        const c = live[next]!;
        next = (next + 1) % live.length;
        if (!c.connected || c.sentAt.size >= req.inflight) continue;
        // One TLS record per device and tick, as the closed loop writes them (cork until next tick).
        if (!corked.has(c)) {
          corked.add(c);
          c.socket!.cork();
        }
        c.publish();
        sent++;
        outstanding++;
        carry--;
      }
      carry = Math.min(carry, req.rate! / 2);
      if (corked.size > 0)
        process.nextTick(() => {
          for (const c of corked) c.socket?.uncork();
          corked.clear();
        });
    }, 10);
  }
  await new Promise((r) => setTimeout(r, req.warmupSeconds * 1000));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  measuring = true;
  await new Promise((r) => setTimeout(r, req.seconds * 1000));
  measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuMs(cpu0);
  stopping = true;
  if (pacer) clearInterval(pacer);
  // Wait for the acknowledgements still due, so the next phase starts from a quiet broker.
  await Promise.race([
    new Promise<void>((r) => {
      drained = r;
      if (outstanding <= 0) r();
    }),
    new Promise((r) => setTimeout(r, 15_000)),
  ]);
  return { cmd: 'published', acked, sent, closed, seconds, histogram: [...histogram], cpuMs: cpu };
}

process.on('message', async (req: WorkerRequest) => {
  if (req.cmd === 'connect') process.send!(await connectAll(req));
  else if (req.cmd === 'publish') process.send!(await publishAll(req));
  else if (req.cmd === 'disconnect') {
    for (const c of clients) c.close();
    await new Promise((r) => setTimeout(r, 500));
    process.send!({ cmd: 'disconnected' });
  }
});
process.send!({ cmd: 'worker-ready' });
