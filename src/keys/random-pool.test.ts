import { describe, expect, it } from 'vitest';
import { RandomPool } from './random-pool.js';

describe('RandomPool', () => {
  it('hands out every byte once: slices of a block never overlap, and a used block is not refilled', () => {
    const pool = new RandomPool({ blockBytes: 1024, maxPooled: 256 });
    const taken = Array.from({ length: 500 }, (_, i) => pool.take(12 * (1 + (i % 20))));
    const byBlock = new Map<ArrayBufferLike, Array<[number, number]>>();
    for (const b of taken) {
      const spans = byBlock.get(b.buffer) ?? [];
      spans.push([b.byteOffset, b.byteOffset + b.length]);
      byBlock.set(b.buffer, spans);
    }
    expect(byBlock.size).toBeGreaterThan(1);
    for (const spans of byBlock.values()) {
      spans.sort((x, y) => x[0] - y[0]);
      for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
    }
    // Random, not zeros: 12-byte nonces from the pool are all distinct.
    const nonces = Array.from({ length: 10_000 }, () => pool.take(12).toString('hex'));
    expect(new Set(nonces).size).toBe(nonces.length);
  });

  it('gives a request larger than maxPooled bytes of its own', () => {
    const pool = new RandomPool({ blockBytes: 1024, maxPooled: 256 });
    const small = pool.take(12);
    const large = pool.take(257);
    expect(large.length).toBe(257);
    expect(large.buffer).not.toBe(small.buffer);
    expect(large.byteOffset === 0 || large.buffer.byteLength >= 257).toBe(true);
  });
});
