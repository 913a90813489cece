/**
 * Per-key token buckets: each key may send `burst` messages at once and `ratePerSecond` sustained.
 * Refill is computed lazily on use, so an idle key costs nothing but its map entry; entries idle
 * long enough to be full again are pruned.
 */
export class TokenBuckets {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  #lastPrune = 0;

  constructor(opts: { ratePerSecond: number; burst: number; now?: () => number }) {
    this.#rate = opts.ratePerSecond;
    this.#burst = opts.burst;
    this.#now = opts.now ?? Date.now;
  }

  /** Takes one token for `key`; false when the bucket is empty (the message must be refused). */
  take(key: string): boolean {
    const now = this.#now();
    this.#prune(now);
    const b = this.#buckets.get(key) ?? { tokens: this.#burst, at: now };
    b.tokens = Math.min(this.#burst, b.tokens + ((now - b.at) / 1000) * this.#rate);
    b.at = now;
    this.#buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.#buckets.size;
  }

  #prune(now: number): void {
    const fullAfterMs = (this.#burst / this.#rate) * 1000;
    if (now - this.#lastPrune < Math.max(fullAfterMs, 60_000)) return;
    this.#lastPrune = now;
    for (const [key, b] of this.#buckets) if (now - b.at >= fullAfterMs) this.#buckets.delete(key);
  }
}
