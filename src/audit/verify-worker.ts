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
 * in one Buffer. Each row is checked in full before the next (seq, own seq, then leaf hash), so
 * the first problem found is the walk's.
 *
 * Per row, what is left besides the two SHA-256 calls (leaf and, on average, one interior node)
 * was measured and cut: the page is read as latin1 strings of CHUNK rows (the own-seq search
 * and the leaf hash comparison are string operations, cheaper than Buffer calls per row), small
 * enough to be young-generation strings (one ~1 MB string per page cost more than all the
 * string searches, in large-object allocation and full collections); the computed leaf hash is
 * compared with a substring of the stored hashes (cheaper than writing it into a buffer); the
 * number of left siblings a leaf completes is the count of trailing one bits of its seq (no
 * floating-point modulo per level). The row loop is its own small function (`check`), run on
 * CHUNK rows at a time (split at checkpoint sizes), so that V8 optimises it once per worker.
 *
 * Hashes are 32-character latin1 strings (node's cheapest digest form, see merkle.ts). Each
 * level of the tree keeps a 65-byte node buffer (0x01 || left || right): a left child is written
 * into its slot when it is made and a right child when it arrives, so every hash is copied once.
 *
 * With `data.native` (the path of the compiled checker, see native-rows.ts) the rows go through
 * its `checkRows` instead, a page at a time: the same checks in the same order, the compact range
 * kept in a buffer the addon owns the layout of, and the same problems and wording (reported
 * here by code). The JavaScript loop below stays the reference; tests run both.
 *
 * Messages: `{ type: 'progress', done }` per page; the result is `{ count, levels, hashes,
 * snapshots, problem? }` where a snapshot is the compact range [start, size) for each checkpoint
 * size in (start, end], and `problem` the first problem, with `at` the seq whose processing
 * found it (the single-threaded walk's order).
 */
export const VERIFY_CONSUMER = `
let verifyAddon;
async function consume(pages, data, port) {
  const { hash } = process.getBuiltinModule('node:crypto');
  if (data.native && !verifyAddon) verifyAddon = process.getBuiltinModule('node:module').createRequire(data.native)(data.native);
  const addon = data.native ? verifyAddon : undefined;
  // Digits of an entry's own seq: ',"seq":' then digits. A raw ,"seq": cannot occur inside a
  // JSON string, so the first one is the entry's key (offsets in the latin1 text are byte offsets).
  const SEQ_KEY = ',"seq":';
  // Rows per check() call and latin1 text: ~300 bytes each, well below V8's large-object size
  // (~128 KB). The compiled checker takes a page at a time.
  const CHUNK = addon ? Infinity : 128;
  // One node buffer per level a tree of 2^53 leaves can have.
  const nodes = Array.from({ length: 54 }, () => Buffer.alloc(65, 1));
  /** Trailing one bits of a non-negative integer below 2^53. */
  const trailingOnes = (v) => {
    const low = v >>> 0; // v mod 2^32, exact for integers below 2^53
    if (low !== 0xffffffff) return 31 - Math.clz32(~low & (low + 1));
    return 32 + trailingOnes(Math.floor(v / 4294967296));
  };
  const levels = [];
  const hashes = [];
  // The compiled checker's state: its compact range (depth, levels, hashes, node buffers) and
  // io = [expected seq in / stopping seq out, problem code, stored key or own seq].
  const tree = addon ? addon.newTree() : undefined;
  const io = new Float64Array(3);
  /** The compact range so far, as (level, latin1 hash) lists. */
  const compact = () => {
    if (!addon) return { levels: levels.slice(), hashes: hashes.slice() };
    const depth = tree.readInt32LE(0);
    const out = { levels: [], hashes: [] };
    for (let i = 0; i < depth; i++) {
      out.levels.push(tree.readInt32LE(addon.LEVELS + 4 * i));
      out.hashes.push(tree.latin1Slice(addon.HASHES + 32 * i, addon.HASHES + 32 * i + 32));
    }
    return out;
  };
  const snapshots = [];
  const cps = data.checkpointSizes;
  let cpAt = 0;
  let expected = data.start;
  const result = (problem) => ({ count: expected - data.start, ...compact(), snapshots, problem });
  /** The first problem, found at seq (the row's position); \`found\` is the stored key or own seq. */
  const report = (code, seq, found) => {
    expected = seq;
    const stop = (firstBadSeq, problem, detail) => result({ at: seq, firstBadSeq, problem, detail });
    if (code === 1) return stop(seq, 'seq-gap', 'entry ' + seq + ' is missing (next stored is ' + found + ')');
    if (code === 2) return stop(seq, 'malformed-entry', 'entry ' + seq + ' has no seq field');
    if (code === 3)
      return stop(Math.min(found, seq), 'seq-mismatch', 'row ' + seq + ' holds the entry for seq ' + found +
        ': entries were ' + (found < seq ? 'inserted' : 'removed') + ' or reordered');
    return stop(seq, 'leaf-hash-mismatch', 'entry ' + seq + ' does not match its leaf hash');
  };
  /** Rows [from, to) of a page through the compiled checker. */
  const checkNative = (page, from, to) => {
    io[0] = expected;
    addon.checkRows(page.data, page.starts, page.ends, page.keys, page.fixed, from, to, page.badFixed, tree, io);
    if (io[1] !== 0) return report(io[1], io[0], io[2]);
    expected = io[0];
  };
  /**
   * Checks rows [from, to) of a page (at most CHUNK) and appends their leaves; returns the result
   * with the first problem, or undefined. Only this loop is hot: it stays one small function that
   * V8 optimises once (the whole consumer as one loop was re-optimised a dozen times per worker,
   * at tens of ms each, whenever a rare path such as a checkpoint snapshot first ran), and its
   * short calls let V8 optimise it on entry rather than also on-stack in a long first loop.
   */
  const checkScript = (page, from, to) => {
    const { keys, data: bytes, starts, ends, fixed, badFixed } = page;
    const ab = bytes.buffer;
    const base = bytes.byteOffset;
    // The rows' bytes from offset \`off\` as \`text\`, their stored leaf hashes as \`stored\`.
    const off = starts[from];
    const text = bytes.latin1Slice(off, ends[to - 1]);
    const stored = fixed.latin1Slice(from * 32, to * 32);
    let seq = expected;
    for (let r = from; r < to; r++, seq++) {
      if (keys[r] !== seq) return report(1, seq, keys[r]);
      const start = starts[r];
      const end = ends[r] - off;
      const key = text.indexOf(SEQ_KEY, start - off);
      let own = 0;
      let digits = 0;
      if (key >= 0 && key < end) {
        for (let i = key + SEQ_KEY.length; i < end; i++, digits++) {
          const c = text.charCodeAt(i) - 48;
          if (c < 0 || c > 9) break;
          own = own * 10 + c;
        }
      }
      if (digits === 0) return report(2, seq, 0);
      if (own !== seq) return report(3, seq, own);
      // SHA-256(0x00 || entry): the page holds the 0x00 right before the entry.
      let h = hash('sha256', new Uint8Array(ab, base + start, ends[r] - start), 'latin1');
      if (r === badFixed || !stored.startsWith(h, (r - from) * 32)) return report(4, seq, 0);
      // Append: merge with the left neighbour while it is this node's sibling (bit \`level\` of
      // seq is 1) and was read in this range.
      const ones = trailingOnes(seq);
      let level = 0;
      while (level < ones && levels.length > 0 && levels[levels.length - 1] === level) {
        levels.pop();
        hashes.pop();
        const node = nodes[level];
        node.latin1Write(h, 33, 32);
        h = hash('sha256', node, 'latin1');
        level++;
      }
      // A left child (bit \`level\` of seq is 0) waits in its level's node buffer for its sibling.
      if (level === ones) nodes[level].latin1Write(h, 1, 32);
      levels.push(level);
      hashes.push(h);
    }
    expected = seq;
  };
  const check = addon ? checkNative : checkScript;
  for await (const page of pages) {
    // CHUNK rows at a time, stopping at each checkpoint size for its snapshot.
    for (let r = 0; r < page.count; ) {
      const to = Math.min(page.count, r + CHUNK, cpAt < cps.length ? r + cps[cpAt] - expected : Infinity);
      const problem = check(page, r, to);
      if (problem) return problem;
      r = to;
      while (cpAt < cps.length && cps[cpAt] === expected) {
        snapshots.push({ size: expected, ...compact() });
        cpAt++;
      }
    }
    port.postMessage({ type: 'progress', done: expected - data.start });
  }
  return result();
}
`;
