/**
 * The per-row half of parallel verification, as plain JS for `startRangeWorker` (it runs in an
 * eval worker, so it cannot import TypeScript modules). For its range [start, end) it checks seq
 * contiguity, each entry's own `seq`, and each leaf hash, exactly as the single-threaded
 * verifier does, and builds the range's compact range: the RFC 6962 subtree hashes (0x00 leaf,
 * 0x01 node prefixes, RFC 9162 §2.1.1) that cover it, as (level, hash) pairs, left to right.
 * Subtree hashes compose, so the main thread merges these into the root of any prefix.
 *
 * Pages are packed (see `PackedPage` in src/store/range-worker.ts): the stored entry bytes of a
 * page in one Buffer, each after a 0x00 byte, so a leaf hash is SHA-256 over a view of the page
 * (the leaf prefix is already there; no string, no copy) and the stored leaf hashes of the page
 * in one Buffer. Computed leaf hashes are written into a page buffer and compared with the stored
 * ones in one call; only a page that differs is searched for its first bad row (before any other
 * problem found later in that page is reported).
 *
 * Hashes are 32-character latin1 strings (node's cheapest digest form, see merkle.ts). Each
 * level of the tree keeps a 65-byte node buffer (0x01 || left || right): a left child is written
 * into its slot when it is made and a right child when it arrives, so every hash is copied once.
 *
 * Messages: `{ type: 'progress', done }` per page; the result is `{ count, levels, hashes,
 * snapshots, problem? }` where a snapshot is the compact range [start, size) for each checkpoint
 * size in (start, end], and `problem` the first problem, with `at` the seq whose processing
 * found it (the single-threaded walk's order).
 */
export const VERIFY_CONSUMER = `
async function consume(pages, data, port) {
  const { hash } = process.getBuiltinModule('node:crypto');
  // Digits of an entry's own seq: ',"seq":' then digits. A raw ,"seq": cannot occur inside a
  // JSON string, so the first one is the entry's key (searched in a latin1 copy of the page:
  // V8's string search is cheaper per row than a Buffer search; offsets are byte offsets).
  const SEQ_KEY = ',"seq":';
  const nodes = [];
  const nodeAt = (level) => {
    while (nodes.length <= level) {
      const b = Buffer.allocUnsafe(65);
      b[0] = 1;
      nodes.push(b);
    }
    return nodes[level];
  };
  let computed = Buffer.alloc(0);
  const levels = [];
  const hashes = [];
  const snapshots = [];
  const cps = data.checkpointSizes;
  let cpAt = 0;
  let expected = data.start;
  let pageStart = 0;
  let page;
  const result = (problem) => ({ count: expected - data.start, levels, hashes, snapshots, problem });
  const stop = (at, firstBadSeq, problem, detail) => result({ at, firstBadSeq, problem, detail });
  /** The first row of this page, before row r, whose entry does not match its stored leaf hash. */
  const leafMismatch = (r) => {
    const bad = page.badFixed;
    if ((bad < 0 || bad >= r) && page.fixed.compare(computed, 0, r * 32, 0, r * 32) === 0) return;
    for (let i = 0; i < r; i++) {
      if (i === bad || page.fixed.compare(computed, i * 32, i * 32 + 32, i * 32, i * 32 + 32) !== 0) {
        const seq = pageStart + i;
        expected = seq;
        return stop(seq, seq, 'leaf-hash-mismatch', 'entry ' + seq + ' does not match its leaf hash');
      }
    }
  };
  const fail = (r, at, firstBadSeq, problem, detail) => leafMismatch(r) || stop(at, firstBadSeq, problem, detail);
  for await (page of pages) {
    const { count, keys, data: bytes, starts, ends } = page;
    if (computed.length < count * 32) computed = Buffer.alloc(count * 32);
    const text = count > 0 ? bytes.latin1Slice(0, ends[count - 1]) : '';
    const ab = bytes.buffer;
    const base = bytes.byteOffset;
    pageStart = expected;
    for (let r = 0; r < count; r++) {
      const seq = keys[r];
      if (seq !== expected)
        return fail(r, expected, expected, 'seq-gap', 'entry ' + expected + ' is missing (next stored is ' + seq + ')');
      const start = starts[r];
      const end = ends[r];
      const key = text.indexOf(SEQ_KEY, start);
      let own = 0;
      let digits = 0;
      if (key >= 0 && key < end) {
        for (let i = key + SEQ_KEY.length; i < end; i++, digits++) {
          const c = text.charCodeAt(i) - 48;
          if (c < 0 || c > 9) break;
          own = own * 10 + c;
        }
      }
      if (digits === 0) return fail(r, seq, seq, 'malformed-entry', 'entry ' + seq + ' has no seq field');
      if (own !== seq)
        return fail(r, seq, Math.min(own, seq), 'seq-mismatch', 'row ' + seq + ' holds the entry for seq ' + own +
          ': entries were ' + (own < seq ? 'inserted' : 'removed') + ' or reordered');
      // SHA-256(0x00 || entry): the page holds the 0x00 right before the entry.
      let h = hash('sha256', new Uint8Array(ab, base + start, end - start), 'latin1');
      computed.latin1Write(h, r * 32, 32);
      // Append: merge with the left neighbour while it is this node's sibling.
      let level = 0;
      let index = seq;
      while (index % 2 === 1 && levels.length > 0 && levels[levels.length - 1] === level) {
        levels.pop();
        hashes.pop();
        const node = nodes[level];
        node.latin1Write(h, 33, 32);
        h = hash('sha256', node, 'latin1');
        level++;
        index = (index - 1) / 2;
      }
      // A left child waits in its level's node buffer for its sibling.
      if (index % 2 === 0) nodeAt(level).latin1Write(h, 1, 32);
      levels.push(level);
      hashes.push(h);
      expected++;
      while (cpAt < cps.length && cps[cpAt] === expected) {
        snapshots.push({ size: expected, levels: levels.slice(), hashes: hashes.slice() });
        cpAt++;
      }
    }
    const bad = leafMismatch(count);
    if (bad) return bad;
    port.postMessage({ type: 'progress', done: expected - data.start });
  }
  return result();
}
`;
