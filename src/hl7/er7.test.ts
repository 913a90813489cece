import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { corpusDir } from '../testing/corpus.js';
import { buildAck } from './ack.js';
import { parseDtm } from './dtm.js';
import { Hl7Error, parseEr7, repetitions, segmentsOf, value } from './er7.js';

const corpus = corpusDir('hl7v2');
const corpusIt = corpus ? it : it.skip;

function refusal(text: string): Hl7Error {
  try {
    parseEr7(text);
  } catch (error) {
    expect(error).toBeInstanceOf(Hl7Error);
    return error as Hl7Error;
  }
  throw new Error('expected a refusal');
}

describe('ER7 parser', () => {
  // oehf/ipf commons/ihe/hl7v2ws/src/test/resources/pcd01/valid-pcd01-request.hl7v2 (SOURCES.md)
  corpusIt('reads the IPF PCD-01 request: MSH fields, PID-3, OBX rows with components', () => {
    const text = readFileSync(join(corpus!, 'ipf-valid-pcd01-request.hl7v2'), 'utf8');
    const m = parseEr7(text);
    expect(m.delimiters).toMatchObject({
      field: '|',
      component: '^',
      repetition: '~',
      escape: '\\',
      subcomponent: '&',
    });
    expect(m.segments.map((s) => s.id)).toEqual(['MSH', 'PID', 'OBR', 'OBX', 'OBX', 'OBX', 'OBX', 'OBX']);
    const msh = m.segments[0]!;
    expect(value(msh, 1)).toBe('|');
    expect(value(msh, 2)).toBe('^~\\&');
    expect(value(msh, 3, 2)).toBe('ACDE48234567ABCD');
    expect([value(msh, 9, 1), value(msh, 9, 2), value(msh, 9, 3)]).toEqual(['ORU', 'R01', 'ORU_R01']);
    expect(value(msh, 10)).toBe('MSGID1234');
    expect(value(msh, 12)).toBe('2.6');
    const [pid] = segmentsOf(m, 'PID');
    expect(value(pid!, 3, 1)).toBe('789567');
    expect(value(pid!, 3, 4)).toBe('Imaginary Hospital');
    const sys = segmentsOf(m, 'OBX')[2]!;
    expect([value(sys, 3, 1), value(sys, 3, 2), value(sys, 5), value(sys, 6, 2)]).toEqual([
      '150021',
      'MDC_PRESS_BLD_NONINV_SYS',
      '120',
      'MDC_DIM_MMHG',
    ]);
    expect(value(segmentsOf(m, 'OBX')[0]!, 18, 2)).toBe('EUI-64');
  });

  it('takes the separators from MSH-1 and MSH-2, and resolves every escape sequence', () => {
    const m = parseEr7(
      'MSH#:*!$#APP##RCV#\rNTE#1##a!F!b!S!c!T!d!R!e!E!f!X414243!g!.br!h!H!bold!N!#x:y*z:w$v\r',
    );
    expect(m.delimiters).toMatchObject({
      field: '#',
      component: ':',
      repetition: '*',
      escape: '!',
      subcomponent: '$',
    });
    const nte = segmentsOf(m, 'NTE')[0]!;
    expect(value(nte, 3)).toBe('a#b:c$d*e!fABCg\nhbold');
    expect(value(nte, 4, 1)).toBe('x');
    expect(value(nte, 4, 2)).toBe('y');
    expect(repetitions(nte, 4)).toBe(2);
    expect(value(nte, 4, 1, 1, 2)).toBe('z');
    expect(value(nte, 4, 2, 1, 2)).toBe('w');
    expect(value(nte, 4, 2, 2, 2)).toBe('v');
  });

  it('accepts CR, CRLF and LF segment terminators and skips empty lines', () => {
    for (const eol of ['\r', '\r\n', '\n']) {
      const m = parseEr7(`MSH|^~\\&|A${eol}PID|||1${eol}${eol}`);
      expect(m.segments.map((s) => s.id)).toEqual(['MSH', 'PID']);
    }
  });

  it('refuses with a typed error and the position', () => {
    expect(refusal('PID|||1\r').code).toBe('HL7_MSH_MISSING');
    expect(refusal('').code).toBe('HL7_MSH_MISSING');
    expect(refusal('MSH|^~\\|A\r').code).toBe('HL7_ENCODING_INVALID');
    expect(refusal('MSH|^^\\&|A\r').code).toBe('HL7_ENCODING_INVALID');
    expect(refusal('MSHA^~\\&A\r').code).toBe('HL7_ENCODING_INVALID');
    expect(refusal('MSH|^~\\&\r').code).toBe('HL7_ENCODING_INVALID');
    const seg = refusal('MSH|^~\\&|A\rPID|||1\rob|x\r');
    expect(seg.code).toBe('HL7_SEGMENT_INVALID');
    expect(seg.location).toEqual({ segment: '???', sequence: 0 });
    const esc = refusal('MSH|^~\\&|A\rPID|||1^2\\Q\\\r');
    expect(esc.code).toBe('HL7_ESCAPE_INVALID');
    expect(esc.location).toMatchObject({
      segment: 'PID',
      sequence: 1,
      field: 3,
      repetition: 1,
      component: 2,
    });
    expect(refusal('MSH|^~\\&|A\rPID|||1\\F\r').code).toBe('HL7_ESCAPE_INVALID');
    expect(refusal('MSH|^~\\&|A\rMSH|^~\\&|B\r').code).toBe('HL7_SEGMENT_INVALID');
  });

  it('bounds the work: segment and field counts are limited', () => {
    const many = `MSH|^~\\&|A\r${'NTE|1\r'.repeat(20)}`;
    expect(() => parseEr7(many, { maxSegments: 10 })).toThrow(Hl7Error);
    expect(() => parseEr7(`MSH|^~\\&|A\rNTE${'|'.repeat(30)}\r`, { maxFields: 20 })).toThrow(Hl7Error);
  });
});

describe('DTM', () => {
  it('reads precision, fractions and offsets', () => {
    expect(parseDtm('20090813095715+0500')).toBe(Date.UTC(2009, 7, 13, 4, 57, 15));
    expect(parseDtm('20090813095715.25-0130')).toBe(Date.UTC(2009, 7, 13, 11, 27, 15, 250));
    expect(parseDtm('200908130957')).toBe(Date.UTC(2009, 7, 13, 9, 57));
    expect(parseDtm('2009', 12)).toBeUndefined();
    expect(parseDtm('20090431120000')).toBeUndefined();
    expect(parseDtm('2009081309571')).toBeUndefined();
    expect(parseDtm('yesterday')).toBeUndefined();
  });
});

describe('ACK', () => {
  it('swaps sender and receiver, echoes MSH-10 and names the problem in ERR', () => {
    const received = parseEr7(
      'MSH|^~\\&|GW^ACDE48234567ABCD^EUI-64|FAC|RCV|RFAC|20261129090000+0000||ORU^R01^ORU_R01|ID\\F\\1|P|2.6\r',
    );
    const ack = buildAck(
      received,
      'AE',
      [
        {
          hl7Code: 102,
          code: 'HL7_DATA_TYPE',
          message: 'OBX-5 is not a valid NM value',
          location: { segment: 'OBX', sequence: 2, field: 5 },
        },
      ],
      { now: Date.UTC(2026, 10, 29, 9), controlId: 'ACK1' },
    );
    const parsed = parseEr7(ack);
    const [msh, msa, err] = parsed.segments;
    expect(value(msh!, 3)).toBe('PULSEGATE');
    expect(value(msh!, 5, 2)).toBe('ACDE48234567ABCD');
    expect(value(msh!, 6)).toBe('FAC');
    expect(value(msh!, 9, 1)).toBe('ACK');
    expect(value(msh!, 7)).toBe('20261129090000+0000');
    expect([value(msa!, 1), value(msa!, 2)]).toEqual(['AE', 'ID|1']);
    expect(err!.id).toBe('ERR');
    expect([value(err!, 2, 1), value(err!, 2, 2), value(err!, 2, 3)]).toEqual(['OBX', '2', '5']);
    expect([value(err!, 3, 1), value(err!, 3, 3)]).toEqual(['102', 'HL70357']);
    expect(value(err!, 4)).toBe('E');
    expect(value(err!, 5, 1)).toBe('HL7_DATA_TYPE');
  });
});
