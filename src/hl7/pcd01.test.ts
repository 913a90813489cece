import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { corpusDir } from '../testing/corpus.js';
import { Hl7Error, parseEr7 } from './er7.js';
import { mapPcd01, normaliseEui64, readHeader } from './pcd01.js';

const corpus = corpusDir('hl7v2');
const corpusIt = corpus ? it : it.skip;
const read = (name: string) => readFileSync(join(corpus!, name), 'utf8');

const HEAD =
  'MSH|^~\\&|GW^ACDE48234567ABCD^EUI-64||||20261129090000+0000||ORU^R01^ORU_R01|M1|P|2.6\rPID|||MRN1\rOBR|1|||x|||20261129085900+0000\r';
const DEVICE = 'OBX|1||528391^MDC_DEV_SPEC_PROFILE_BP^MDC|1|||||||X|||||||0123456789ABCDEF^EUI-64\r';

function refusal(text: string) {
  try {
    mapPcd01(parseEr7(text));
  } catch (error) {
    expect(error).toBeInstanceOf(Hl7Error);
    return error as Hl7Error;
  }
  throw new Error('expected a refusal');
}

describe('IHE PCD-01 mapping', () => {
  // oehf/ipf .../pcd01/valid-pcd01-request.hl7v2: NIBP 120/80 (100) mmHg from device 0123456789ABCDEF.
  corpusIt('maps the IPF NIBP message: MDC codes, MDC units to UCUM, OBX-18 device, OBX-14 time', () => {
    const report = mapPcd01(parseEr7(read('ipf-valid-pcd01-request.hl7v2')));
    expect(report.header).toMatchObject({
      controlId: 'MSGID1234',
      version: '2.6',
      messageType: 'ORU^R01^ORU_R01',
    });
    expect(report.devices[0]!.patientIds).toEqual(['789567']);
    expect(report.devices).toHaveLength(1);
    const [device] = report.devices;
    expect(device!.eui64).toBe('0123456789ABCDEF');
    // OBX-14 of the channel (1.0.1) applies to its metrics (1.0.1.x): 2009-08-13 09:57:15 +0500.
    const ts = Date.UTC(2009, 7, 13, 4, 57, 15);
    expect(device!.observations.map((o) => [o.system, o.code, o.value, o.unit, o.ts])).toEqual([
      ['MDC', '150021', 120, 'mm[Hg]', ts],
      ['MDC', '150022', 80, 'mm[Hg]', ts],
      ['MDC', '150023', 100, 'mm[Hg]', ts],
    ]);
  });

  // oehf/ipf .../wan/valid-oximeter-continua-wan.hl7v2: SpO2 80.5 % plus a pleth waveform (NA).
  corpusIt('maps the IPF oximeter message and leaves the NA waveform unstored', () => {
    const report = mapPcd01(parseEr7(read('ipf-valid-oximeter-continua-wan.hl7v2')));
    expect(report.devices[0]!.observations.map((o) => [o.code, o.value, o.unit])).toEqual([
      ['150456', 80.5, '%'],
    ]);
    expect(report.notStored).toBe(1);
  });

  // oehf/ipf .../wan/valid-bp-continua-wan.hl7v2: CWE/DTM rows are device attributes, not vitals.
  corpusIt('maps the IPF Continua blood-pressure message', () => {
    const report = mapPcd01(parseEr7(read('ipf-valid-bp-continua-wan.hl7v2')));
    expect(report.devices[0]!.observations.map((o) => [o.code, o.value])).toEqual([
      ['150021', 120],
      ['150022', 80],
      ['150023', 100],
    ]);
    expect(report.notStored).toBe(2);
  });

  it('accepts UCUM units and LOINC codes, and the time falls back to OBR-7', () => {
    const report = mapPcd01(
      parseEr7(`${HEAD}${DEVICE}OBX|2|NM|8867-4^Heart rate^LN|1.0.0.1|72|/min^^UCUM|||||F\r`),
    );
    expect(report.devices[0]!.observations[0]).toMatchObject({
      system: 'LOINC',
      code: '8867-4',
      value: 72,
      unit: '/min',
      ts: Date.UTC(2026, 10, 29, 8, 59),
    });
  });

  it('refuses bad content with a code and the OBX it is in (ERL-2 counts OBX segments, not lines)', () => {
    const nm = (v: string, code = '150021^MDC_PRESS_BLD_NONINV_SYS^MDC', unit = '266016^MDC_DIM_MMHG^MDC') =>
      `${HEAD}${DEVICE}OBX|2|NM|${code}|1.0.1.1|${v}|${unit}|||||R\r`;
    const notNumeric = refusal(nm('12O'));
    expect(notNumeric.code).toBe('HL7_DATA_TYPE');
    expect(notNumeric.location).toEqual({ segment: 'OBX', sequence: 2, field: 5 });
    expect(refusal(nm('120', '999999^MDC_UNKNOWN^MDC')).code).toBe('HL7_UNKNOWN_CODE');
    expect(refusal(nm('120', '150021^X^SNM')).code).toBe('HL7_UNKNOWN_CODE');
    expect(refusal(nm('120', undefined, '1^MDC_DIM_X^MDC')).code).toBe('HL7_UNIT_UNKNOWN');
    expect(refusal(nm('120', undefined, '')).code).toBe('HL7_REQUIRED_FIELD');
    expect(refusal(`${HEAD}OBX|2|NM|150021^S^MDC|1.0.1.1|120|266016^^MDC|||||R\r`).location).toMatchObject({
      field: 18,
    });
    expect(refusal(HEAD.replace('PID|||MRN1\r', '')).code).toBe('HL7_SEGMENT_SEQUENCE');
    expect(refusal(HEAD.replace('MRN1', '')).code).toBe('HL7_REQUIRED_FIELD');
    expect(refusal(`${HEAD.replace(/OBR\|.*\r/, '')}${DEVICE}`).code).toBe('HL7_SEGMENT_SEQUENCE');
    expect(refusal(nm('120').replace('0123456789ABCDEF^EUI-64', '01234^EUI-64')).code).toBe('HL7_DATA_TYPE');
  });

  it('checks MSH-9, MSH-10, MSH-11, MSH-12 and MSH-7', () => {
    const header = (f: (s: string) => string) => {
      try {
        readHeader(parseEr7(f(HEAD)));
      } catch (error) {
        return (error as Hl7Error).code;
      }
      return 'ok';
    };
    expect(header((s) => s)).toBe('ok');
    expect(header((s) => s.replace('ORU^R01', 'ADT^A01'))).toBe('HL7_MESSAGE_TYPE_UNSUPPORTED');
    expect(header((s) => s.replace('ORU^R01', 'ORU^R30'))).toBe('HL7_EVENT_UNSUPPORTED');
    expect(header((s) => s.replace('|M1|', '||'))).toBe('HL7_REQUIRED_FIELD');
    expect(header((s) => s.replace('|P|2.6', '|T|2.6'))).toBe('HL7_PROCESSING_ID_UNSUPPORTED');
    expect(header((s) => s.replace('|P|2.6', '|P|2.3'))).toBe('HL7_VERSION_UNSUPPORTED');
    expect(header((s) => s.replace('20261129090000+0000', '2026'))).toBe('HL7_DATA_TYPE');
  });

  it('takes the patient of each PATIENT_RESULT group and refuses one device under two patients', () => {
    const second = (eui: string) =>
      `PID|||MRN2\rOBR|2|||x|||20261129085900+0000\rOBX|1||528391^X^MDC|1|||||||X|||||||${eui}^EUI-64\rOBX|2|NM|150456^S^MDC|1.0.0.1|97|262688^^MDC|||||R\r`;
    const report = mapPcd01(parseEr7(`${HEAD}${DEVICE}${second('AAAAAAAAAAAAAAAA')}`));
    expect(report.devices.map((d) => [d.eui64, d.patientIds])).toEqual([['AAAAAAAAAAAAAAAA', ['MRN2']]]);
    const both = `${HEAD}${DEVICE}OBX|2|NM|150021^S^MDC|1.0.1.1|120|266016^^MDC|||||R\r${second('0123456789ABCDEF')}`;
    expect(refusal(both).code).toBe('HL7_PATIENT_MISMATCH');
    expect(refusal('MSH|^~\\&|A||||20261129090000+0000||ORU^R01|M|P|2.6\r').code).toBe(
      'HL7_SEGMENT_SEQUENCE',
    );
  });

  it('normalises EUI-64 spellings', () => {
    expect(normaliseEui64('01-23-45-67-89-ab-cd-ef')).toBe('0123456789ABCDEF');
    expect(normaliseEui64('01:23:45:67:89:AB:CD:EF')).toBe('0123456789ABCDEF');
    expect(normaliseEui64('01-23:45-67-89-ab-cd-ef')).toBeUndefined();
    expect(normaliseEui64('0123456789ABCDE')).toBeUndefined();
  });
});
