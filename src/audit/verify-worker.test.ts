/**
 * VERIFY_CONSUMER on hand-made packed pages, for what a test log cannot reach: seqs around 2^32
 * and 2^33, where the count of trailing one bits that decides the merges must not use 32-bit
 * arithmetic on the seq itself. Its compact range must be the aligned RFC 6962 subtrees that
 * cover the range, hashed from the leaves (merkle.ts). Every case runs with the JavaScript loop
 * and with the compiled checker (native/verify-rows.c), and a property test holds the two to the
 * same result, problem and wording on random logs with random damage.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { leafHash, subtreeRoot } from './merkle.js';
import { compiledRowChecker } from './native-rows.js';
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

const consumeWith = new Function(`${VERIFY_CONSUMER}\nreturn consume;`)() as Consume;
const NATIVE = compiledRowChecker();
const CHECKERS = [
  ['JavaScript', undefined],
  ['compiled', NATIVE],
] as const;

interface Page {
  count: number;
  keys: Float64Array;
  data: Buffer;
  starts: Int32Array;
  ends: Int32Array;
  fixed: Buffer;
  badFixed: number;
}
const entry = (seq: number) => Buffer.from(`{"action":"x","seq":${seq},"z":"é"}`);
const leaf = (bytes: Buffer) => leafHash(bytes);

/** Packed pages of `size` rows for seqs [start, end), as the range reader delivers them. */
function* pagesOf(start: number, end: number, size: number, tamper?: number): Generator<Page> {
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

it('has the compiled checker built (npm ci compiles binding.gyp)', () => {
  expect(
    NATIVE,
    'build/Release/pulsegate_audit.node is missing: run `npm ci` with python3, make and cc',
  ).toMatch(/pulsegate_audit\.node$/);
});

describe.each(CHECKERS)('VERIFY_CONSUMER with the %s checker', (_name, native) => {
  const consume = (pages: AsyncIterable<unknown>, data: object, port: { postMessage(m: unknown): void }) =>
    consumeWith(pages, { ...data, native }, port);
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

/** A copy of a page with one kind of damage at row `row`. */
function damaged(page: Page, row: number, kind: number): Page {
  const copy = {
    ...page,
    keys: page.keys.slice(),
    data: Buffer.from(page.data),
    fixed: Buffer.from(page.fixed),
  };
  const at = copy.starts[row]!;
  const text = copy.data.subarray(at, copy.ends[row]).toString('latin1');
  if (kind === 0) copy.keys[row] = copy.keys[row]! + 1; // a gap or a swap in the keys
  if (kind === 1) copy.data[at + 3] = copy.data[at + 3]! ^ 1; // changed bytes
  if (kind === 2) copy.fixed[row * 32] = copy.fixed[row * 32]! ^ 1; // changed stored leaf hash
  if (kind === 3) copy.badFixed = row; // a NULL leaf hash
  if (kind === 4 || kind === 5) {
    // Its own seq: one more (a removal) or one less (an insertion), or no digits at all.
    const seqAt = at + text.indexOf('"seq":') + 6;
    copy.data[seqAt] = kind === 4 ? 0x78 : copy.data[seqAt]! === 0x30 ? 0x31 : copy.data[seqAt]! - 1;
  }
  return copy;
}

it('gives the same result with both checkers on random logs with random damage', async () => {
  const port = { postMessage() {} };
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 2 ** 34 }),
      fc.integer({ min: 1, max: 300 }),
      fc.integer({ min: 1, max: 70 }),
      fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 5 }))),
      fc.array(fc.nat({ max: 300 }), { maxLength: 4 }),
      async (start, length, pageRows, damage, cpOffsets) => {
        const pages = [...pagesOf(start, start + length, pageRows)];
        if (damage) {
          const row = damage[0] % length;
          const p = Math.floor(row / pageRows);
          pages[p] = damaged(pages[p]!, row % pageRows, damage[1]);
        }
        const checkpointSizes = [...new Set(cpOffsets.map((o) => start + 1 + (o % length)))].sort(
          (a, b) => a - b,
        );
        const [script, compiled] = await Promise.all(
          CHECKERS.map(([, native]) => consumeWith(async(pages), { start, checkpointSizes, native }, port)),
        );
        expect(compiled).toEqual(script);
        // Every kind of damage is found, and nothing else is.
        expect(script!.problem !== undefined).toBe(damage !== null);
      },
    ),
    { numRuns: 300 },
  );
});

it('refuses arguments that are not a packed page with a stable code', async () => {
  const { createRequire } = await import('node:module');
  const addon = createRequire(import.meta.url)(NATIVE!) as {
    checkRows(...args: unknown[]): void;
    newTree(): Buffer;
  };
  const [page] = [...pagesOf(0, 10, 10)];
  const args = (over: Record<number, unknown>) =>
    Object.assign(
      [
        page!.data,
        page!.starts,
        page!.ends,
        page!.keys,
        page!.fixed,
        0,
        10,
        -1,
        addon.newTree(),
        new Float64Array(3),
      ],
      over,
    );
  expect(() => addon.checkRows(...args({}))).not.toThrow();
  const io = (expected: number) => Float64Array.of(expected, 0, 0);
  for (const over of [
    { 9: io(-1) },
    { 9: io(Number.NaN) },
    { 9: io(2 ** 53 - 5) },
    { 5: 0.5 },
    { 7: 0.5 },
    { 7: -0.5 },
    { 1: [0, 1] },
    { 6: 11 },
    { 5: -1 },
    { 8: Buffer.alloc(10) },
    { 9: new Float64Array(2) },
  ]) {
    expect(() => addon.checkRows(...args(over))).toThrow(
      expect.objectContaining({ code: 'PULSEGATE_NATIVE_ARGS' }),
    );
  }
  const outside = { ...page!, ends: page!.ends.map((e) => e + 10_000) };
  expect(() => addon.checkRows(...args({ 2: outside.ends }))).toThrow(
    expect.objectContaining({ code: 'PULSEGATE_NATIVE_ARGS' }),
  );
  expect(() => addon.checkRows(...args({ 9: undefined }).slice(0, 9))).toThrow(
    expect.objectContaining({ code: 'PULSEGATE_NATIVE_ARGS' }),
  );
});
