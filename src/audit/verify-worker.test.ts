/**
 * VERIFY_CONSUMER on hand-made packed pages, for what a test log cannot reach: seqs around 2^32
 * and 2^33, where the count of trailing one bits that decides the merges must not use 32-bit
 * arithmetic on the seq itself. Its compact range must be the aligned RFC 6962 subtrees that
 * cover the range, hashed from the leaves (merkle.ts).
 */
import { describe, expect, it } from 'vitest';
import { leafHash, subtreeRoot } from './merkle.js';
import { VERIFY_CONSUMER } from './verify-worker.js';

interface Nodes {
  levels: number[];
  hashes: string[];
}
interface Result extends Nodes {
  count: number;
  snapshots: Array<Nodes & { size: number }>;
  problem?: { at: number; firstBadSeq: number; problem: string };
}
type Consume = (
  pages: AsyncIterable<unknown>,
  data: unknown,
  port: { postMessage(m: unknown): void },
) => Promise<Result>;

const consume = new Function(`${VERIFY_CONSUMER}\nreturn consume;`)() as Consume;
const entry = (seq: number) => Buffer.from(`{"action":"x","seq":${seq},"z":"é"}`);
const leaf = (bytes: Buffer) => leafHash(bytes);

/** Packed pages of `size` rows for seqs [start, end), as the range reader delivers them. */
function* pagesOf(start: number, end: number, size: number, tamper?: number) {
  for (let first = start; first < end; first += size) {
    const seqs = Array.from({ length: Math.min(size, end - first) }, (_, i) => first + i);
    const parts: Buffer[] = [];
    const starts = new Int32Array(seqs.length);
    const ends = new Int32Array(seqs.length);
    let at = 0;
    seqs.forEach((seq, i) => {
      const bytes = entry(seq);
      parts.push(Buffer.from([0]), seq === tamper ? Buffer.from(bytes.toString().replace('x', 'y')) : bytes);
      starts[i] = at;
      at += 1 + bytes.length;
      ends[i] = at;
    });
    yield {
      count: seqs.length,
      keys: Float64Array.from(seqs),
      data: Buffer.concat(parts),
      starts,
      ends,
      fixed: Buffer.concat(seqs.map((seq) => leaf(entry(seq)))),
      badFixed: -1,
    };
  }
}

async function* async<T>(items: Iterable<T>) {
  yield* items;
}

/** The compact range [start, end): the largest aligned subtrees, left to right. */
function compactRange(start: number, end: number): Nodes {
  const leaves = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => leaf(entry(from + i)));
  const levels: number[] = [];
  const hashes: string[] = [];
  for (let x = start; x < end; ) {
    let level = 0;
    while (x % 2 ** (level + 1) === 0 && x + 2 ** (level + 1) <= end) level++;
    levels.push(level);
    hashes.push(subtreeRoot(leaves(x, x + 2 ** level)).toString('latin1'));
    x += 2 ** level;
  }
  return { levels, hashes };
}

describe('VERIFY_CONSUMER', () => {
  for (const [start, end] of [
    [2 ** 32 - 100, 2 ** 32 + 70],
    [2 ** 33 - 67, 2 ** 33 + 5],
    [2 ** 40 + 3, 2 ** 40 + 300],
  ] as const) {
    it(`builds the compact range of [${start}, ${end}) in pages of 9 and 200 rows`, async () => {
      const size = start + 64;
      for (const pageRows of [9, 200]) {
        const result = await consume(
          async(pagesOf(start, end, pageRows)),
          { start, checkpointSizes: [size] },
          {
            postMessage() {},
          },
        );
        expect(result.problem).toBeUndefined();
        expect(result.count).toBe(end - start);
        expect({ levels: result.levels, hashes: result.hashes }).toEqual(compactRange(start, end));
        expect(result.snapshots).toEqual([{ size, ...compactRange(start, size) }]);
      }
    });
  }

  it('names changed bytes beside a checkpoint inside a page, after its snapshot', async () => {
    const start = 2 ** 32 - 150;
    const size = start + 64;
    for (const tamper of [size - 1, size, size + 1, size + 128]) {
      const result = await consume(
        async(pagesOf(start, start + 300, 300, tamper)),
        { start, checkpointSizes: [size] },
        { postMessage() {} },
      );
      expect(result.problem).toMatchObject({
        at: tamper,
        firstBadSeq: tamper,
        problem: 'leaf-hash-mismatch',
      });
      expect(result.snapshots).toEqual(tamper < size ? [] : [{ size, ...compactRange(start, size) }]);
    }
  });

  it('names changed bytes past the first 128-row text of a page', async () => {
    const start = 2 ** 32 - 150;
    for (const tamper of [start + 127, start + 128, start + 199]) {
      const result = await consume(
        async(pagesOf(start, start + 200, 200, tamper)),
        { start, checkpointSizes: [] },
        {
          postMessage() {},
        },
      );
      expect(result.problem).toMatchObject({
        at: tamper,
        firstBadSeq: tamper,
        problem: 'leaf-hash-mismatch',
      });
      expect(result.count).toBe(tamper - start);
    }
  });
});
