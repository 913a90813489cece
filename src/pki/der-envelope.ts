/**
 * A strict check of the signed-object envelope (SEQUENCE { tbs, algorithm, BIT STRING }) that
 * X.509 libraries parse leniently: outside the signed bytes, a changed tag, length form or
 * unused-bits octet would otherwise still be accepted. DER (X.690 §10) allows one encoding only.
 */

interface Tlv {
  tag: number;
  /** Offset of the content. */
  start: number;
  /** Offset just past the content. */
  end: number;
}

/** Reads one DER TLV (low tag numbers, definite minimal lengths); undefined when malformed. */
function readTlv(bytes: Uint8Array, offset: number, limit: number): Tlv | undefined {
  if (offset + 2 > limit) return undefined;
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) return undefined;
  let length = bytes[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || start + count > limit) return undefined;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[start + i]!;
    // Minimal: the long form only for 128 and more, with no leading zero octet.
    if (length < 0x80 || bytes[start] === 0) return undefined;
    start += count;
  }
  const end = start + length;
  return end > limit ? undefined : { tag, start, end };
}

/** A DER INTEGER with minimal encoding, positive or not. */
function isInteger(bytes: Uint8Array, t: Tlv | undefined): boolean {
  if (t?.tag !== 0x02 || t.end === t.start) return false;
  if (t.end - t.start > 1) {
    const [a, b] = [bytes[t.start]!, bytes[t.start + 1]!];
    if ((a === 0x00 && !(b & 0x80)) || (a === 0xff && b & 0x80)) return false;
  }
  return true;
}

/**
 * True when `bytes` is exactly one DER signed object: SEQUENCE of a SEQUENCE (the signed part),
 * an AlgorithmIdentifier SEQUENCE and a BIT STRING with no unused bits; for ECDSA the signature
 * inside is exactly a DER SEQUENCE of two INTEGERs (RFC 5480 §2.2 / RFC 3279 §2.2.3).
 */
export function isStrictSignedEnvelope(bytes: Uint8Array, ecdsa: boolean): boolean {
  const outer = readTlv(bytes, 0, bytes.length);
  if (outer?.tag !== 0x30 || outer.end !== bytes.length) return false;
  const tbs = readTlv(bytes, outer.start, outer.end);
  if (tbs?.tag !== 0x30) return false;
  const algorithm = readTlv(bytes, tbs.end, outer.end);
  if (algorithm?.tag !== 0x30) return false;
  const signature = readTlv(bytes, algorithm.end, outer.end);
  if (signature?.tag !== 0x03 || signature.end !== outer.end) return false;
  if (signature.end === signature.start || bytes[signature.start] !== 0x00) return false;
  if (!ecdsa) return true;
  const sig = readTlv(bytes, signature.start + 1, signature.end);
  if (sig?.tag !== 0x30 || sig.end !== signature.end) return false;
  const r = readTlv(bytes, sig.start, sig.end);
  const s = r && readTlv(bytes, r.end, sig.end);
  return isInteger(bytes, r) && isInteger(bytes, s) && s!.end === sig.end;
}
