/** What `identify` needs to know about one certificate and its device. */
export interface CachedIdentity {
  serial: string;
  deviceId: string;
  fingerprint: string;
  status: string;
  notBefore: number;
  notAfter: number;
  lifecycle: string;
}

/**
 * A small bounded cache of certificate identities by serial, so that a reconnect storm costs one
 * database read per device, not one per connection. Entries expire after `ttlMs` (other nodes may
 * revoke or quarantine); this node's revocations and device changes delete them at once.
 */
export class IdentityCache {
  readonly #entries = new Map<string, { value: CachedIdentity; at: number }>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;

  constructor(opts: { ttlMs: number; maxEntries: number }) {
    this.#ttlMs = opts.ttlMs;
    this.#maxEntries = opts.maxEntries;
  }

  get(serial: string, now: number): CachedIdentity | undefined {
    const hit = this.#entries.get(serial);
    if (!hit) return undefined;
    if (now - hit.at >= this.#ttlMs) {
      this.#entries.delete(serial);
      return undefined;
    }
    return hit.value;
  }

  set(value: CachedIdentity, now: number): void {
    this.#entries.delete(value.serial);
    // Maps iterate in insertion order: the first key is the oldest entry.
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(value.serial, { value, at: now });
  }

  delete(serial: string): void {
    this.#entries.delete(serial);
  }

  /** Forgets every certificate of a device (its lifecycle changed). */
  deleteDevice(deviceId: string): void {
    for (const [serial, { value }] of this.#entries) {
      if (value.deviceId === deviceId) this.#entries.delete(serial);
    }
  }

  get size(): number {
    return this.#entries.size;
  }
}
