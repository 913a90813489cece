/**
 * Property tests of the ER7 parser and the PCD-01 mapper against arbitrary input: the only
 * failure allowed is the parser's own typed error (Hl7Error, a PulsegateError with an HL7_ code);
 * every run is bounded in time (fast-check `interruptAfterTimeLimit`) and the parsed tree is
 * bounded by the input size (nodes <= separators + 1, so memory is linear in the input).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildAck } from './ack.js';
import { Hl7Error, type Hl7Message, parseEr7 } from './er7.js';
import { mapPcd01 } from './pcd01.js';

const HEAD = 'MSH|^~\\&|GW^ACDE48234567ABCD^EUI-64||||20261129090000+0000||ORU^R01^ORU_R01|M1|P|2.6\r';
/** Characters that matter to ER7: separators, escape letters, digits, terminators. */
const ER7_CHARS = fc.constantFrom(...'|^~\\&#FSTREX0123456789.brHNAMSPIDOBXCR\r\n \u00e9');
const er7Text = fc.array(ER7_CHARS, { maxLength: 400 }).map((cs) => cs.join(''));
const SEGMENT_LINES = fc.constantFrom(
  'PID|||789567^^^H^PI',
  'OBR|1|||x|||20261129090000+0000',
  'OBX|1||528391^MDC_DEV_SPEC_PROFILE_BP^MDC|1|||||||X|||||||0123456789ABCDEF^EUI-64',
  'OBX|2|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.0.1.1|120|266016^MDC_DIM_MMHG^MDC|||||R',
  'OBX|3|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.0.0.1|8\\X41\\|262688^MDC_DIM_PERCENT^MDC|||||R|||2026',
  'OBX|4|NA|150452^MDC_PULS_OXIM_PLETH^MDC|1.0.0.2|1^2~3|262656^MDC_DIM_DIMLESS^MDC',
  'NTE|1||a\\.br\\b',
);

function nodes(m: Hl7Message): number {
  let n = 0;
  for (const s of m.segments)
    for (const f of s.fields) for (const r of f ?? []) for (const c of r) n += c.length;
  return n;
}

function check(text: string): void {
  let message: Hl7Message;
  try {
    message = parseEr7(text);
  } catch (error) {
    expect(error).toBeInstanceOf(Hl7Error);
    expect((error as Hl7Error).code).toMatch(/^HL7_/);
    return;
  }
  // Memory bound: the tree never holds more leaves than the input has characters (+ MSH-1/2).
  expect(nodes(message)).toBeLessThanOrEqual(text.length + 2);
  try {
    mapPcd01(message);
  } catch (error) {
    expect(error).toBeInstanceOf(Hl7Error);
  }
  expect(() => parseEr7(buildAck(message, 'AA'))).not.toThrow();
}

// 3,000 runs take about 1 s each here; a parser that hangs or turns quadratic runs into the limit,
// and running out of time fails the test (by default fast-check would stop quietly and pass).
const runs = { numRuns: 3000, interruptAfterTimeLimit: 60_000, markInterruptAsFailure: true };

describe('ER7 parser, fuzzed', () => {
  it('arbitrary text after a valid MSH start: typed errors only', () => {
    fc.assert(
      fc.property(er7Text, (tail) => check(`MSH|^~\\&|${tail}`)),
      runs,
    );
  });

  it('arbitrary text, including no MSH and binary noise: typed errors only', () => {
    fc.assert(
      fc.property(
        fc.oneof(er7Text, fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 })),
        check,
      ),
      runs,
    );
  });

  it('plausible PCD-01 messages with mutated segments: typed errors only', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(SEGMENT_LINES, fc.nat(80), er7Text), { maxLength: 12 }), (parts) => {
        const lines = parts.map(([line, cut, noise]) => {
          const at = Math.min(cut, line.length);
          return line.slice(0, at) + noise.slice(0, 20) + line.slice(at);
        });
        check(HEAD + lines.join('\r'));
      }),
      runs,
    );
  });

  it('work grows linearly, and a message of mostly separators is refused before it is split', () => {
    const big = `${HEAD}NTE|${'^~&'.repeat(330_000)}\r`;
    // Each separator becomes a node of up to ~120 bytes: refused at the default budget...
    expect(() => parseEr7(big)).toThrow(expect.objectContaining({ code: 'HL7_MESSAGE_TOO_LARGE' }));
    // ...which a message with exactly that many still fits.
    expect(parseEr7(`${HEAD}NTE|${'^'.repeat(131_072 - 7)}\r`).segments).toHaveLength(2);
    expect(() => parseEr7(`${HEAD}NTE|${'^'.repeat(131_072 - 6)}\r`)).toThrow(Hl7Error);
    // Without the budget, the tree stays linear in the input.
    const m = parseEr7(big, { maxSeparators: Number.POSITIVE_INFINITY });
    expect(nodes(m)).toBeLessThanOrEqual(big.length);
    // Escape runs: one pass, no backtracking.
    expect(() => parseEr7(`${HEAD}NTE|${'\\'.repeat(1_000_001)}\r`)).toThrow(Hl7Error);
  });
});
