/**
 * Counts refused requests per source address and refuses further ones while an address is over
 * its limit (`RATE_LIMITED`, before any work). For endpoints that are public by nature, such as
 * EST enrollment, where a request rate limit would throttle a whole ward enrolling from behind one
 * gateway, but where refusals cost a signature check and an audit entry each: only failures count.
 */
import { PulsegateError } from '../errors.js';

/** Addresses tracked at most. */
const MAX_KEYS = 100_000;

export class FailureLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  /** Failures per address in the current window, and when that window started. */
  readonly #counts = new Map<string, { since: number; failures: number }>();

  constructor(options: { maxFailures: number; windowMs: number; now?: () => number }) {
    this.#max = options.maxFailures;
    this.#windowMs = options.windowMs;
    this.#now = options.now ?? Date.now;
  }

  /** Throws RATE_LIMITED while `key` has used up its failures for the window. */
  check(key: string): void {
    if (this.isOver(key)) throw new PulsegateError('RATE_LIMITED');
  }

  /** Whether `key` has used up its failures for the window. */
  isOver(key: string): boolean {
    const entry = this.#current(key);
    return entry !== undefined && entry.failures >= this.#max;
  }

  /** Records one failure of `key`; true the moment the key reaches its limit (log or audit it once). */
  fail(key: string): boolean {
    const entry = this.#current(key) ?? { since: this.#now(), failures: 0 };
    entry.failures += 1;
    this.#counts.set(key, entry);
    if (this.#counts.size > MAX_KEYS) this.#sweep();
    return entry.failures === this.#max;
  }

  #current(key: string): { since: number; failures: number } | undefined {
    const entry = this.#counts.get(key);
    if (entry && this.#now() - entry.since >= this.#windowMs) {
      this.#counts.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Forgets expired windows, then the oldest, so memory stays bounded under a spread-out flood. */
  #sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#counts)
      if (now - entry.since >= this.#windowMs) this.#counts.delete(key);
    for (const key of this.#counts.keys()) {
      if (this.#counts.size <= MAX_KEYS / 2) break;
      this.#counts.delete(key);
    }
  }
}
