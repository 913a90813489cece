/** HL7 v2: the ER7 parser, the IHE PCD-01 ORU^R01 mapper and the ACK builder. */
export { type AckCode, type AckError, type AckOptions, buildAck } from './ack.js';
export { formatDtm, parseDtm } from './dtm.js';
export {
  type Delimiters,
  Hl7Error,
  type Hl7Field,
  type Hl7Location,
  type Hl7Message,
  type Hl7Segment,
  type ParseLimits,
  parseEr7,
  repetitions,
  segmentsOf,
  value,
} from './er7.js';
export { decodeEscapes, encodeEscapes } from './escape.js';
export { ucumForMdcUnit } from './mdc-units.js';
export {
  type Hl7Header,
  mapPcd01,
  normaliseEui64,
  type Pcd01Device,
  type Pcd01Observation,
  type Pcd01Report,
  readHeader,
} from './pcd01.js';
export { ackFor, ackForError } from './refusal.js';
