import { PulsegateError } from '../errors.js';

/** MLLP block characters (HL7 v2 Transport Specification: MLLP release 2, §1.2). */
export const MLLP_START = 0x0b;
export const MLLP_END = 0x1c;
export const MLLP_CR = 0x0d;

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
  #parts: Buffer[] = [];
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
    this.#size += part.length;
    if (this.#size > this.#max) throw new PulsegateError('HL7_MESSAGE_TOO_LARGE');
    // A start byte inside a frame means a lost end: the stream is out of step.
    if (part.includes(MLLP_START)) throw new PulsegateError('HL7_FRAMING_INVALID', 'VT inside a frame');
    this.#parts.push(part);
  }

  #take(): Buffer {
    const message =
      this.#parts.length === 1 ? Buffer.from(this.#parts[0]!) : Buffer.concat(this.#parts, this.#size);
    this.#parts = [];
    this.#size = 0;
    this.#inFrame = false;
    return message;
  }
}
