import type { EventBus } from '../events/index.js';

/** Seconds of history behind the live message rate. */
const WINDOW_SECONDS = 5;

interface Bucket {
  second: number;
  total: number;
  byDevice: Map<string, number>;
}

/**
 * Live fleet figures from the event bus, kept in memory on this node: which devices hold an MQTT
 * session now, and messages stored per second (a sliding window of one-second buckets, per device
 * so that a clinician's overview counts only the devices of their care units).
 */
export class FleetMeter {
  readonly #now: () => number;
  readonly #buckets: Bucket[] = [];
  readonly #sessions = new Map<string, number>();
  readonly #unsubscribe: Array<() => void>;

  constructor(bus: EventBus, now: () => number = Date.now) {
    this.#now = now;
    this.#unsubscribe = [
      bus.on('telemetry.stored', (e) => this.#count(e.deviceId)),
      bus.on('device.connected', (e) =>
        this.#sessions.set(e.deviceId, (this.#sessions.get(e.deviceId) ?? 0) + 1),
      ),
      bus.on('device.disconnected', (e) => {
        const n = (this.#sessions.get(e.deviceId) ?? 1) - 1;
        if (n > 0) this.#sessions.set(e.deviceId, n);
        else this.#sessions.delete(e.deviceId);
      }),
    ];
  }

  #count(deviceId: string): void {
    const second = Math.floor(this.#now() / 1000);
    let bucket = this.#buckets[this.#buckets.length - 1];
    if (!bucket || bucket.second !== second) {
      bucket = { second, total: 0, byDevice: new Map() };
      this.#buckets.push(bucket);
      while (this.#buckets.length > WINDOW_SECONDS + 1) this.#buckets.shift();
    }
    bucket.total += 1;
    bucket.byDevice.set(deviceId, (bucket.byDevice.get(deviceId) ?? 0) + 1);
  }

  /**
   * Messages stored per second over the last complete seconds (the current, partial second is
   * left out), for every device or only `visible` ones.
   */
  messagesPerSecond(visible?: (deviceId: string) => boolean): number {
    const current = Math.floor(this.#now() / 1000);
    let sum = 0;
    for (const b of this.#buckets) {
      if (b.second >= current || b.second < current - WINDOW_SECONDS) continue;
      if (!visible) sum += b.total;
      else for (const [id, n] of b.byDevice) if (visible(id)) sum += n;
    }
    return sum / WINDOW_SECONDS;
  }

  /** Devices with a live session now, optionally only `visible` ones. */
  connected(visible?: (deviceId: string) => boolean): number {
    if (!visible) return this.#sessions.size;
    let n = 0;
    for (const id of this.#sessions.keys()) if (visible(id)) n++;
    return n;
  }

  isConnected(deviceId: string): boolean {
    return this.#sessions.has(deviceId);
  }

  close(): void {
    for (const off of this.#unsubscribe) off();
  }
}
