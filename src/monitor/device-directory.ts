import type { EventBus } from '../events/index.js';
import type { Store } from '../store/index.js';
import type { DeviceDirectory } from './behaviour-detector.js';

const UNKNOWN = Object.freeze({ type: null, careUnit: null });

/**
 * Device type and care unit by id, held in memory for the detectors (which must not query per
 * message). Loaded once; a device that changes or is enrolled is re-read shortly after, in one
 * batched query, and an id never seen before is queued the same way.
 */
export class MemoryDeviceDirectory implements DeviceDirectory {
  readonly #store: Store;
  readonly #onError: (error: unknown) => void;
  readonly #devices = new Map<string, { type: string | null; careUnit: string | null }>();
  readonly #pending = new Set<string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(store: Store, onError: (error: unknown) => void) {
    this.#store = store;
    this.#onError = onError;
  }

  async load(): Promise<void> {
    const rows = await this.#store.db.selectFrom('devices').select(['id', 'type', 'care_unit']).execute();
    for (const r of rows) this.#devices.set(r.id, { type: r.type, careUnit: r.care_unit });
  }

  /** Keeps the map fresh from device and certificate events. */
  attach(bus: EventBus): () => void {
    const offs = [
      bus.on('device.changed', (e) => this.#queue(e.deviceId)),
      bus.on('certificate.issued', (e) => this.#queue(e.deviceId)),
    ];
    return () => {
      for (const off of offs) off();
      if (this.#timer) clearTimeout(this.#timer);
    };
  }

  info(deviceId: string): { type: string | null; careUnit: string | null } {
    const d = this.#devices.get(deviceId);
    if (d) return d;
    this.#queue(deviceId);
    return UNKNOWN;
  }

  /** A device not in memory yet, read now (only when an alert about it is raised). */
  lookup(deviceId: string): Promise<{ type: string | null; careUnit: string | null }> | undefined {
    if (this.#devices.has(deviceId)) return undefined;
    return this.#store.db
      .selectFrom('devices')
      .select(['id', 'type', 'care_unit'])
      .where('id', '=', deviceId)
      .executeTakeFirst()
      .then((r) => {
        const d = r ? { type: r.type, careUnit: r.care_unit } : UNKNOWN;
        this.#devices.set(deviceId, d);
        return d;
      });
  }

  #queue(deviceId: string): void {
    if (this.#pending.size > 10_000) return;
    this.#pending.add(deviceId);
    this.#timer ??= setTimeout(() => void this.#refresh(), 200);
    this.#timer.unref?.();
  }

  async #refresh(): Promise<void> {
    const ids = [...this.#pending];
    this.#pending.clear();
    try {
      for (let i = 0; i < ids.length; i += 500) {
        const part = ids.slice(i, i + 500);
        const rows = await this.#store.db
          .selectFrom('devices')
          .select(['id', 'type', 'care_unit'])
          .where('id', 'in', part)
          .execute();
        for (const id of part) this.#devices.set(id, UNKNOWN);
        for (const r of rows) this.#devices.set(r.id, { type: r.type, careUnit: r.care_unit });
      }
    } catch (error) {
      this.#onError(error);
    } finally {
      this.#timer = undefined;
      if (this.#pending.size > 0) this.#timer = setTimeout(() => void this.#refresh(), 200);
    }
  }
}
