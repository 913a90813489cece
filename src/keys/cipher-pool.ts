import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { PulsegateError } from '../errors.js';
import { HEADER_BYTES, NONCE_BYTES, TAG_BYTES } from './sealed-record.js';

/**
 * Spreads large AES-256-GCM batches over worker threads. One thread tops out near Node's
 * per-record cipher set-up cost (~160k small records per CPU-second here), so a batch is cut
 * into equal parts: the workers seal theirs while the calling thread seals its own.
 * Small batches never leave the calling thread (the hand-off costs more than it saves).
 *
 * The worker source is plain JavaScript evaluated in the worker, so the same code runs from
 * TypeScript sources under the test runner and from the compiled package.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createCipheriv, createDecipheriv, createSecretKey } = require('node:crypto');
const H = ${HEADER_BYTES}, N = ${NONCE_BYTES}, T = ${TAG_BYTES}, P = H + N;
parentPort.on('message', (job) => {
  try {
    const keys = job.keys.map((k) => createSecretKey(Buffer.from(k)));
    const data = Buffer.from(job.data), aads = Buffer.from(job.aads);
    const dOff = job.dOff, aOff = job.aOff, n = dOff.length - 1;
    let total = 0;
    for (let i = 0; i < n; i++) total += dOff[i + 1] - dOff[i] + (job.op === 'seal' ? P + T : -(P + T));
    const out = Buffer.allocUnsafe(Math.max(0, total)), oOff = new Uint32Array(n + 1);
    const header = job.header ? Buffer.from(job.header) : null, nonces = job.nonces ? Buffer.from(job.nonces) : null;
    let at = 0;
    for (let i = 0; i < n; i++) {
      const rec = data.subarray(dOff[i], dOff[i + 1]), aad = aads.subarray(aOff[i], aOff[i + 1]);
      const key = keys[job.keyOf ? job.keyOf[i] : 0];
      oOff[i] = at;
      if (job.op === 'seal') {
        header.copy(out, at);
        nonces.copy(out, at + H, i * N, i * N + N);
        const c = createCipheriv('aes-256-gcm', key, out.subarray(at + H, at + P));
        c.setAAD(header); c.setAAD(aad);
        const body = c.update(rec); body.copy(out, at + P); c.final();
        c.getAuthTag().copy(out, at + P + body.length);
        at += P + rec.length + T;
      } else {
        try {
          const d = createDecipheriv('aes-256-gcm', key, rec.subarray(H, P));
          d.setAAD(rec.subarray(0, H)); d.setAAD(aad); d.setAuthTag(rec.subarray(rec.length - T));
          const plain = d.update(rec.subarray(P, rec.length - T)); d.final();
          plain.copy(out, at); at += plain.length;
        } catch { parentPort.postMessage({ id: job.id, failedAt: i }); return; }
      }
    }
    oOff[n] = at;
    parentPort.postMessage({ id: job.id, out: out.buffer.slice(out.byteOffset, out.byteOffset + out.length), oOff }, []);
  } catch (e) { parentPort.postMessage({ id: job.id, error: String(e && e.message || e) }); }
});`;

/** Batches below this size are sealed on the calling thread. */
export const POOL_THRESHOLD = 512;

interface Packed {
  data: Buffer;
  dOff: Uint32Array;
  aads: Buffer;
  aOff: Uint32Array;
}

function pack(items: ReadonlyArray<{ data: Uint8Array; aad: Uint8Array }>): Packed {
  const n = items.length;
  const dOff = new Uint32Array(n + 1);
  const aOff = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) {
    dOff[i + 1] = dOff[i]! + items[i]!.data.length;
    aOff[i + 1] = aOff[i]! + items[i]!.aad.length;
  }
  const data = Buffer.allocUnsafe(dOff[n]!);
  const aads = Buffer.allocUnsafe(aOff[n]!);
  for (let i = 0; i < n; i++) {
    data.set(items[i]!.data, dOff[i]!);
    aads.set(items[i]!.aad, aOff[i]!);
  }
  return { data, dOff, aads, aOff };
}

function unpack(out: ArrayBuffer, oOff: Uint32Array): Buffer[] {
  const buf = Buffer.from(out);
  const n = oOff.length - 1;
  const result = new Array<Buffer>(n);
  for (let i = 0; i < n; i++) result[i] = buf.subarray(oOff[i]!, oOff[i + 1]!);
  return result;
}

type Reply = { id: number; out?: ArrayBuffer; oOff?: Uint32Array; failedAt?: number; error?: string };

/** A small pool of cipher workers; created lazily, unref'd so it never keeps a process alive. */
export class CipherPool {
  readonly #size: number;
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, (reply: Reply) => void>();
  #next = 0;
  #rr = 0;

  constructor(size = Math.max(0, availableParallelism() - 1)) {
    this.#size = size;
  }

  /** Workers available besides the calling thread (0 = everything runs inline). */
  get workers(): number {
    return this.#size;
  }

  #worker(): Worker {
    if (this.#workers.length < this.#size) {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.unref();
      w.on('message', (reply: Reply) => {
        const done = this.#pending.get(reply.id);
        this.#pending.delete(reply.id);
        done?.(reply);
      });
      w.on('error', () => {});
      this.#workers.push(w);
      return w;
    }
    const w = this.#workers[this.#rr++ % this.#workers.length]!;
    return w;
  }

  #run(job: Record<string, unknown>, transfer: ArrayBuffer[]): Promise<Reply> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#worker().postMessage({ ...job, id }, transfer);
    });
  }

  /**
   * Seals `items[from..to)` in a worker with one key and header; `nonces` holds 12 fresh random
   * bytes per item.
   */
  async seal(
    rawKey: Buffer,
    header: Buffer,
    nonces: Buffer,
    items: ReadonlyArray<{ plaintext: Uint8Array; aad: Uint8Array }>,
  ): Promise<Buffer[]> {
    const p = pack(items.map((i) => ({ data: i.plaintext, aad: i.aad })));
    const reply = await this.#run(
      { op: 'seal', keys: [rawKey], header, nonces, data: p.data, dOff: p.dOff, aads: p.aads, aOff: p.aOff },
      [],
    );
    if (reply.error || !reply.out || !reply.oOff)
      throw new PulsegateError('INTERNAL', 'A cipher worker failed');
    return unpack(reply.out, reply.oOff);
  }

  /** Opens sealed records in a worker; `keyOf[i]` indexes `rawKeys`. KEY_DECRYPT_FAILED on any bad tag. */
  async open(
    rawKeys: Buffer[],
    keyOf: Uint32Array,
    items: ReadonlyArray<{ sealed: Uint8Array; aad: Uint8Array }>,
  ): Promise<Buffer[]> {
    const p = pack(items.map((i) => ({ data: i.sealed, aad: i.aad })));
    const reply = await this.#run(
      { op: 'open', keys: rawKeys, keyOf, data: p.data, dOff: p.dOff, aads: p.aads, aOff: p.aOff },
      [],
    );
    if (reply.failedAt !== undefined) throw new PulsegateError('KEY_DECRYPT_FAILED');
    if (reply.error || !reply.out || !reply.oOff)
      throw new PulsegateError('INTERNAL', 'A cipher worker failed');
    return unpack(reply.out, reply.oOff);
  }

  async close(): Promise<void> {
    const workers = this.#workers.splice(0);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
