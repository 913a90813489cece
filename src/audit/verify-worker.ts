/**
 * The per-row half of parallel verification, as plain JS for `startRangeWorker` (it runs in an
 * eval worker, so it cannot import TypeScript modules). For its range [start, end) it checks seq
 * contiguity, each entry's own `seq`, and each leaf hash, exactly as the single-threaded
 * verifier does, and builds the range's compact range: the RFC 6962 subtree hashes (0x00 leaf,
 * 0x01 node prefixes, RFC 9162 §2.1.1) that cover it, as (level, hash) pairs, left to right.
 * Subtree hashes compose, so the main thread merges these into the root of any prefix.
 *
 * Hashes are 32-character latin1 strings (node's cheapest digest form, see merkle.ts). The stored
 * leaf hashes arrive as hex (either case) and are compared a page at a time: both forms are
 * written into two page buffers and compared with one call, and only a page that differs is
 * searched for its first bad row (before any other problem found later in that page is reported).
 *
 * Messages: `{ type: 'progress', done }` per page; the result is `{ count, levels, hashes,
 * snapshots, problem? }` where a snapshot is the compact range [start, size) for each checkpoint
 * size in (start, end], and `problem` the first problem, with `at` the seq whose processing
 * found it (the single-threaded walk's order).
 */
export const VERIFY_CONSUMER = `
async function consume(pages, data, port) {
  const { hash } = process.getBuiltinModule('node:crypto');
  const SEQ_KEY = ',"seq":';
  const node = Buffer.allocUnsafe(65);
  node[0] = 1;
  let stored = Buffer.alloc(0);
  let computed = Buffer.alloc(0);
  const levels = [];
  const hashes = [];
  const snapshots = [];
  const cps = data.checkpointSizes;
  let cpAt = 0;
  let expected = data.start;
  let pageStart = 0;
  const result = (problem) => ({ count: expected - data.start, levels, hashes, snapshots, problem });
  const stop = (at, firstBadSeq, problem, detail) => result({ at, firstBadSeq, problem, detail });
  /** The first row of this page, before row r, whose entry does not match its stored leaf hash. */
  const leafMismatch = (r) => {
    if (stored.compare(computed, 0, r * 32, 0, r * 32) === 0) return;
    for (let i = 0; i < r; i++) {
      if (stored.compare(computed, i * 32, i * 32 + 32, i * 32, i * 32 + 32) !== 0) {
        const seq = pageStart + i;
        expected = seq;
        return stop(seq, seq, 'leaf-hash-mismatch', 'entry ' + seq + ' does not match its leaf hash');
      }
    }
  };
  const fail = (r, at, firstBadSeq, problem, detail) => leafMismatch(r) || stop(at, firstBadSeq, problem, detail);
  for await (const rows of pages) {
    if (stored.length < rows.length * 32) {
      stored = Buffer.alloc(rows.length * 32);
      computed = Buffer.alloc(rows.length * 32);
    }
    pageStart = expected;
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r];
      const seq = row[0];
      const entry = row[1];
      if (seq !== expected)
        return fail(r, expected, expected, 'seq-gap', 'entry ' + expected + ' is missing (next stored is ' + seq + ')');
      // The entry's own seq without JSON.parse (a raw ,"seq": cannot occur inside a JSON string).
      const key = entry.indexOf(SEQ_KEY);
      let own = 0;
      let digits = 0;
      if (key >= 0) {
        for (let i = key + SEQ_KEY.length; i < entry.length; i++, digits++) {
          const c = entry.charCodeAt(i) - 48;
          if (c < 0 || c > 9) break;
          own = own * 10 + c;
        }
      }
      if (digits === 0) return fail(r, seq, seq, 'malformed-entry', 'entry ' + seq + ' has no seq field');
      if (own !== seq)
        return fail(r, seq, Math.min(own, seq), 'seq-mismatch', 'row ' + seq + ' holds the entry for seq ' + own +
          ': entries were ' + (own < seq ? 'inserted' : 'removed') + ' or reordered');
      let h = hash('sha256', '\\u0000' + entry, 'latin1');
      const hex = row[2];
      if (typeof hex !== 'string' || hex.length !== 64 || stored.write(hex, r * 32, 32, 'hex') !== 32)
        return fail(r, seq, seq, 'leaf-hash-mismatch', 'entry ' + seq + ' does not match its leaf hash');
      computed.write(h, r * 32, 32, 'latin1');
      // Append: merge with the left neighbour while it is this node's sibling.
      let level = 0;
      let index = seq;
      while (index % 2 === 1 && levels.length > 0 && levels[levels.length - 1] === level) {
        levels.pop();
        node.write(hashes.pop(), 1, 32, 'latin1');
        node.write(h, 33, 32, 'latin1');
        h = hash('sha256', node, 'latin1');
        level++;
        index = (index - 1) / 2;
      }
      levels.push(level);
      hashes.push(h);
      expected++;
      while (cpAt < cps.length && cps[cpAt] === expected) {
        snapshots.push({ size: expected, levels: levels.slice(), hashes: hashes.slice() });
        cpAt++;
      }
    }
    const bad = leafMismatch(rows.length);
    if (bad) return bad;
    port.postMessage({ type: 'progress', done: expected - data.start });
  }
  return result();
}
`;
