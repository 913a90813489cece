import { PulsegateError } from '../errors.js';

/** MLLP block characters (HL7 v2 Transport Specification: MLLP release 2, §1.2). */
export const MLLP_START = 0x0b;
export const MLLP_END = 0x1c;
export const MLLP_CR = 0x0d;

/** Frame buffer a decoder keeps between messages at most. */
const KEEP_BYTES = 64 * 1024;

/** Wraps an HL7 message in an MLLP frame: <VT> message <FS><CR>. */
export function mllpFrame(message: string | Buffer): Buffer {
  const body = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  const out = Buffer.allocUnsafe(body.length + 3);
  out[0] = MLLP_START;
  body.copy(out, 1);
  out[body.length + 1] = MLLP_END;
  out[body.length + 2] = MLLP_CR;
  return out;
}

/**
 * Splits a TCP byte stream into MLLP frames. Work is linear in the bytes received and memory is
 * bounded by `maxMessageBytes` per connection. Between frames only CR/LF (some senders end frames
 * with CRLF) is tolerated; any other byte, or a frame larger than the limit, throws
 * HL7_FRAMING_INVALID / HL7_MESSAGE_TOO_LARGE and the connection should be closed, since the
 * stream can no longer be trusted to be in step.
 */
export class MllpDecoder {
  readonly #max: number;
  /**
   * The frame so far, copied into one growable buffer: keeping each received chunk instead would
   * hold a whole Buffer (about 200 bytes) per byte of a sender that trickles one byte per record.
   */
  #buf: Buffer = Buffer.alloc(0);
  #size = 0;
  #inFrame = false;
  /** The previous chunk ended with <FS>; its <CR> may start the next chunk. */
  #sawEnd = false;

  constructor(maxMessageBytes: number) {
    this.#max = maxMessageBytes;
  }

  /** Feeds received bytes; returns the complete messages (without framing), in order. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.#sawEnd) {
        this.#sawEnd = false;
        if (chunk[i] !== MLLP_CR) throw new PulsegateError('HL7_FRAMING_INVALID', 'FS not followed by CR');
        out.push(this.#take());
        i++;
        continue;
      }
      if (!this.#inFrame) {
        const b = chunk[i]!;
        if (b === MLLP_START) this.#inFrame = true;
        else if (b !== 0x0d && b !== 0x0a)
          throw new PulsegateError('HL7_FRAMING_INVALID', 'bytes outside an MLLP frame');
        i++;
        continue;
      }
      const end = chunk.indexOf(MLLP_END, i);
      const stop = end < 0 ? chunk.length : end;
      if (stop > i) this.#append(chunk.subarray(i, stop));
      if (end < 0) break;
      i = end + 1;
      if (i >= chunk.length) {
        this.#sawEnd = true;
        break;
      }
      if (chunk[i] !== MLLP_CR) throw new PulsegateError('HL7_FRAMING_INVALID', 'FS not followed by CR');
      out.push(this.#take());
      i++;
    }
    return out;
  }

  #append(part: Buffer): void {
    const size = this.#size + part.length;
    if (size > this.#max) throw new PulsegateError('HL7_MESSAGE_TOO_LARGE');
    // A start byte inside a frame means a lost end: the stream is out of step.
    if (part.includes(MLLP_START)) throw new PulsegateError('HL7_FRAMING_INVALID', 'VT inside a frame');
    if (size > this.#buf.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.#max, Math.max(size, 2 * this.#buf.length, 4096)));
      this.#buf.copy(grown, 0, 0, this.#size);
      this.#buf = grown;
    }
    part.copy(this.#buf, this.#size);
    this.#size = size;
  }

  #take(): Buffer {
    const message = Buffer.from(this.#buf.subarray(0, this.#size));
    this.#size = 0;
    this.#inFrame = false;
    // A connection between messages keeps at most a small buffer, not its largest message's.
    if (this.#buf.length > KEEP_BYTES) this.#buf = Buffer.alloc(0);
    return message;
  }
}
