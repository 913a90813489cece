import { PulsegateError } from '../errors.js';
import { decodeEscapes } from './escape.js';

/**
 * The separators of one message, read from MSH-1 and MSH-2 (HL7 v2.6 §2.5.4): field, component,
 * repetition, escape and sub-component characters, and the v2.7 truncation character if present.
 */
export interface Delimiters {
  readonly field: string;
  readonly component: string;
  readonly repetition: string;
  readonly escape: string;
  readonly subcomponent: string;
  readonly truncation: string | null;
}

/** A field: repetitions of components of sub-components, all decoded (escapes resolved). */
export type Hl7Field = string[][][];

export interface Hl7Segment {
  /** Three-character segment id (MSH, PID, OBR, OBX...). */
  readonly id: string;
  /** 1-based position of the segment in the message. */
  readonly position: number;
  /** Which occurrence of its segment id this is, 1-based (the ERL-2 "segment sequence"). */
  readonly sequence: number;
  /** `fields[n]` is field n (fields[0] is unused); a missing field is `undefined`. */
  readonly fields: readonly (Hl7Field | undefined)[];
}

export interface Hl7Message {
  readonly delimiters: Delimiters;
  readonly segments: readonly Hl7Segment[];
}

/** Where in a message something is (HL7 ERR-2 ERL: segment id, sequence, field, repetition, component). */
export interface Hl7Location {
  segment: string;
  /**
   * ERL-2 segment sequence (HL7 v2.6 §2.A.27): the occurrence of this segment id in the message,
   * 1 for the first (the 2nd OBX is OBX^2, wherever it stands); 0 when unknown.
   */
  sequence: number;
  field?: number;
  repetition?: number;
  component?: number;
  subcomponent?: number;
}

/**
 * A refusal of an HL7 message with its stable code and, where known, the location of the problem.
 * The detail names positions and codes, never values (they may be PHI).
 */
export class Hl7Error extends PulsegateError {
  readonly location: Hl7Location | undefined;
  constructor(code: ConstructorParameters<typeof PulsegateError>[0], detail: string, location?: Hl7Location) {
    super(code, detail);
    this.name = 'Hl7Error';
    this.location = location;
  }
}

export interface ParseLimits {
  /** Most segments in one message (default 5,000). */
  maxSegments?: number;
  /** Most fields in one segment (default 512). */
  maxFields?: number;
  /**
   * Most component, repetition and sub-component separators in one message (default 131,072).
   * Each becomes a node of the parsed tree (up to about 120 bytes for a repetition), so a run of
   * separators would otherwise cost a hundred times its size in memory and seconds of parsing.
   */
  maxSeparators?: number;
}

const SEGMENT_ID = /^[A-Z][A-Z0-9]{2}$/;

/**
 * Parses one ER7-encoded HL7 v2 message. Work and memory are linear in the input: every node of
 * the tree is made at a separator, and escape decoding is one pass per value. Throws `Hl7Error`
 * (HL7_MSH_MISSING, HL7_ENCODING_INVALID, HL7_SEGMENT_INVALID, HL7_ESCAPE_INVALID,
 * HL7_MESSAGE_TOO_LARGE) and nothing else.
 *
 * Segments end with CR (§2.5.1); CRLF and a lone LF are accepted too, since files and HTTP bodies
 * often carry them. Empty lines (e.g. a trailing terminator) are skipped.
 */
export function parseEr7(text: string, limits: ParseLimits = {}): Hl7Message {
  const maxSegments = limits.maxSegments ?? 5000;
  const maxFields = limits.maxFields ?? 512;
  const maxSeparators = limits.maxSeparators ?? 131_072;
  if (!text.startsWith('MSH')) throw new Hl7Error('HL7_MSH_MISSING', 'the message must start with MSH');
  const delimiters = readDelimiters(text);
  if (countSeparators(text, delimiters) > maxSeparators)
    throw new Hl7Error(
      'HL7_MESSAGE_TOO_LARGE',
      `more than ${maxSeparators} component, repetition or sub-component separators`,
    );
  // Plain CR (what MLLP carries) splits without a regular expression.
  const lines = text.includes('\n') ? text.split(/\r\n|\r|\n/) : text.split('\r');
  const segments: Hl7Segment[] = [];
  const seen = new Map<string, number>();
  for (const line of lines) {
    if (line.length === 0) continue;
    const position = segments.length + 1;
    if (position > maxSegments)
      throw new Hl7Error('HL7_MESSAGE_TOO_LARGE', `more than ${maxSegments} segments`);
    segments.push(parseSegment(line, position, seen, delimiters, maxFields));
  }
  return { delimiters, segments };
}

function readDelimiters(text: string): Delimiters {
  const location = { segment: 'MSH', sequence: 1, field: 2 };
  const field = text.charAt(3);
  if (!isDelimiter(field))
    throw new Hl7Error('HL7_ENCODING_INVALID', 'MSH-1 is not a valid field separator', {
      ...location,
      field: 1,
    });
  const end = text.indexOf(field, 4);
  const encoding = end < 0 ? '' : text.slice(4, end);
  // MSH-2 holds 4 characters (5 from v2.7 with the truncation character), all distinct.
  if (encoding.length < 4 || encoding.length > 5)
    throw new Hl7Error('HL7_ENCODING_INVALID', 'MSH-2 must hold 4 or 5 encoding characters', location);
  const all = field + encoding;
  for (let i = 0; i < all.length; i++) {
    if (!isDelimiter(all[i]!) || all.indexOf(all[i]!) !== i)
      throw new Hl7Error(
        'HL7_ENCODING_INVALID',
        'MSH-2 encoding characters must be distinct punctuation',
        location,
      );
  }
  return {
    field,
    component: encoding[0]!,
    repetition: encoding[1]!,
    escape: encoding[2]!,
    subcomponent: encoding[3]!,
    truncation: encoding[4] ?? null,
  };
}

/** Component, repetition and sub-component separators in `text`: one pass, nothing allocated. */
function countSeparators(text: string, d: Delimiters): number {
  const component = d.component.charCodeAt(0);
  const repetition = d.repetition.charCodeAt(0);
  const subcomponent = d.subcomponent.charCodeAt(0);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === component || c === repetition || c === subcomponent) n++;
  }
  return n;
}

/** A separator is printable, not a letter, digit or space (and so never a segment terminator). */
function isDelimiter(c: string): boolean {
  return c.length === 1 && c > ' ' && c <= '~' && !/[A-Za-z0-9]/.test(c);
}

function parseSegment(
  line: string,
  position: number,
  seen: Map<string, number>,
  d: Delimiters,
  maxFields: number,
): Hl7Segment {
  const id = line.slice(0, 3);
  if (!SEGMENT_ID.test(id) || (line.length > 3 && line[3] !== d.field))
    throw new Hl7Error('HL7_SEGMENT_INVALID', `segment ${position} has no valid segment id`, {
      segment: SEGMENT_ID.test(id) ? id : '???',
      sequence: 0,
    });
  const sequence = (seen.get(id) ?? 0) + 1;
  seen.set(id, sequence);
  if (id === 'MSH' && position !== 1)
    throw new Hl7Error('HL7_SEGMENT_INVALID', 'MSH may only be the first segment', { segment: id, sequence });
  const raw = line.split(d.field);
  if (raw.length > maxFields + 1)
    throw new Hl7Error('HL7_MESSAGE_TOO_LARGE', `segment ${position} has more than ${maxFields} fields`, {
      segment: id,
      sequence,
    });
  const fields: (Hl7Field | undefined)[] = [undefined];
  if (id === 'MSH') {
    // MSH-1 is the field separator itself and MSH-2 the encoding characters: neither is split
    // nor unescaped (§2.5.4). raw[1] is MSH-2, raw[2] is MSH-3, ...
    fields.push([[[d.field]]], [[[raw[1] ?? '']]]);
    for (let n = 2; n < raw.length; n++)
      fields.push(parseField(raw[n]!, d, { segment: id, sequence, field: n + 1 }));
  } else {
    for (let n = 1; n < raw.length; n++)
      fields.push(parseField(raw[n]!, d, { segment: id, sequence, field: n }));
  }
  return { id, position, sequence, fields };
}

function parseField(raw: string, d: Delimiters, at: Hl7Location): Hl7Field | undefined {
  if (raw.length === 0) return undefined;
  // Most fields are one plain value: no need to split three times.
  if (
    !raw.includes(d.component) &&
    !raw.includes(d.repetition) &&
    !raw.includes(d.subcomponent) &&
    !raw.includes(d.escape)
  )
    return [[[raw]]];
  const reps = raw.split(d.repetition);
  return reps.map((rep, r) =>
    rep
      .split(d.component)
      .map((component, c) =>
        component
          .split(d.subcomponent)
          .map((value, s) =>
            value.includes(d.escape)
              ? decodeEscapes(value, d, { ...at, repetition: r + 1, component: c + 1, subcomponent: s + 1 })
              : value,
          ),
      ),
  );
}

/** Segments with the given id, in order. */
export function segmentsOf(message: Hl7Message, id: string): Hl7Segment[] {
  return message.segments.filter((s) => s.id === id);
}

/**
 * One decoded value: `value(seg, 9, 1, 2)` is MSH-9.2 of the first repetition (all positions
 * 1-based, as HL7 writes them). Empty string when absent.
 */
export function value(
  segment: Hl7Segment,
  field: number,
  component = 1,
  subcomponent = 1,
  repetition = 1,
): string {
  return segment.fields[field]?.[repetition - 1]?.[component - 1]?.[subcomponent - 1] ?? '';
}

/** Number of repetitions of a field (0 when absent). */
export function repetitions(segment: Hl7Segment, field: number): number {
  return segment.fields[field]?.length ?? 0;
}
