import type { Delimiters, Hl7Location } from './er7.js';
import { Hl7Error } from './er7.js';

/** Longest escape sequence we decode (a \X..\ hex run is bounded by its value anyway). */
const FORMATTING = new Set(['H', 'N', '.fi', '.nf', '.sk', '.ce']);

/**
 * Resolves the escape sequences of one value (HL7 v2.6 §2.7): \F\ \S\ \T\ \R\ \E\ become the
 * separators they stand for, \Xhh..\ the bytes it encodes (as UTF-8), \.br\ and \.sp\ a line
 * break; the display-only commands \H\ \N\ \.fi\ \.nf\ \.sk\ \.ce\ \.in±n\ \.ti±n\ are dropped.
 * An unterminated or unknown sequence is an error (HL7_ESCAPE_INVALID): a value is never
 * half-decoded. \Cxxyy\ and \Mxxyyzz\ (character-set switches) are refused: we read UTF-8 only.
 */
export function decodeEscapes(value: string, d: Delimiters, at: Hl7Location): string {
  let out = '';
  let i = 0;
  while (i < value.length) {
    const start = value.indexOf(d.escape, i);
    if (start < 0) {
      out += value.slice(i);
      break;
    }
    out += value.slice(i, start);
    const end = value.indexOf(d.escape, start + 1);
    if (end < 0) throw new Hl7Error('HL7_ESCAPE_INVALID', 'unterminated escape sequence', at);
    out += decodeOne(value.slice(start + 1, end), d, at);
    i = end + 1;
  }
  return out;
}

function decodeOne(seq: string, d: Delimiters, at: Hl7Location): string {
  switch (seq) {
    case 'F':
      return d.field;
    case 'S':
      return d.component;
    case 'T':
      return d.subcomponent;
    case 'R':
      return d.repetition;
    case 'E':
      return d.escape;
    case 'P':
      if (d.truncation) return d.truncation;
      break;
    case '.br':
    case '.sp':
      return '\n';
    default:
      if (FORMATTING.has(seq) || /^\.(in|ti)[+-]?\d{1,3}$/.test(seq) || /^\.sp\d{1,3}$/.test(seq)) return '';
      if (/^X(?:[0-9A-Fa-f]{2})+$/.test(seq)) return Buffer.from(seq.slice(1), 'hex').toString('utf8');
  }
  throw new Hl7Error('HL7_ESCAPE_INVALID', 'unknown escape sequence', at);
}

/** Escapes a value for an ER7 field (the separators and the escape character itself). */
export function encodeEscapes(value: string, d: Delimiters): string {
  let out = '';
  for (const c of value) {
    if (c === d.escape) out += `${d.escape}E${d.escape}`;
    else if (c === d.field) out += `${d.escape}F${d.escape}`;
    else if (c === d.component) out += `${d.escape}S${d.escape}`;
    else if (c === d.subcomponent) out += `${d.escape}T${d.escape}`;
    else if (c === d.repetition) out += `${d.escape}R${d.escape}`;
    else if (c === '\r' || c === '\n') out += `${d.escape}.br${d.escape}`;
    else out += c;
  }
  return out;
}
