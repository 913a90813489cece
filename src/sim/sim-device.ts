import mqtt, { type MqttClient } from 'mqtt';
import type { DeviceType } from '../devices/index.js';
import type { DeviceCredentials } from './est-client.js';
import type { PatientModel } from './vitals-model.js';
import { simPayload } from './ward-traffic.js';

/** Counters a simulated device keeps; the simulator sums them for its progress line. */
export interface DeviceStats {
  sent: number;
  acked: number;
  failed: number;
  connected: boolean;
}

/**
 * One simulated device: an MQTT client over mutual TLS with its own enrolled certificate,
 * publishing its vital signs at QoS 1 on `devices/{id}/telemetry` with an increasing `seq`.
 */
export class SimDevice {
  readonly stats: DeviceStats = { sent: 0, acked: 0, failed: 0, connected: false };
  readonly #creds: DeviceCredentials;
  readonly #type: DeviceType;
  readonly #patient: PatientModel;
  #client: MqttClient | undefined;
  #timer: NodeJS.Timeout | undefined;
  #seq = 0;

  constructor(creds: DeviceCredentials, type: DeviceType, patient: PatientModel) {
    this.#creds = creds;
    this.#type = type;
    this.#patient = patient;
  }

  get deviceId(): string {
    return this.#creds.deviceId;
  }

  /** Connects to the broker; rejects if the broker refuses the certificate. */
  async connect(url: string, ca: string | Buffer): Promise<void> {
    this.#client = await mqtt.connectAsync(url, {
      ca,
      cert: this.#creds.certPem,
      key: this.#creds.keyPem,
      clientId: `${this.#creds.deviceId}-${process.pid}`,
      protocolVersion: 4,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      rejectUnauthorized: true,
    });
    this.stats.connected = true;
    this.#client.on('close', () => (this.stats.connected = false));
    this.#client.on('connect', () => (this.stats.connected = true));
  }

  /** The next payload, as the telemetry schema defines it. */
  nextPayload(now = Date.now()): string {
    return simPayload(this.#type, this.#patient, this.#seq++, now);
  }

  /** Publishes one message at QoS 1 and counts its PUBACK. */
  async publishOnce(): Promise<void> {
    const client = this.#client;
    if (!client) throw new Error('not connected');
    this.stats.sent++;
    try {
      await client.publishAsync(`devices/${this.#creds.deviceId}/telemetry`, this.nextPayload(), { qos: 1 });
      this.stats.acked++;
    } catch {
      this.stats.failed++;
    }
  }

  /** Publishes every `intervalMs` (with a random phase so a ward does not send in lockstep). */
  start(intervalMs: number): void {
    const first = Math.random() * intervalMs;
    this.#timer = setTimeout(() => {
      void this.publishOnce();
      this.#timer = setInterval(() => void this.publishOnce(), intervalMs);
    }, first);
  }

  async stop(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      clearInterval(this.#timer);
    }
    const client = this.#client;
    if (!client) return;
    // A device that lost its session (quarantined, revoked) never gets its in-flight QoS 1
    // messages acknowledged: a graceful end would wait forever, so force it after a short grace.
    const graceful = client.connected ? client.endAsync().catch(() => {}) : Promise.resolve();
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 2000).unref());
    await Promise.race([graceful, timeout]);
    if (!client.disconnected) await client.endAsync(true).catch(() => {});
  }
}
