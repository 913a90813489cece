import { ERRORS, type ErrorCode, isPulsegateError } from '../errors.js';
import type { AckCode, AckError } from './ack.js';
import type { Hl7Location } from './er7.js';

/** HL7 table 0357 code and acknowledgment for each of our refusal codes. */
const HL7_CODES: Partial<Record<ErrorCode, { hl7: number; ack: AckCode }>> = {
  HL7_MSH_MISSING: { hl7: 100, ack: 'AR' },
  HL7_ENCODING_INVALID: { hl7: 102, ack: 'AR' },
  HL7_SEGMENT_INVALID: { hl7: 100, ack: 'AR' },
  HL7_ESCAPE_INVALID: { hl7: 102, ack: 'AE' },
  HL7_MESSAGE_TOO_LARGE: { hl7: 207, ack: 'AR' },
  HL7_MESSAGE_TYPE_UNSUPPORTED: { hl7: 200, ack: 'AR' },
  HL7_EVENT_UNSUPPORTED: { hl7: 201, ack: 'AR' },
  HL7_PROCESSING_ID_UNSUPPORTED: { hl7: 202, ack: 'AR' },
  HL7_VERSION_UNSUPPORTED: { hl7: 203, ack: 'AR' },
  HL7_SEGMENT_SEQUENCE: { hl7: 100, ack: 'AE' },
  HL7_REQUIRED_FIELD: { hl7: 101, ack: 'AE' },
  HL7_DATA_TYPE: { hl7: 102, ack: 'AE' },
  HL7_UNKNOWN_CODE: { hl7: 103, ack: 'AE' },
  HL7_UNIT_UNKNOWN: { hl7: 103, ack: 'AE' },
  HL7_DEVICE_NOT_OWNED: { hl7: 204, ack: 'AE' },
  HL7_PATIENT_MISMATCH: { hl7: 204, ack: 'AE' },
  HL7_RETRY: { hl7: 207, ack: 'AR' },
  TELEMETRY_UNKNOWN_CODE: { hl7: 103, ack: 'AE' },
  TELEMETRY_UNIT_MISMATCH: { hl7: 103, ack: 'AE' },
  TELEMETRY_IMPOSSIBLE_VALUE: { hl7: 102, ack: 'AE' },
  TELEMETRY_CLOCK_SKEW: { hl7: 102, ack: 'AE' },
  TELEMETRY_SCHEMA: { hl7: 102, ack: 'AE' },
  INGEST_RATE_LIMITED: { hl7: 207, ack: 'AR' },
  INGEST_DEVICE_NOT_ACTIVE: { hl7: 204, ack: 'AE' },
};

/** How a refusal is acknowledged: AE for content the sender must fix, AR for rejections and retries. */
export function ackFor(
  code: ErrorCode,
  detail?: string,
  location?: Hl7Location,
): { ack: AckCode; error: AckError } {
  const m = HL7_CODES[code] ?? { hl7: 207, ack: 'AR' as const };
  return {
    ack: m.ack,
    error: {
      hl7Code: m.hl7,
      code,
      message: detail ?? ERRORS[code].message,
      ...(location ? { location } : {}),
    },
  };
}

/** The acknowledgment for anything thrown while handling a message (unknown errors are AR 207). */
export function ackForError(error: unknown): { ack: AckCode; error: AckError; code: ErrorCode } {
  if (isPulsegateError(error)) {
    const location = (error as { location?: Hl7Location }).location;
    return { ...ackFor(error.code, error.detail, location), code: error.code };
  }
  return { ...ackFor('INTERNAL'), code: 'INTERNAL' };
}
