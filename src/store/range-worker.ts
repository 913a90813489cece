/**
 * Worker threads that each read contiguous key ranges of a table, one after another, on their
 * OWN connection, so that reading (and whatever the caller does with the rows) runs on several
 * cores; a caller hands out ranges as workers free up, so no core idles at the end. The caller
 * supplies the per-page work as plain-JS source (`consumerSource`); this module supplies the
 * dialect-specific reading, so no code outside `src/store/` learns the dialect.
 *
 * Workers are `eval` workers over plain JS: the same source runs from the TypeScript sources
 * under vitest and from `dist/`, without a loader. It uses neither `require` nor `import`, so it
 * runs whether the eval is CommonJS or ESM (`--input-type=module` is inherited by workers):
 * builtins come from `process.getBuiltinModule`, drivers from their resolved absolute path
 * (an eval worker would resolve a bare specifier from the working directory).
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Store } from './store.js';

const require = createRequire(import.meta.url);
const IDENT = /^[a-z_][a-z0-9_]*$/;

function ident(name: string): string {
  if (!IDENT.test(name)) throw new TypeError(`not a plain SQL identifier: ${name}`);
  return name;
}

/**
 * What range workers read of a table, as packed pages: for each range [start, end) they are
 * given, the rows with start <= key < end in key order, each as its key, the UTF-8 bytes of one
 * text column and one fixed-width binary column.
 */
export interface RangeScan {
  readonly table: string;
  /** An integer key column. */
  readonly key: string;
  /** A text column, delivered as its stored UTF-8 bytes (NULL as no bytes), each after one 0x00 byte. */
  readonly bytes: string;
  /** A binary column of `width` bytes per row (e.g. a hash). */
  readonly fixed: { readonly column: string; readonly width: number };
  /** Rows per page; by default chosen per dialect. */
  readonly batch?: number | undefined;
}

/**
 * What a consumer gets per page (valid until the consumer asks for the next page: the reader may
 * then reuse its buffers, so a consumer copies what it keeps): `count` rows; `keys[i]` the key of
 * row i; row i's text bytes, preceded by one 0x00 byte, are
 * `data[starts[i], ends[i])` (so `data[starts[i]] === 0`); its fixed value is
 * `fixed[i * width, (i + 1) * width)`; `badFixed` is the first row whose fixed value was NULL
 * or of another length (its slot reads as zeros), or -1. The text bytes are the stored bytes
 * (SQLite: `cast(... as blob)`; PostgreSQL: the text's binary send form with client_encoding
 * UTF8, the same bytes as `convert_to(..., 'UTF8')`), not a decode and re-encode of them.
 */
export interface PackedPage {
  readonly count: number;
  readonly keys: Float64Array;
  readonly data: Buffer;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  readonly fixed: Buffer;
  readonly badFixed: number;
}

/** True when `store` can be read from other threads (an in-memory SQLite database cannot). */
export function rangeWorkersSupported(store: Store): boolean {
  const native = store.native;
  if (native.dialect === 'sqlite') return !native.database.memory;
  return typeof (native.pool.options as { connectionString?: unknown }).connectionString === 'string';
}

/**
 * The reading half of the worker. `openSession()` opens the worker's connection; its
 * `pages(range)` yields the range's PackedPage objects. A read asks for no more
 * than the rows left in the range, so a contiguous key stops exactly at `end`, while a gap lets
 * the caller see the next stored key (and say what follows the hole).
 *
 * SQLite: one query per page aggregates the page into four values (group_concat in C), instead
 * of one JS array and three values per row: the keys and byte lengths as decimal text, the text
 * bytes joined by 0x00 as one BLOB, the fixed values as one BLOB (measured 0.4 against 0.6 us
 * per row to read, and no per-row garbage). The aggregates run over one ordered subquery in one
 * pass, so they list the rows in the same order; the consumer checks every key, so an order other
 * than the key's could only raise a false alarm, never hide a row. group_concat skips NULLs, so
 * a page with a NULL or a fixed value of another width does not add up and is read again row by
 * row (`rowPage`), which marks such a value in `badFixed`.
 *
 * PostgreSQL: one binary COPY of the plain columns per range (no per-page round trip,
 * no text output functions and no per-row expressions on the server, no per-row value objects on
 * the client). While it streams, the socket's bytes go straight into page buffers (one copy per
 * read, instead of pg's message object, Buffer and callback per row) and are split into rows
 * there (socket reads land in one reused buffer, net's `onread`, unless pg wraps the socket in
 * TLS); the 0x00 before each row's text bytes is written over the low byte of the field's
 * length, once read (the server no longer prepends it: `'\x00' || convert_to(...)` made a new
 * value per row, ~20% of the backend's CPU). At the first message after the copy stream the
 * socket and the rest of the bytes go back to pg, which completes the query as usual. The socket
 * is paused while two pages wait; the buffers of pages the consumer is done with are reused.
 */
const READER = `
const { workerData, parentPort } = process.getBuiltinModule('node:worker_threads');
const scan = workerData.scan;
// Plain constants: workerData's objects are slow to read a property from in a hot loop.
const W = scan.width;
const BATCH = scan.batch;
const load = (path) => process.getBuiltinModule('node:module').createRequire(path)(path);
/**
 * Parses comma-separated non-negative decimal integers into out; returns how many, or -1 if
 * anything else is there (a key stored as text or real, say: that page is read row by row).
 */
function decimals(text, out) {
  let n = 0;
  let v = 0;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 44 && digits > 0 && n < out.length) {
      out[n++] = v;
      v = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      digits++;
    } else return -1;
  }
  if (digits === 0 || n >= out.length) return -1;
  out[n++] = v;
  return n;
}
/** The SQLite connection of this worker: \`pages(range)\` reads one range, \`close()\` ends it. */
function sqliteSession() {
  const Database = load(scan.driver);
  const db = new Database(scan.file, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 10000');
  const packed = db.prepare(scan.sql).raw();
  const rows = db.prepare(scan.rowsSql).raw();
  const lens = new Float64Array(scan.batch);
  return { pages, close: async () => db.close() };
  async function* pages(range) {
    for (let next = range.start, limit = Math.min(BATCH, range.end - next); limit > 0; limit = Math.min(BATCH, range.end - next)) {
      const [keyText, lenText, joined, fixed] = packed.get(next, limit);
      if (keyText === null) return;
      const keys = new Float64Array(limit);
      const count = decimals(keyText, keys);
      let page;
      // group_concat skips NULLs: a NULL entry or hash, or a hash of another length, shows as
      // a count that does not add up, and that page is read again row by row.
      if (count > 0 && decimals(lenText, lens) === count && fixed !== null && fixed.length === count * W) {
        // The joined bytes with a leading 0x00: every row's bytes then follow a 0x00.
        const data = Buffer.allocUnsafe(joined.length + 1);
        data[0] = 0;
        joined.copy(data, 1);
        const starts = new Int32Array(count);
        const ends = new Int32Array(count);
        let at = 0;
        for (let i = 0; i < count; i++) {
          starts[i] = at;
          at += lens[i] + 1;
          ends[i] = at;
        }
        if (at === data.length) page = { count, keys: keys.subarray(0, count), data, starts, ends, fixed, badFixed: -1 };
      }
      page = page || rowPage(rows.all(next, limit));
      if (page.count === 0) return;
      next = page.keys[page.count - 1] + 1;
      yield page;
    }
  }
}
/**
 * A packed page from [key, bytes or null, fixed or null] rows (the irregular-page path). A key
 * that is not a number reads as NaN, which equals no key (as on the single-threaded path).
 */
function rowPage(rows) {
  const count = rows.length;
  const keys = new Float64Array(count);
  const starts = new Int32Array(count);
  const ends = new Int32Array(count);
  const fixed = Buffer.alloc(count * W);
  const parts = [];
  let badFixed = -1;
  let at = 0;
  for (let i = 0; i < count; i++) {
    const [key, bytes, value] = rows[i];
    keys[i] = Number(key);
    const b = bytes === null ? Buffer.alloc(0) : Buffer.from(bytes);
    parts.push(Buffer.alloc(1), b);
    starts[i] = at;
    at += 1 + b.length;
    ends[i] = at;
    if (value !== null && value.length === W) fixed.set(value, i * W);
    else if (badFixed < 0) badFixed = i;
  }
  return { count, keys, data: Buffer.concat(parts), starts, ends, fixed, badFixed };
}
const COPY_SIGNATURE = Buffer.from('PGCOPY\\n\\xff\\r\\n\\0', 'latin1');
/**
 * This worker's PostgreSQL connection: \`pages(range)\` streams one range (one COPY; \`range.sql\`
 * is built by the main thread), \`close()\` ends the connection. Ranges are read one at a time.
 */
async function postgresSession() {
  // pg decides at load whether it runs on Cloudflare Workers by checking navigator.userAgent,
  // and where Node has no navigator (Node 20) by constructing a fetch Response, which loads
  // undici: ~20 ms of CPU per worker. A navigator that only lives while pg loads avoids it.
  const noNavigator = !('navigator' in globalThis);
  if (noNavigator) globalThis.navigator = { userAgent: 'Node.js' };
  let pg;
  try {
    pg = load(scan.driver);
  } finally {
    if (noNavigator) delete globalThis.navigator;
  }
  // Socket reads land in one reused buffer (net's \`onread\`) instead of a new Buffer and a stream
  // 'data' event each (~5% of the client CPU). While the COPY streams they go straight to the
  // page parser, otherwise a copy goes to pg as a 'data' event. With TLS, pg reads through a TLS
  // socket over this one, and that socket's 'data' events are taken over instead.
  let direct = false;
  let onCopyBytes;
  const raw = new (process.getBuiltinModule('node:net').Socket)({
    onread: {
      buffer: Buffer.allocUnsafe(1 << 16),
      callback: (n, buffer) => {
        if (direct) onCopyBytes(buffer.subarray(0, n));
        else raw.emit('data', Buffer.from(buffer.subarray(0, n)));
      },
    },
  });
  const client = new pg.Client({ connectionString: scan.url, stream: () => raw });
  await client.connect();
  // An ordered index scan streams the range at ~0.4 us per row of server CPU; for half a table
  // the planner picked a bitmap heap scan plus sort, or a parallel seq scan plus sort (with JIT),
  // at more than twice that. This connection only runs the COPYs.
  await client.query(
    'set enable_sort = off; set enable_bitmapscan = off; set enable_seqscan = off; ' +
      "set max_parallel_workers_per_gather = 0; set jit = off; set client_encoding = 'UTF8'",
  );
  // A connection ended for a COPY stream that cannot be followed must not throw in the worker.
  client.on('error', () => {});
  const socket = client.connection.stream;
  // Buffers of pages the consumer is done with, reused for the next pages: fresh ~1 MB buffers
  // for every page cost more in page faults and garbage collection than parsing the rows.
  const free = [];
  const slot = (bytes) => {
    const s = free.pop();
    if (s && s.data.length >= bytes) return s;
    return {
      data: Buffer.allocUnsafe(Math.max(scan.pageBytes, bytes)),
      keys: new Float64Array(BATCH),
      starts: new Int32Array(BATCH),
      ends: new Int32Array(BATCH),
      fixed: Buffer.alloc(BATCH * W),
    };
  };
  let broken = false;
  const close = () =>
    Promise.race([client.end().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  return { pages, close };
  async function* pages(range) {
    if (broken) throw new Error('the connection was closed after an abandoned range');
    const ready = [];
    let wake;
    let ended = false;
    let failure;
    let headerDone = false;
    let trailerSeen = false;
    // The page being filled: protocol bytes in data[0, length), messages parsed up to \`parsed\`.
    let filling = slot(0);
    let { data, keys, starts, ends, fixed } = filling;
    let length = 0;
    let parsed = 0;
    let count = 0;
    let badFixed = -1;
    const signal = () => {
      const w = wake;
      wake = undefined;
      if (w) w();
    };
    const bad = (what) => {
      throw new Error('unexpected COPY data: ' + what);
    };
    /** The big-endian int32 at data[at] (inlined by V8; Buffer#readInt32BE checks bounds too). */
    const i32 = (at) => (data[at] << 24) | (data[at + 1] << 16) | (data[at + 2] << 8) | data[at + 3];
    /** Skips the COPY header at data[p] (in the first CopyData message); returns where rows start. */
    const header = (p, end) => {
      if (end - p < 19 || data.compare(COPY_SIGNATURE, 0, 11, p, p + 11) !== 0) bad('signature');
      headerDone = true;
      return p + 19 + data.readUInt32BE(p + 15);
    };
    /**
     * Splits the complete protocol messages of data[parsed, length) into the page's rows. The
     * backend sends one CopyData message per row (the first also holds the COPY header, the last
     * only the trailer). At the first message that is not part of the copy stream (CommandComplete,
     * ErrorResponse, ...) the socket goes back to pg with the bytes from there on.
     */
    const parseRows = () => {
      while (count < BATCH && !handedBack) {
        if (length - parsed < 5) return;
        const type = data[parsed];
        const size = i32(parsed + 1);
        if (size < 4) bad('message length');
        const end = parsed + 1 + size;
        if (end > length) return;
        let p = parsed + 5;
        if (type === 0x64) {
          // CopyData
          if (!headerDone) p = header(p, end);
          if (p < end) {
            if (trailerSeen) bad('rows after the trailer');
            const fields = ((data[p] << 24) | (data[p + 1] << 16)) >> 16;
            if (fields === -1) {
              trailerSeen = true;
              p += 2;
            } else {
              if (fields !== 3 || end - p < 18 || i32(p + 2) !== 8) bad('row header');
              keys[count] = i32(p + 6) * 4294967296 + (i32(p + 10) >>> 0);
              // A NULL text (length -1) reads as no bytes.
              const textLength = i32(p + 14);
              const bytes = textLength < 0 ? 0 : textLength;
              const s = p + 18;
              if (textLength < -1 || end - s < bytes + 4) bad('text field');
              // The low byte of the length field, already read, becomes the 0x00 before the bytes.
              data[s - 1] = 0;
              starts[count] = s - 1;
              ends[count] = s + bytes;
              p = s + bytes;
              const n = i32(p);
              p += 4;
              if (n > end - p) bad('fixed field');
              const o = count * W;
              if (n === W) {
                // Byte by byte: Buffer#copy makes a Uint8Array view per call on Node 20.
                for (let k = 0; k < W; k++) fixed[o + k] = data[p + k];
              } else {
                fixed.fill(0, o, o + W);
                if (badFixed < 0) badFixed = count;
              }
              if (n > 0) p += n;
              count++;
            }
          }
          if (p !== end) bad('row and message do not align');
        } else if (type === 0x48 || type === 0x63 || type === 0x4e || type === 0x53 || type === 0x41) {
          // CopyOutResponse, CopyDone; a notice, parameter status or notification: nothing to keep.
        } else {
          handBack();
          return;
        }
        parsed = end;
      }
    };
    /** Hands the parsed rows over as a page; the unparsed tail starts the next page buffer. */
    const flush = (size) => {
      if (count > 0) {
        const page = { count, keys: keys.subarray(0, count), data: data.subarray(0, parsed), starts: starts.subarray(0, count), ends: ends.subarray(0, count), fixed: fixed.subarray(0, count * W), badFixed };
        ready.push({ page, slot: filling });
        count = 0;
        badFixed = -1;
        if (ready.length >= 2) socket.pause();
        signal();
        filling = slot(size + length - parsed);
      } else if (size + length - parsed > data.length) {
        filling = { ...filling, data: Buffer.allocUnsafe(size + length - parsed) };
      }
      // The unparsed tail starts the next page (or moves to the start of this one).
      const next = filling.data;
      data.copy(next, 0, parsed, length);
      length -= parsed;
      parsed = 0;
      ({ data, keys, starts, ends, fixed } = filling);
    };
    /** Parses every complete row, handing over full pages. */
    const drain = () => {
      for (parseRows(); count === BATCH; parseRows()) flush(0);
    };
    // While the COPY streams, the socket's bytes come here instead of through pg's parser (which
    // made a message object, a Buffer and a callback per row): one copy per socket read.
    let pgListeners = [];
    let handedBack = false;
    const onData = (chunk) => {
      if (handedBack) return;
      try {
        if (length + chunk.length > data.length) flush(chunk.length);
        chunk.copy(data, length);
        length += chunk.length;
        drain();
      } catch (error) {
        failure = failure || error;
        // The stream cannot be followed any more: end the connection.
        socket.destroy();
        ended = true;
        signal();
      }
    };
    const handBack = () => {
      handedBack = true;
      direct = false;
      socket.removeListener('data', onData);
      for (const listener of pgListeners) socket.on('data', listener);
      const rest = Buffer.from(data.subarray(parsed, length));
      length = parsed;
      for (const listener of pgListeners) listener(rest);
    };
    const copy = {
      submit(connection) {
        connection.query(range.sql);
        pgListeners = socket.listeners('data');
        socket.removeAllListeners('data');
        socket.on('data', onData);
        onCopyBytes = onData;
        direct = socket === raw;
      },
      handleCopyInResponse() {
        this.handleError(new Error('unexpected COPY IN'));
      },
      handleCopyData() {},
      handleRowDescription() {},
      handleDataRow() {},
      handleEmptyQuery() {},
      handleCommandComplete() {},
      handleError(error) {
        failure = failure || error;
        ended = true;
        signal();
      },
      handleReadyForQuery() {
        if (!failure) {
          try {
            if (!trailerSeen) bad('no trailer');
            flush(0);
          } catch (error) {
            failure = error;
          }
        }
        ended = true;
        signal();
      },
    };
    client.query(copy);
    try {
      for (;;) {
        if (ready.length > 0) {
          const { page, slot: done } = ready.shift();
          if (ready.length < 2) socket.resume();
          yield page;
          // The consumer asked for the next page: this one's buffers can be reused.
          free.push(done);
        } else if (failure) {
          throw failure;
        } else if (ended) {
          return;
        } else {
          await new Promise((resolve) => {
            wake = resolve;
          });
        }
      }
    } finally {
      socket.resume();
      free.push(filling);
      // A caller that stopped early leaves the COPY running, and it cannot be followed: closing
      // the connection ends it (this session reads no further range).
      if (!ended) {
        broken = true;
        socket.destroy();
      }
    }
  }
}
/** Opens this worker's connection: a session with \`pages(range)\` and \`close()\`. */
const openSession = scan.dialect === 'sqlite' ? async () => sqliteSession() : postgresSession;
`;

const RUNNER = `
// The connection opens while the first range is on its way; a failure is reported with it.
const opening = openSession();
opening.catch(() => {});
parentPort.on('message', async (m) => {
  try {
    const session = await opening;
    if (m.type === 'close') {
      await session.close();
      parentPort.postMessage({ type: 'closed' });
      return;
    }
    const result = await consume(session.pages(m.range), m.data, parentPort);
    parentPort.postMessage({ type: 'done', result });
  } catch (error) {
    parentPort.postMessage({ type: 'error', message: String((error && error.stack) || error) });
  }
});
`;

/** A worker thread with its own connection, reading one key range at a time. */
export interface RangeWorker {
  /**
   * Reads keys in [start, end) (`end` Infinity: to the end of the table) and runs the consumer
   * over them with `data`; resolves with the consumer's result. The consumer's own messages go
   * to `onMessage`. One range at a time: the next may start when this one has resolved.
   */
  run(start: number, end: number, data: unknown, onMessage?: (message: unknown) => void): Promise<unknown>;
  /** Closes the connection (waiting at most a second) and ends the thread. */
  close(): Promise<void>;
}

/**
 * Starts a worker that opens its own connection at once and then reads the ranges it is given
 * (`run`). `consumerSource` is plain JS (no `require`/`import`: use `process.getBuiltinModule`)
 * defining `async function consume(pages, data, port)`: `pages` is an async iterable of the
 * range's row pages, `data` the run's `data` (structured-cloned), `port` the parent port for the
 * consumer's own messages. A consumer that returns before the last page leaves the connection
 * closed: that worker reads no further range.
 */
export function startRangeWorker(store: Store, scan: RangeScan, consumerSource: string): RangeWorker {
  const native = store.native;
  const width = Math.floor(scan.fixed.width);
  if (!(width > 0)) throw new TypeError('startRangeWorker needs a positive fixed width');
  const key = ident(scan.key);
  const bytes = ident(scan.bytes);
  const fixed = ident(scan.fixed.column);
  const table = ident(scan.table);
  // SQLite: modest pages (a page's aggregates are ~1 MB of text and bytes). PostgreSQL: the COPY
  // streams regardless; pages only bound how much the worker buffers.
  const batch = Math.max(1, Math.floor(scan.batch ?? 4_096));
  const base = { batch, width };
  let workerScan: Record<string, unknown>;
  let rangeSql: (start: number, end: number) => string | undefined = () => undefined;
  if (native.dialect === 'sqlite') {
    // cast(... as blob): the stored bytes, whatever the column holds; a NULL text is no bytes.
    workerScan = {
      ...base,
      dialect: 'sqlite',
      driver: require.resolve('better-sqlite3'),
      file: native.database.name,
      sql:
        'select group_concat(k), group_concat(octet_length(b)), ' +
        "cast(group_concat(b, x'00') as blob), cast(group_concat(f, x'') as blob) " +
        `from (select ${key} as k, cast(${bytes} as blob) as b, ${fixed} as f ` +
        `from ${table} where ${key} >= ? order by ${key} limit ?)`,
      rowsSql: `select ${key}, cast(${bytes} as blob), ${fixed} from ${table} where ${key} >= ? order by ${key} limit ?`,
    };
  } else {
    workerScan = {
      ...base,
      dialect: 'postgres',
      driver: require.resolve('pg'),
      url: (native.pool.options as { connectionString: string }).connectionString,
      // Pages of about `batch` rows of ~300 bytes; a larger row gets a larger buffer.
      pageBytes: Math.min(1 << 20, batch * 192),
    };
    // Bounds are checked safe integers (see run), so they can be written into the statement.
    rangeSql = (start, end) =>
      `copy (select ${key}::int8, ${bytes}, ${fixed} from ${table} where ${key} >= ${start} order by ${key}` +
      `${end === Number.POSITIVE_INFINITY ? '' : ` limit ${end - start}`}) to stdout (format binary)`;
  }
  const worker = new Worker(`${READER}\n${consumerSource}\n${RUNNER}`, {
    eval: true,
    // Plain JS that loads nothing through the module loader: no inherited --import/--loader
    // hooks (e.g. a TypeScript loader) to start in each worker.
    execArgv: [],
    workerData: { scan: workerScan },
  });
  let busy = false;
  // Listened to for the thread's whole life: an idle worker whose thread fails must not crash
  // the process with an unhandled 'error', and a dead one answers at once.
  let dead: Error | undefined;
  worker.on('error', (e) => {
    dead ??= e;
  });
  worker.on('exit', (code) => {
    dead ??= new Error(`range worker exited (${code})`);
  });
  /** Waits for the first message that `settle` accepts, an error or the thread's exit. */
  const until = <T>(
    settle: (m: { type: string }, resolve: (v: T) => void, reject: (e: Error) => void) => void,
  ) =>
    new Promise<T>((resolve, reject) => {
      const done = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      const onMessage = (m: { type: string }) =>
        settle(
          m,
          (v) => {
            done();
            resolve(v);
          },
          (e) => {
            done();
            reject(e);
          },
        );
      const onError = (e: Error) => {
        done();
        reject(e);
      };
      const onExit = (code: number) => {
        done();
        reject(new Error(`range worker exited (${code})`));
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  return {
    async run(start, end, data, onMessage) {
      if (
        !Number.isSafeInteger(start) ||
        start < 0 ||
        !(end === Number.POSITIVE_INFINITY || (Number.isSafeInteger(end) && end >= start))
      )
        throw new TypeError('a range needs integer bounds, start <= end');
      if (busy) throw new Error('this range worker is still reading a range');
      if (dead) throw dead;
      busy = true;
      try {
        const result = until<unknown>((m, resolve, reject) => {
          const message = m as { type: string; result?: unknown; message?: string };
          if (message.type === 'done') resolve(message.result);
          else if (message.type === 'error') reject(new Error(`range worker failed: ${message.message}`));
          else onMessage?.(m);
        });
        worker.postMessage({ type: 'range', range: { start, end, sql: rangeSql(start, end) }, data });
        return await result;
      } finally {
        busy = false;
      }
    },
    async close() {
      if (dead) return;
      const closed = until<void>((m, resolve) => {
        // A worker whose connection never opened answers the close with its error.
        if (m.type === 'closed' || m.type === 'error') resolve();
      }).catch(() => {});
      worker.postMessage({ type: 'close' });
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
      await worker.terminate();
    },
  };
}
