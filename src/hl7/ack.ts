import { randomUUID } from 'node:crypto';
import { formatDtm } from './dtm.js';
import { type Delimiters, type Hl7Field, type Hl7Location, type Hl7Message, value } from './er7.js';
import { encodeEscapes } from './escape.js';

/** MSA-1 (HL7 table 0008, original acknowledgment mode). */
export type AckCode = 'AA' | 'AE' | 'AR';

/** One ERR segment (HL7 v2.6 §2.15.5). */
export interface AckError {
  /** HL7 table 0357 code (ERR-3): 100 segment sequence, 101 required field, 102 data type, 103 table value, 200-203 unsupported, 204 unknown key, 207 application error. */
  hl7Code: number;
  /** Our stable error code (ERR-5, coding system "PULSEGATE"). */
  code: string;
  /** A safe message (ERR-8): names positions and codes, never values. */
  message: string;
  location?: Hl7Location;
  /** ERR-4 severity (table 0516): E error, W warning, I information. */
  severity?: 'E' | 'W' | 'I';
}

const STANDARD: Delimiters = {
  field: '|',
  component: '^',
  repetition: '~',
  escape: '\\',
  subcomponent: '&',
  truncation: null,
};

const TEXT_0357: Record<number, string> = {
  0: 'Message accepted',
  100: 'Segment sequence error',
  101: 'Required field missing',
  102: 'Data type error',
  103: 'Table value not found',
  104: 'Value too long',
  200: 'Unsupported message type',
  201: 'Unsupported event code',
  202: 'Unsupported processing id',
  203: 'Unsupported version id',
  204: 'Unknown key identifier',
  205: 'Duplicate key identifier',
  206: 'Application record locked',
  207: 'Application internal error',
};

const esc = (v: string) => encodeEscapes(v, STANDARD);

/** Re-encodes a decoded field (e.g. an HD such as MSH-3) with our delimiters; first repetition. */
function field(f: Hl7Field | undefined): string {
  const rep = f?.[0];
  if (!rep) return '';
  return rep.map((component) => component.map(esc).join(STANDARD.subcomponent)).join(STANDARD.component);
}

export interface AckOptions {
  /** Our application (MSH-3 of the ACK); default PULSEGATE. */
  application?: string;
  now?: number;
  /** MSH-10 of the ACK (default a random UUID). */
  controlId?: string;
}

/**
 * Builds the ACK for a received message (HL7 v2.6 §2.9.2, original mode; IHE PCD-01 answers
 * ACK^R01^ACK): MSH with sender and receiver swapped, MSA with the code and the received MSH-10,
 * then one ERR per problem. `received` is null when the message could not be parsed at all (no
 * MSH, bad encoding characters): the ACK then has an empty MSA-2. Segments end with CR.
 */
export function buildAck(
  received: Hl7Message | null,
  code: AckCode,
  errors: readonly AckError[] = [],
  options: AckOptions = {},
): string {
  const msh = received?.segments[0];
  const event = msh ? value(msh, 9, 2) : '';
  const version = msh ? value(msh, 12) || '2.6' : '2.6';
  const header = [
    'MSH',
    `${STANDARD.component}${STANDARD.repetition}${STANDARD.escape}${STANDARD.subcomponent}`,
    esc(options.application ?? 'PULSEGATE'),
    msh ? field(msh.fields[6]) : '',
    msh ? field(msh.fields[3]) : '',
    msh ? field(msh.fields[4]) : '',
    formatDtm(options.now ?? Date.now()),
    '',
    // The ACK names the trigger event it answers (v2.6 §2.14.9.9): R01 for PCD-01.
    `ACK^${/^[A-Z0-9]{3}$/.test(event) ? event : 'R01'}^ACK`,
    esc(options.controlId ?? randomUUID()),
    'P',
    esc(version),
  ].join(STANDARD.field);
  const msa = ['MSA', code, msh ? esc(value(msh, 10)) : ''].join(STANDARD.field);
  const segments = [header, msa];
  for (const e of errors) {
    const l = e.location;
    const erl = l
      ? [
          l.segment,
          l.sequence || '',
          l.field ?? '',
          l.field ? (l.repetition ?? 1) : '',
          l.component ?? '',
          l.subcomponent ?? '',
        ]
          .join(STANDARD.component)
          .replace(/\^+$/, '')
      : '';
    segments.push(
      [
        'ERR',
        '',
        erl,
        `${e.hl7Code}^${esc(TEXT_0357[e.hl7Code] ?? 'Error')}^HL70357`,
        e.severity ?? 'E',
        `${esc(e.code)}^^PULSEGATE`,
        '',
        '',
        esc(e.message),
      ].join(STANDARD.field),
    );
  }
  return `${segments.join('\r')}\r`;
}
