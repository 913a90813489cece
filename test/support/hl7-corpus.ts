/** The HL7 v2 device messages of the shared corpus (../shared/corpus/hl7v2), made current for a test. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDtm } from '../../src/hl7/index.js';
import { corpusDir } from '../../src/testing/corpus.js';

/** The corpus folder, or undefined when it is absent (the tests skip with a message). */
export const HL7_CORPUS = corpusDir('hl7v2');

/** The IHE PCD-01 messages the tests send (SOURCES.md lists where each comes from). */
export const HL7_CORPUS_FILES = [
  'ipf-valid-pcd01-request.hl7v2',
  'ipf-valid-oximeter-continua-wan.hl7v2',
  'ipf-valid-bp-continua-wan.hl7v2',
];

/** PID-3 and the EUI-64 of OBX-18 in every corpus message. */
export const CORPUS_PATIENT = '789567';
export const CORPUS_EUI64 = '0123456789ABCDEF';

/**
 * A corpus message made current: the fixtures date from 2009 and all share the control id
 * MSGID1234, and the telemetry store refuses data outside the clock-skew window; so every
 * timestamp becomes "a minute ago" and MSH-10 gets a suffix. Everything else is byte for byte,
 * with CRLF turned into MLLP's CR (SOURCES.md).
 */
export function currentCorpusMessage(name: string, suffix: string): string {
  const text = readFileSync(join(HL7_CORPUS!, name), 'utf8').replaceAll('\r\n', '\r');
  const now = formatDtm(Date.now() - 60_000);
  return text.replace(/\b\d{14}(?:[+-]\d{4})?/g, now).replace('|MSGID1234|', `|MSGID1234-${suffix}|`);
}
