/**
 * Adds the error side of every operation to the OpenAPI document: each answers RFC 9457
 * `application/problem+json` with a stable `code` (src/errors.ts) for 4XX and 5XX, and each
 * authenticated operation names 401 (no or bad credentials) and 403 (denied) explicitly. The route
 * schemas describe success only (they also drive serialisation), so this is added to the document.
 */
import { ERRORS } from '../errors.js';

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' };

/** RFC 9457 §3 members, plus Pulsegate's stable code and field errors. */
const PROBLEM_SCHEMA = {
  type: 'object',
  required: ['type', 'title', 'status', 'code'],
  properties: {
    type: { type: 'string', format: 'uri', description: 'urn:pulsegate:problem:<code>' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    code: { type: 'string', enum: Object.keys(ERRORS), description: 'stable error code' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        properties: { pointer: { type: 'string' }, problem: { type: 'string' } },
      },
    },
  },
};

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: PROBLEM_REF } },
});

type Operation = { security?: unknown[]; responses?: Record<string, unknown>; 'x-error-body'?: string };

/** Refusals in HL7's own format: the ACK with MSA AE or AR and an ERR segment naming the problem. */
const HL7_ACK_REFUSAL = {
  description: 'Refused: the HL7 ACK (MSA-1 AE or AR) with an ERR segment, status per the refusal code',
  content: { 'x-application/hl7-v2+er7': { schema: { type: 'string' } } },
};

export function withProblemResponses<T extends object>(doc: T): T {
  const out = structuredClone(doc) as T & {
    paths?: Record<string, Record<string, Operation>>;
    components?: { schemas?: Record<string, unknown> };
  };
  out.components = { ...out.components, schemas: { ...out.components?.schemas, Problem: PROBLEM_SCHEMA } };
  for (const item of Object.values(out.paths ?? {})) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const responses = { ...op.responses };
      const errorBody = op['x-error-body'];
      delete op['x-error-body'];
      // An operation that documents its own 4xx (the OAuth token endpoint: RFC 6749 §5.2) keeps them.
      const own4xx = Object.keys(responses).some((status) => status.startsWith('4'));
      if (!own4xx) {
        if (op.security?.length) {
          responses['401'] ??= problem('Not authenticated (AUTH_REQUIRED, AUTH_TOKEN_INVALID, ...)');
          responses['403'] ??= problem('Denied by role, scope, care unit or vendor window (ACCESS_*)');
        }
        responses['4XX'] ??=
          errorBody === 'hl7-ack'
            ? HL7_ACK_REFUSAL
            : problem('Refused: bad input, not found, conflict, rate limited');
      }
      responses['5XX'] ??= problem('Server or dependency failure (INTERNAL, NOT_READY)');
      op.responses = responses;
    }
  }
  return out;
}
