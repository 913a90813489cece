import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PulsegateError } from '../errors.js';
import { MllpDecoder, mllpFrame } from './mllp-framing.js';

describe('MLLP framing', () => {
  it('reassembles frames split at any byte and several frames in one chunk', () => {
    const messages = ['MSH|^~\\&|A\rPID|||1\r', 'MSH|^~\\&|B\r', 'x'.repeat(5000)];
    const stream = Buffer.concat(messages.map((m) => mllpFrame(m)));
    fc.assert(
      fc.property(fc.array(fc.nat(stream.length), { maxLength: 20 }), (cuts) => {
        const points = [...new Set([0, ...cuts, stream.length])].sort((a, b) => a - b);
        const decoder = new MllpDecoder(10_000);
        const out: string[] = [];
        for (let i = 1; i < points.length; i++)
          for (const f of decoder.push(stream.subarray(points[i - 1], points[i]))) out.push(f.toString());
        expect(out).toEqual(messages);
      }),
      { numRuns: 300 },
    );
  });

  it('holds a frame trickled one byte per read in about its own size, not a buffer per byte', () => {
    const frame = mllpFrame(`MSH|^~\\&|${'x'.repeat(1_048_000)}`);
    const decoder = new MllpDecoder(1_048_576);
    const used = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const before = used();
    let peak = 0;
    for (let i = 0; i < frame.length - 2; i++) {
      decoder.push(Buffer.from([frame[i]!]));
      if (i % 65_536 === 0) peak = Math.max(peak, used() - before);
    }
    const [message] = decoder.push(frame.subarray(frame.length - 2));
    expect(message?.length).toBe(frame.length - 3);
    // Kept as separate chunks this was about 200 bytes per byte (200 MB); garbage collection of
    // the one-byte chunks leaves some noise, far below that.
    expect(peak).toBeLessThan(64 * 1024 * 1024);
  });

  it('tolerates CR/LF between frames and refuses other bytes, a VT inside a frame, FS without CR, oversize', () => {
    expect(new MllpDecoder(100).push(Buffer.from('\r\n\x0bA\x1c\r\n'))).toHaveLength(1);
    const code = (bytes: string, max = 100) => {
      try {
        new MllpDecoder(max).push(Buffer.from(bytes, 'latin1'));
      } catch (error) {
        expect(error).toBeInstanceOf(PulsegateError);
        return (error as PulsegateError).code;
      }
      return 'ok';
    };
    expect(code('GET / HTTP/1.1\r\n')).toBe('HL7_FRAMING_INVALID');
    expect(code('\x0bA\x0bB\x1c\r')).toBe('HL7_FRAMING_INVALID');
    expect(code('\x0bA\x1cX')).toBe('HL7_FRAMING_INVALID');
    expect(code(`\x0b${'A'.repeat(101)}`)).toBe('HL7_MESSAGE_TOO_LARGE');
    expect(code(`\x0b${'A'.repeat(100)}\x1c\r`)).toBe('ok');
  });

  it('never throws anything but its typed errors on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 10 }), (chunks) => {
        const decoder = new MllpDecoder(1000);
        try {
          for (const c of chunks) decoder.push(Buffer.from(c));
        } catch (error) {
          expect(error).toBeInstanceOf(PulsegateError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
