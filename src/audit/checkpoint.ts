/**
 * Checkpoints: the C2SP tlog-checkpoint body (`origin\nsize\nbase64(root)\n`) wrapped in a C2SP
 * signed-note with Ed25519 signature lines. https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note
 */
import {
  createHash,
  createPublicKey,
  sign as edSign,
  verify as edVerify,
  type JsonWebKeyInput,
  KeyObject,
} from 'node:crypto';

/** What audit needs to sign a checkpoint; the keys capability (or a test) provides it. */
export interface CheckpointSigner {
  /** The key name in the note's signature line (conventionally the log origin). */
  readonly name: string;
  /** The Ed25519 public key. */
  readonly publicKey: KeyObject;
  /** Ed25519 signature over the note text. */
  sign(message: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** The shape of `keys.signingKey('audit')`, so audit does not depend on the keys internals. */
export interface SigningKeyLike {
  readonly kid: string;
  readonly alg: 'ES256' | 'EdDSA';
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** A public key a verifier trusts for checkpoints: a KeyObject or its JWK (`keys.verificationKeys`). */
export type CheckpointVerifierKey = KeyObject | JsonWebKey;

/** signed-note algorithm identifier for Ed25519. */
const ALG_ED25519 = 0x01;
const EM_DASH = '\u2014';

function assertKeyName(name: string): void {
  // signed-note: a key name is non-empty and contains no whitespace and no '+'.
  if (name.length === 0 || /[\s+]/u.test(name)) throw new TypeError('invalid signed-note key name');
}

/** The raw 32-byte Ed25519 public key. */
export function rawEd25519PublicKey(key: KeyObject): Buffer {
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError('checkpoint keys must be Ed25519');
  const { x } = key.export({ format: 'jwk' });
  return Buffer.from(x!, 'base64url');
}

/** Key hash: the first 4 bytes of SHA-256(name || 0x0A || 0x01 || pubkey) (signed-note). */
export function noteKeyHash(name: string, publicKey: KeyObject): Buffer {
  return createHash('sha256')
    .update(name, 'utf8')
    .update(Buffer.from([0x0a, ALG_ED25519]))
    .update(rawEd25519PublicKey(publicKey))
    .digest()
    .subarray(0, 4);
}

/** The verifier key string `name+hash+base64(0x01 || pubkey)` that clients and witnesses configure. */
export function verifierKeyString(name: string, publicKey: KeyObject): string {
  assertKeyName(name);
  const body = Buffer.concat([Buffer.from([ALG_ED25519]), rawEd25519PublicKey(publicKey)]);
  return `${name}+${noteKeyHash(name, publicKey).toString('hex')}+${body.toString('base64')}`;
}

/** Parses a verifier key string; throws if its hash does not match its name and key. */
export function parseVerifierKey(vkey: string): { name: string; publicKey: KeyObject } {
  // name+hash+keydata: the name and hash hold no '+', the standard base64 key data may.
  const first = vkey.indexOf('+');
  const second = vkey.indexOf('+', first + 1);
  const name = vkey.slice(0, Math.max(first, 0));
  const hashHex = first < 0 || second < 0 ? '' : vkey.slice(first + 1, second);
  const b64 = second < 0 ? '' : vkey.slice(second + 1);
  if (!name || !/^[0-9a-f]{8}$/.test(hashHex) || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64))
    throw new TypeError('malformed verifier key');
  const body = Buffer.from(b64, 'base64');
  if (body.length !== 33 || body[0] !== ALG_ED25519) throw new TypeError('unsupported verifier key');
  const publicKey = ed25519PublicKey(body.subarray(1));
  if (noteKeyHash(name, publicKey).toString('hex') !== hashHex)
    throw new TypeError('verifier key hash mismatch');
  return { name, publicKey };
}

/** A KeyObject from raw Ed25519 public key bytes. */
export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
}

/** A signer from an Ed25519 private key. */
export function ed25519Signer(name: string, privateKey: KeyObject, publicKey: KeyObject): CheckpointSigner {
  assertKeyName(name);
  rawEd25519PublicKey(publicKey);
  return { name, publicKey, sign: (message) => edSign(null, message, privateKey) };
}

/** Adapts the keys capability's signing key; checkpoints need an EdDSA (Ed25519) key. */
export function signerFromSigningKey(key: SigningKeyLike, name: string): CheckpointSigner {
  if (key.alg !== 'EdDSA') throw new TypeError('audit checkpoints need an EdDSA signing key');
  return ed25519Signer(name, key.privateKey, key.publicKey);
}

/** The tlog-checkpoint body. */
export function checkpointBody(origin: string, size: number, root: Uint8Array): string {
  if (origin.length === 0 || origin.includes('\n')) throw new TypeError('invalid checkpoint origin');
  return `${origin}\n${size}\n${Buffer.from(root).toString('base64')}\n`;
}

/** Signs `text` (which must end in a newline) into a signed note with one signature line. */
export async function signNote(text: string, signer: CheckpointSigner): Promise<string> {
  if (!text.endsWith('\n')) throw new TypeError('note text must end with a newline');
  const sig = await signer.sign(Buffer.from(text, 'utf8'));
  const blob = Buffer.concat([noteKeyHash(signer.name, signer.publicKey), Buffer.from(sig)]);
  return `${text}\n${EM_DASH} ${signer.name} ${blob.toString('base64')}\n`;
}

export interface NoteSignature {
  readonly name: string;
  readonly keyHash: Buffer;
  readonly signature: Buffer;
}

/** Splits a signed note into its text and signature lines; undefined if it is malformed. */
export function parseNote(note: string): { text: string; signatures: NoteSignature[] } | undefined {
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) return;
  const text = note.slice(0, split + 1);
  const signatures: NoteSignature[] = [];
  for (const line of note.slice(split + 2, -1).split('\n')) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/u.exec(line);
    if (!m) return;
    const blob = Buffer.from(m[2]!, 'base64');
    if (blob.length < 5) return;
    signatures.push({ name: m[1]!, keyHash: blob.subarray(0, 4), signature: blob.subarray(4) });
  }
  return signatures.length > 0 ? { text, signatures } : undefined;
}

/** The fields of a checkpoint body; undefined if it is malformed. */
export function parseCheckpointBody(
  text: string,
): { origin: string; size: number; root: Buffer } | undefined {
  const lines = text.split('\n');
  if (lines.length < 4 || lines[lines.length - 1] !== '') return;
  const [origin, sizeText, rootText] = lines as [string, string, string];
  if (!origin || !/^(0|[1-9][0-9]*)$/.test(sizeText)) return;
  const size = Number(sizeText);
  const root = Buffer.from(rootText, 'base64');
  if (!Number.isSafeInteger(size) || root.length !== 32 || root.toString('base64') !== rootText) return;
  return { origin, size, root };
}

function toKeyObject(key: CheckpointVerifierKey): KeyObject {
  return key instanceof KeyObject
    ? key
    : createPublicKey({ key: key as JsonWebKeyInput['key'], format: 'jwk' });
}

/**
 * Opens a signed note: true when at least one signature line by `name` with a key hash of one
 * of `keys` verifies over the text. Lines from unknown keys are ignored (signed-note §Verifying).
 */
export function verifyNote(
  note: string,
  name: string,
  keys: readonly CheckpointVerifierKey[],
): string | undefined {
  const parsed = parseNote(note);
  if (!parsed) return;
  const message = Buffer.from(parsed.text, 'utf8');
  for (const key of keys) {
    const publicKey = toKeyObject(key);
    if (publicKey.asymmetricKeyType !== 'ed25519') continue;
    const keyHash = noteKeyHash(name, publicKey);
    for (const sig of parsed.signatures) {
      if (sig.name !== name || !sig.keyHash.equals(keyHash) || sig.signature.length !== 64) continue;
      if (edVerify(null, message, publicKey, sig.signature)) return parsed.text;
    }
  }
  return;
}

/** The fields of a signed checkpoint note's body (origin, size, root), without checking signatures. */
export function checkpointFields(note: string): { origin: string; size: number; root: Buffer } | undefined {
  const split = note.lastIndexOf('\n\n');
  return split < 0 ? undefined : parseCheckpointBody(note.slice(0, split + 1));
}
