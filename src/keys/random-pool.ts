import { randomBytes } from 'node:crypto';

/**
 * Random bytes for AES-GCM nonces, drawn from the CSPRNG a block at a time. Encrypting a group
 * commit asks for nonces once per data key, and with one key per device that is about once per
 * message: a `randomBytes` call each cost 1.7-5 µs (measured), a slice of a block costs next to
 * nothing. Every byte is handed out once and never again (a used block is dropped, not refilled),
 * so nonces stay as unique and unpredictable as the CSPRNG's output. Requests larger than
 * `maxPooled` get bytes of their own, so a large run (sent to a cipher worker, which would copy
 * a whole block with its view) carries no neighbouring bytes.
 */
export class RandomPool {
  readonly #blockBytes: number;
  readonly #maxPooled: number;
  #block: Buffer = Buffer.alloc(0);
  #at = 0;

  constructor(options: { blockBytes?: number; maxPooled?: number } = {}) {
    this.#blockBytes = options.blockBytes ?? 64 * 1024;
    this.#maxPooled = Math.min(options.maxPooled ?? 4096, this.#blockBytes);
  }

  /** `n` fresh random bytes. */
  take(n: number): Buffer {
    if (n > this.#maxPooled) return randomBytes(n);
    if (this.#at + n > this.#block.length) {
      this.#block = randomBytes(this.#blockBytes);
      this.#at = 0;
    }
    const out = this.#block.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }
}
