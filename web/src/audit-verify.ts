/**
 * In-browser verification of an audit entry against a signed checkpoint, with WebCrypto:
 * - leaf hash = SHA-256(0x00 || RFC 8785 canonical JSON of the entry), node = SHA-256(0x01 || l || r)
 *   (RFC 6962 / RFC 9162 §2.1.1), inclusion proof checked as in RFC 9162 §2.1.3.2;
 * - the checkpoint is a C2SP signed note; its Ed25519 signature line is verified with the log's
 *   public key (WebCrypto Ed25519 where the browser has it, else @noble/ed25519, loaded on demand).
 */

const enc = new TextEncoder();

export function fromBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

async function sha256(...parts: Uint8Array[]): Promise<Uint8Array> {
  const len = parts.reduce((n, p) => n + p.length, 0);
  const buf = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    buf.set(p, o);
    o += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
}

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/** RFC 8785 (JCS) for the JSON an audit entry holds: objects, arrays, strings, integers, booleans. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error('non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  // JCS sorts keys by UTF-16 code units, which is what JavaScript's default sort compares.
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function leafHash(entry: unknown): Promise<Uint8Array> {
  return sha256(new Uint8Array([0]), enc.encode(canonicalJson(entry)));
}

/** RFC 9162 §2.1.3.2: the root an inclusion proof leads to, or null when the proof is malformed. */
export async function rootFromInclusionProof(
  leafIndex: number,
  treeSize: number,
  leaf: Uint8Array,
  proof: Uint8Array[],
): Promise<Uint8Array | null> {
  if (leafIndex >= treeSize) return null;
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = leaf;
  const one = new Uint8Array([1]);
  for (const p of proof) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(one, p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await sha256(one, r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

/** Splits a C2SP signed note into its text and signatures. */
export function parseNote(
  note: string,
): { text: string; signatures: Array<{ name: string; blob: Uint8Array }> } | null {
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) return null;
  const text = note.slice(0, split + 1);
  const signatures: Array<{ name: string; blob: Uint8Array }> = [];
  for (const line of note.slice(split + 2, -1).split('\n')) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/u.exec(line);
    if (!m) return null;
    signatures.push({ name: m[1]!, blob: fromBase64(m[2]!) });
  }
  return { text, signatures };
}

export type Ed25519Engine = 'webcrypto' | 'noble';

async function ed25519Verify(
  publicKey: Uint8Array,
  signature: Uint8Array,
  message: Uint8Array,
): Promise<{ ok: boolean; engine: Ed25519Engine }> {
  try {
    const key = await crypto.subtle.importKey('raw', new Uint8Array(publicKey), { name: 'Ed25519' }, false, [
      'verify',
    ]);
    const ok = await crypto.subtle.verify(
      { name: 'Ed25519' },
      key,
      new Uint8Array(signature),
      new Uint8Array(message),
    );
    return { ok, engine: 'webcrypto' };
  } catch {
    const noble = await import('@noble/ed25519');
    return { ok: await noble.verifyAsync(signature, message, publicKey), engine: 'noble' };
  }
}

/** Verifies the checkpoint note's signature by `name` with `publicKey`; returns origin, size and root. */
export async function verifyCheckpoint(
  note: string,
  name: string,
  publicKey: Uint8Array,
): Promise<{
  ok: boolean;
  engine?: Ed25519Engine;
  origin?: string;
  size?: number;
  root?: Uint8Array;
  why?: string;
}> {
  const parsed = parseNote(note);
  if (!parsed) return { ok: false, why: 'malformed note' };
  const lines = parsed.text.split('\n');
  const [origin, sizeText, rootText] = lines;
  if (!origin || !sizeText || !rootText || !/^(0|[1-9][0-9]*)$/.test(sizeText))
    return { ok: false, why: 'malformed checkpoint body' };
  // Key hash: first 4 bytes of SHA-256(name || 0x0A || 0x01 || key) (C2SP signed-note).
  const keyHash = (await sha256(enc.encode(name), new Uint8Array([0x0a, 0x01]), publicKey)).slice(0, 4);
  for (const sig of parsed.signatures) {
    if (sig.name !== name || sig.blob.length !== 68 || !equal(sig.blob.slice(0, 4), keyHash)) continue;
    const r = await ed25519Verify(publicKey, sig.blob.slice(4), enc.encode(parsed.text));
    if (r.ok)
      return { ok: true, engine: r.engine, origin, size: Number(sizeText), root: fromBase64(rootText) };
    return { ok: false, engine: r.engine, why: 'signature does not verify' };
  }
  return { ok: false, why: 'no signature by the log key' };
}

export interface InclusionCheck {
  ok: boolean;
  steps: string[];
}

/** The whole check: entry → leaf hash → proof → root → signed checkpoint. */
export async function checkInclusion(args: {
  entry: { seq: number } & Record<string, unknown>;
  proof: { leafIndex: number; treeSize: number; leafHash: string; proof: string[] };
  checkpoint: { note: string; treeSize: number };
  verifier: { name: string; publicKey: string };
}): Promise<InclusionCheck> {
  const steps: string[] = [];
  const fail = (why: string) => ({ ok: false, steps: [...steps, `✗ ${why}`] });
  const cp = await verifyCheckpoint(
    args.checkpoint.note,
    args.verifier.name,
    fromBase64(args.verifier.publicKey),
  );
  if (!cp.ok || !cp.root) return fail(`checkpoint signature: ${cp.why ?? 'invalid'}`);
  steps.push(`✓ checkpoint signed by ${args.verifier.name} (Ed25519 via ${cp.engine}), tree size ${cp.size}`);
  if (cp.size !== args.proof.treeSize) return fail('the proof is for another tree size than the checkpoint');
  const leaf = await leafHash(args.entry);
  if (toBase64(leaf) !== args.proof.leafHash) return fail('the entry does not hash to the leaf in the proof');
  steps.push(`✓ entry ${args.entry.seq} hashes to leaf ${toBase64(leaf).slice(0, 12)}…`);
  if (args.proof.leafIndex !== args.entry.seq) return fail('the proof is for another leaf');
  const root = await rootFromInclusionProof(
    args.proof.leafIndex,
    args.proof.treeSize,
    leaf,
    args.proof.proof.map(fromBase64),
  );
  if (!root) return fail('malformed inclusion proof');
  if (!equal(root, cp.root)) return fail('the proof leads to another root than the signed one');
  steps.push(
    `✓ ${args.proof.proof.length} proof hashes lead to the signed root ${toBase64(root).slice(0, 12)}…`,
  );
  return { ok: true, steps };
}
