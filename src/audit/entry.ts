/**
 * What one audit entry holds. Only references (ids, types, codes) and hashes, never PHI values:
 * crypto-shredding a patient's data key must never make the log unverifiable.
 */
import { isIP } from 'node:net';
import { type FieldProblem, PulsegateError } from '../errors.js';
import { canonicalJson, type JsonValue, jcsString } from './canonical-json.js';

export const ACTOR_TYPES = ['user', 'client', 'device', 'system', 'anonymous'] as const;
export const OUTCOMES = ['success', 'failure', 'denied'] as const;

export type ActorType = (typeof ACTOR_TYPES)[number];
export type AuditOutcome = (typeof OUTCOMES)[number];

/** Who acted. `name` is a workforce identifier (username, client name), never a patient's. */
export interface AuditActor {
  type: ActorType;
  id?: string;
  name?: string;
  role?: string;
}

/** What was touched, by reference. */
export interface AuditResource {
  type: string;
  id?: string;
}

/** One event as callers report it; the log adds `seq` and `time`. */
export interface AuditEventInput {
  actor: AuditActor;
  /** Dotted verb such as `auth.login`, `access.denied`, `user.create`, `patient.read`. */
  action: string;
  resource?: AuditResource;
  outcome: AuditOutcome;
  /** A short safe explanation (never PHI). */
  reason?: string;
  /** A stable error code from src/errors.ts when the outcome is not success. */
  code?: string;
  /** The client's IP address. */
  source?: string;
  /** Set when the access happened under a break-glass session. */
  breakGlass?: boolean;
  requestId?: string;
}

/** A stored entry: the event, its 0-based leaf index and when it was sequenced (ISO 8601 UTC, ms). */
export interface AuditEntry extends AuditEventInput {
  seq: number;
  time: string;
}

export const ACTION_PATTERN = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/;
const RESOURCE_TYPE = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
const TOKEN = /^[\x21-\x7e]{1,128}$/;

function text(
  problems: FieldProblem[],
  pointer: string,
  value: unknown,
  max: number,
  required = false,
): void {
  if (value === undefined && !required) return;
  if (typeof value !== 'string' || value.length === 0 || value.length > max || value.includes('\u0000')) {
    problems.push({ pointer, problem: `must be a non-empty string of at most ${max} characters` });
  }
}

/** Checks an event and returns a copy holding only the known fields; throws VALIDATION_FAILED. */
export function validateEvent(event: AuditEventInput): AuditEventInput {
  const problems: FieldProblem[] = [];
  const e = (event ?? {}) as Partial<AuditEventInput>;
  const actor = e.actor as Partial<AuditActor> | undefined;
  if (typeof actor !== 'object' || actor === null) {
    problems.push({ pointer: '/actor', problem: 'is required' });
  } else {
    if (!ACTOR_TYPES.includes(actor.type as ActorType)) {
      problems.push({ pointer: '/actor/type', problem: `must be one of ${ACTOR_TYPES.join(', ')}` });
    }
    text(problems, '/actor/id', actor.id, 200);
    text(problems, '/actor/name', actor.name, 200);
    text(problems, '/actor/role', actor.role, 64);
  }
  if (typeof e.action !== 'string' || e.action.length > 100 || !ACTION_PATTERN.test(e.action)) {
    problems.push({ pointer: '/action', problem: 'must be a dotted lower-case verb such as user.create' });
  }
  if (e.resource !== undefined) {
    if (
      typeof e.resource !== 'object' ||
      e.resource === null ||
      !RESOURCE_TYPE.test(String(e.resource.type))
    ) {
      problems.push({ pointer: '/resource/type', problem: 'must be a resource type name' });
    } else {
      text(problems, '/resource/id', e.resource.id, 200);
    }
  }
  if (!OUTCOMES.includes(e.outcome as AuditOutcome)) {
    problems.push({ pointer: '/outcome', problem: `must be one of ${OUTCOMES.join(', ')}` });
  }
  text(problems, '/reason', e.reason, 1000);
  if (e.code !== undefined && (typeof e.code !== 'string' || !CODE.test(e.code))) {
    problems.push({ pointer: '/code', problem: 'must be an error code such as ACCESS_DENIED' });
  }
  if (e.source !== undefined && (typeof e.source !== 'string' || isIP(e.source) === 0)) {
    problems.push({ pointer: '/source', problem: 'must be an IP address' });
  }
  if (e.breakGlass !== undefined && typeof e.breakGlass !== 'boolean') {
    problems.push({ pointer: '/breakGlass', problem: 'must be a boolean' });
  }
  if (e.requestId !== undefined && (typeof e.requestId !== 'string' || !TOKEN.test(e.requestId))) {
    problems.push({ pointer: '/requestId', problem: 'must be 1-128 printable ASCII characters' });
  }
  if (problems.length > 0) {
    throw new PulsegateError('VALIDATION_FAILED', 'The audit event is not valid', { fields: problems });
  }
  const a = actor as AuditActor;
  return {
    actor: { type: a.type, id: a.id, name: a.name, role: a.role },
    action: e.action!,
    resource: e.resource ? { type: e.resource.type, id: e.resource.id } : undefined,
    outcome: e.outcome!,
    reason: e.reason,
    code: e.code,
    source: e.source,
    breakGlass: e.breakGlass,
    requestId: e.requestId,
  };
}

/** The canonical bytes (RFC 8785) of an entry: what the leaf hash covers. */
export function encodeEntry(entry: AuditEntry): string {
  return canonicalJson(entry as unknown as JsonValue);
}

/**
 * `encodeEntry` of a validated event, split around the parts only the sequencer knows: the JCS
 * text before the `seq` value and the text between `seq` and `time`. The keys below are in the
 * RFC 8785 order (UTF-16 code units) of every field `validateEvent` keeps, so the result is
 * byte-identical to `canonicalJson` (a property test checks it) without sorting keys per entry.
 */
export interface EncodedEvent {
  readonly head: string;
  readonly middle: string;
}

/** Splits the canonical form of a validated event around `seq` and `time` (see EncodedEvent). */
export function encodeEvent(e: AuditEventInput): EncodedEvent {
  let head = `{"action":${jcsString(e.action)},"actor":{`;
  const a = e.actor;
  let sep = '';
  if (a.id !== undefined) {
    head += `"id":${jcsString(a.id)}`;
    sep = ',';
  }
  if (a.name !== undefined) {
    head += `${sep}"name":${jcsString(a.name)}`;
    sep = ',';
  }
  if (a.role !== undefined) {
    head += `${sep}"role":${jcsString(a.role)}`;
    sep = ',';
  }
  head += `${sep}"type":${jcsString(a.type)}}`;
  if (e.breakGlass !== undefined) head += `,"breakGlass":${e.breakGlass ? 'true' : 'false'}`;
  if (e.code !== undefined) head += `,"code":${jcsString(e.code)}`;
  head += `,"outcome":${jcsString(e.outcome)}`;
  if (e.reason !== undefined) head += `,"reason":${jcsString(e.reason)}`;
  if (e.requestId !== undefined) head += `,"requestId":${jcsString(e.requestId)}`;
  if (e.resource !== undefined) {
    head += `,"resource":{${e.resource.id === undefined ? '' : `"id":${jcsString(e.resource.id)},`}"type":${jcsString(e.resource.type)}}`;
  }
  head += ',"seq":';
  const middle = e.source === undefined ? ',"time":' : `,"source":${jcsString(e.source)},"time":`;
  return { head, middle };
}

/** The canonical bytes of the entry for `encoded` at `seq` and `time` (an ISO 8601 string). */
export function joinEncoded(encoded: EncodedEvent, seq: number, time: string): string {
  // An ISO 8601 timestamp needs no JSON escaping.
  return `${encoded.head}${seq}${encoded.middle}"${time}"}`;
}

/** Parses stored entry bytes back into an entry. */
export function decodeEntry(bytes: string): AuditEntry {
  return JSON.parse(bytes) as AuditEntry;
}
