import { vitalFor } from '../telemetry/index.js';
import { parseDtm } from './dtm.js';
import { Hl7Error, type Hl7Location, type Hl7Message, type Hl7Segment, repetitions, value } from './er7.js';
import { ucumForMdcUnit } from './mdc-units.js';

/** The MSH facts every answer needs, read before anything else (HL7 v2.6 §2.14.9). */
export interface Hl7Header {
  /** MSH-10, the sender's message control id. */
  controlId: string;
  /** MSH-7, Unix ms. */
  sentAt: number;
  /** MSH-9 as sent, e.g. ORU^R01^ORU_R01. */
  messageType: string;
  /** MSH-12. */
  version: string;
}

/** One numeric observation of a PCD-01 message, in the telemetry code table's terms. */
export interface Pcd01Observation {
  system: 'MDC' | 'LOINC';
  code: string;
  value: number;
  /** UCUM unit (MDC units are translated). */
  unit: string;
  /** Observation time, Unix ms: OBX-14, else the nearest enclosing OBX's, else OBR-7, else MSH-7. */
  ts: number;
  /** Where the OBX is, for an ERR segment. */
  location: Hl7Location;
}

/** The observations of one device (an IEEE 11073 MDS named by its EUI-64 in OBX-18). */
export interface Pcd01Device {
  /** 16 upper-case hex digits. */
  eui64: string;
  /** PID-3 identifiers (CX.1 of every repetition) of the patient the observations are about. */
  patientIds: string[];
  /** The PID-3 they come from. */
  patientLocation: Hl7Location;
  observations: Pcd01Observation[];
  /** The OBX-18 that named the device. */
  location: Hl7Location;
}

export interface Pcd01Report {
  header: Hl7Header;
  devices: Pcd01Device[];
  /** OBX rows with values that are not stored: non-numeric types (CWE, DTM, NA waveforms...). */
  notStored: number;
}

/** Result statuses (OBX-11, HL7 table 0085) of values that are not to be stored. */
const NOT_RESULTS = new Set(['X', 'D', 'W', 'N', 'I', 'O']);
/** HL7 NM: optional sign, digits with an optional decimal point (v2.6 §2.A.47). */
const NM = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;
/** OBX-4 as PCD-01 writes it: up to eight dot-separated numbers ("1.0.1.1"). */
const OBX_SUB_ID = /^\d{1,10}(?:\.\d{1,10}){0,7}$/;
/** MSH-10 (ST): printable text; control characters have no place in an identifier (and PostgreSQL text refuses NUL). */
const CONTROL = /\p{Cc}/u;
const SUPPORTED_VERSION = /^2\.(?:5(?:\.1)?|6|7(?:\.1)?|8(?:\.[12])?|9)$/;

const at = (s: Hl7Segment, field?: number, component?: number): Hl7Location => ({
  segment: s.id,
  sequence: s.sequence,
  ...(field === undefined ? {} : { field }),
  ...(component === undefined ? {} : { component }),
});

/**
 * Reads and checks MSH (HL7 v2.6 §2.14.9): ORU^R01, a control id, processing id P, a v2.5+
 * version and a message time. Throws Hl7Error with the location of the first problem.
 */
export function readHeader(message: Hl7Message): Hl7Header {
  const msh = message.segments[0]!;
  const controlId = value(msh, 10);
  if (!controlId)
    throw new Hl7Error('HL7_REQUIRED_FIELD', 'MSH-10 (message control id) is required', at(msh, 10));
  if (controlId.length > 199) throw new Hl7Error('HL7_DATA_TYPE', 'MSH-10 is too long', at(msh, 10));
  // One plain value: two messages whose ids differ after a separator must not share a receipt.
  const field = msh.fields[10]!;
  if (field.length > 1 || field[0]!.length > 1 || field[0]![0]!.length > 1)
    throw new Hl7Error('HL7_DATA_TYPE', 'MSH-10 must be one value, without separators', at(msh, 10));
  if (CONTROL.test(controlId))
    throw new Hl7Error('HL7_DATA_TYPE', 'MSH-10 must not hold control characters', at(msh, 10));
  const type = value(msh, 9, 1);
  const event = value(msh, 9, 2);
  if (type !== 'ORU')
    throw new Hl7Error('HL7_MESSAGE_TYPE_UNSUPPORTED', 'only ORU messages are accepted', at(msh, 9, 1));
  if (event !== 'R01')
    throw new Hl7Error('HL7_EVENT_UNSUPPORTED', 'only the R01 event is accepted', at(msh, 9, 2));
  if (value(msh, 11) !== 'P')
    throw new Hl7Error('HL7_PROCESSING_ID_UNSUPPORTED', 'MSH-11 must be P (production)', at(msh, 11));
  const version = value(msh, 12);
  if (!SUPPORTED_VERSION.test(version))
    throw new Hl7Error('HL7_VERSION_UNSUPPORTED', 'MSH-12 must be HL7 v2.5 or later', at(msh, 12));
  const rawTime = value(msh, 7);
  if (!rawTime) throw new Hl7Error('HL7_REQUIRED_FIELD', 'MSH-7 (message time) is required', at(msh, 7));
  const sentAt = parseDtm(rawTime, 12);
  if (sentAt === undefined) throw new Hl7Error('HL7_DATA_TYPE', 'MSH-7 is not a valid DTM', at(msh, 7));
  const messageType = [type, event, value(msh, 9, 3)].filter(Boolean).join('^');
  return { controlId, sentAt, messageType, version };
}

/** EI with an EUI-64 (OBX-18, IHE PCD TF-2 Appendix: `0123456789ABCDEF^EUI-64`). */
function eui64Of(s: Hl7Segment): string | undefined {
  for (let r = 1; r <= repetitions(s, 18); r++) {
    const id = value(s, 18, 1, 1, r);
    const namespace = value(s, 18, 2, 1, r);
    const universal = value(s, 18, 3, 1, r);
    const type = value(s, 18, 4, 1, r);
    const candidate = namespace === 'EUI-64' ? id : type === 'EUI-64' ? universal : undefined;
    if (candidate === undefined) continue;
    const hex = normaliseEui64(candidate);
    if (!hex) throw new Hl7Error('HL7_DATA_TYPE', 'OBX-18 is not a valid EUI-64', at(s, 18));
    return hex;
  }
  return undefined;
}

/** An EUI-64 as 16 upper-case hex digits (accepts `-` or `:` separated octets), or undefined. */
export function normaliseEui64(text: string): string | undefined {
  const hex = /^[0-9A-Fa-f]{16}$/.test(text)
    ? text
    : /^[0-9A-Fa-f]{2}([-:])(?:[0-9A-Fa-f]{2}\1){6}[0-9A-Fa-f]{2}$/.test(text)
      ? text.replace(/[-:]/g, '')
      : undefined;
  return hex?.toUpperCase();
}

/** The parent of an OBX-4 sub-id in the MDS.VMD.CHAN.METRIC hierarchy ("1.0.1.1" -> "1.0.1"). */
const parentOf = (subId: string) => {
  const dot = subId.lastIndexOf('.');
  return dot < 0 ? undefined : subId.slice(0, dot);
};

function unitOf(s: Hl7Segment): string {
  const code = value(s, 6, 1);
  const system = value(s, 6, 3);
  if (!code) throw new Hl7Error('HL7_REQUIRED_FIELD', 'OBX-6 (units) is required for NM values', at(s, 6));
  if (system === 'MDC' || system === '') {
    const ucum = ucumForMdcUnit(code);
    if (ucum) return ucum;
    if (system === 'MDC')
      throw new Hl7Error('HL7_UNIT_UNKNOWN', 'OBX-6 names an unknown MDC unit', at(s, 6, 1));
  }
  if (system === 'UCUM' || system === '') return code;
  throw new Hl7Error('HL7_UNIT_UNKNOWN', 'OBX-6 must be an MDC or UCUM unit', at(s, 6, 3));
}

function timeOf(s: Hl7Segment, field: number): number | undefined {
  const raw = value(s, field);
  if (!raw) return undefined;
  const t = parseDtm(raw, 12);
  if (t === undefined)
    throw new Hl7Error('HL7_DATA_TYPE', `${s.id}-${field} is not a valid DTM`, at(s, field));
  return t;
}

/**
 * Maps an IHE PCD-01 (DEC) ORU^R01 message to numeric observations per device (IHE PCD TF-2
 * §3.1 and Appendix B): PID-3 names the patient; each OBR opens an order group whose OBX rows
 * form the IEEE 11073 containment tree through OBX-4 (MDS "1", VMD "1.0", channel "1.0.1",
 * metric "1.0.1.1"); OBX-18 on a row names the device (EUI-64) for that row and its subtree.
 * NM rows must carry a code from the telemetry code table (OBX-3, MDC or LOINC) and a unit
 * (OBX-6, MDC or UCUM). Rows without a value (the tree itself) and non-numeric rows (CWE
 * settings, DTM clocks, NA waveforms) are not stored. Throws Hl7Error at the first problem.
 */
export function mapPcd01(message: Hl7Message, header: Hl7Header = readHeader(message)): Pcd01Report {
  // ORU^R01 repeats PATIENT_RESULT groups: each PID applies to the order groups after it.
  let pid: Hl7Segment | undefined;
  let patientIds: string[] = [];

  const devices = new Map<string, Pcd01Device>();
  let notStored = 0;
  let obr: Hl7Segment | undefined;
  let obrTime: number | undefined;
  // Per order group: the device and time each OBX-4 sub-id established for its subtree.
  let deviceOfSubId = new Map<string, string>();
  let timeOfSubId = new Map<string, number>();
  let lastDevice: string | undefined;
  const namedAt = new Map<string, Hl7Location>();

  for (const s of message.segments) {
    if (s.id === 'PID') {
      pid = s;
      patientIds = [];
      for (let r = 1; r <= repetitions(s, 3); r++) {
        const id = value(s, 3, 1, 1, r).trim();
        if (id) patientIds.push(id);
      }
      if (patientIds.length === 0)
        throw new Hl7Error('HL7_REQUIRED_FIELD', 'PID-3 (patient identifier) is required', at(s, 3));
      obr = undefined;
      continue;
    }
    if (s.id === 'OBR') {
      if (!pid) throw new Hl7Error('HL7_SEGMENT_SEQUENCE', 'PID is required before OBR', at(s));
      obr = s;
      obrTime = timeOf(s, 7);
      deviceOfSubId = new Map();
      timeOfSubId = new Map();
      lastDevice = undefined;
      continue;
    }
    if (s.id !== 'OBX') continue;
    if (!obr) throw new Hl7Error('HL7_SEGMENT_SEQUENCE', 'OBX must follow an OBR', at(s));
    const subId = value(s, 4);
    // IEEE 11073 containment (MDS.VMD.CHAN.METRIC, PCD TF-2 Appendix B.8), with room to spare:
    // anything else would only make the parent walk below quadratic in the sub-id's length.
    if (subId && !OBX_SUB_ID.test(subId))
      throw new Hl7Error('HL7_DATA_TYPE', 'OBX-4 is not a dotted 11073 containment sub-id', at(s, 4));
    const own = eui64Of(s);
    const ownTime = timeOf(s, 14);
    if (own && !namedAt.has(own)) namedAt.set(own, at(s, 18));
    if (subId && own) deviceOfSubId.set(subId, own);
    if (subId && ownTime !== undefined) timeOfSubId.set(subId, ownTime);
    let device = own;
    let ts = ownTime;
    for (let p = subId ? parentOf(subId) : undefined; p && (!device || ts === undefined); p = parentOf(p)) {
      device ??= deviceOfSubId.get(p);
      ts ??= timeOfSubId.get(p);
    }
    // A flat message without sub-ids: the device named last in this order group.
    device ??= lastDevice;
    if (own) lastDevice = own;

    const type = value(s, 2);
    const raw = value(s, 5);
    if (!type && !raw) continue; // a node of the containment tree, no value
    if (NOT_RESULTS.has(value(s, 11))) continue;
    if (type !== 'NM') {
      notStored++;
      continue;
    }
    if (!raw) throw new Hl7Error('HL7_REQUIRED_FIELD', 'OBX-5 is required for NM values', at(s, 5));
    if (!NM.test(raw) || repetitions(s, 5) > 1)
      throw new Hl7Error('HL7_DATA_TYPE', 'OBX-5 is not a valid NM value', at(s, 5));
    const codeSystem = value(s, 3, 3);
    const code = value(s, 3, 1);
    if (!code) throw new Hl7Error('HL7_REQUIRED_FIELD', 'OBX-3 (observation code) is required', at(s, 3));
    const system = codeSystem === 'MDC' ? 'MDC' : codeSystem === 'LN' ? 'LOINC' : undefined;
    if (!system || !vitalFor(system, code))
      throw new Hl7Error('HL7_UNKNOWN_CODE', 'OBX-3 is not a known MDC or LOINC code', at(s, 3, 1));
    const unit = unitOf(s);
    if (!device)
      throw new Hl7Error('HL7_REQUIRED_FIELD', 'no OBX-18 (EUI-64) names the device of this OBX', at(s, 18));
    let entry = devices.get(device);
    if (!entry) {
      entry = {
        eui64: device,
        patientIds,
        patientLocation: at(pid!, 3),
        observations: [],
        location: namedAt.get(device) ?? at(s, 18),
      };
      devices.set(device, entry);
    } else if (entry.patientIds !== patientIds)
      throw new Hl7Error('HL7_PATIENT_MISMATCH', 'one device reported for two patients', at(pid!, 3));
    entry.observations.push({
      system,
      code,
      value: Number(raw),
      unit,
      ts: ts ?? obrTime ?? header.sentAt,
      location: at(s),
    });
  }
  if (!pid) throw new Hl7Error('HL7_SEGMENT_SEQUENCE', 'PID is required', { segment: 'PID', sequence: 0 });
  return {
    header,
    devices: [...devices.values()],
    notStored,
  };
}
