import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS, type ErrorCode, type FieldProblem, PulsegateError } from '../errors.js';

/** RFC 9457 problem details, with Pulsegate's stable `code`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail?: string;
  instance?: string;
  errors?: FieldProblem[];
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** Problem `type` URIs are URNs: stable identifiers that do not pretend to be fetchable pages. */
export function problemType(code: ErrorCode): string {
  return `urn:pulsegate:problem:${code.toLowerCase().replaceAll('_', '-')}`;
}

/**
 * Maps anything thrown in a request to a PulsegateError. Fastify's own errors (body parsing,
 * validation, limits) become their stable codes; anything unknown becomes INTERNAL and keeps
 * its cause only for the server log.
 */
export function toPulsegateError(error: unknown): PulsegateError {
  if (error instanceof PulsegateError) return error;
  const e = error as FastifyError & {
    validation?: Array<{ instancePath: string; message?: string; params?: Record<string, unknown> }>;
    validationContext?: string;
  };
  if (e?.validation) {
    const fields = e.validation.map((v) => ({
      pointer: `${e.validationContext ?? 'body'}${v.instancePath || ''}${v.params?.additionalProperty ? `/${v.params.additionalProperty}` : ''}`,
      problem: v.params?.additionalProperty ? 'unknown field' : (v.message ?? 'invalid'),
    }));
    return new PulsegateError('VALIDATION_FAILED', `${fields.length} field(s) failed validation`, { fields });
  }
  switch (e?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PulsegateError('PAYLOAD_TOO_LARGE');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new PulsegateError('UNSUPPORTED_MEDIA_TYPE');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new PulsegateError('MALFORMED_JSON');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new PulsegateError('VALIDATION_FAILED', 'Content-Length does not match the body');
    default:
      break;
  }
  if (e instanceof SyntaxError && (e as FastifyError).statusCode === 400)
    return new PulsegateError('MALFORMED_JSON');
  if (e?.statusCode === 429) return new PulsegateError('RATE_LIMITED');
  if (e?.statusCode === 404) return new PulsegateError('NOT_FOUND');
  if (e?.statusCode === 405) return new PulsegateError('METHOD_NOT_ALLOWED');
  if (e?.statusCode === 415) return new PulsegateError('UNSUPPORTED_MEDIA_TYPE');
  if (e?.statusCode === 413) return new PulsegateError('PAYLOAD_TOO_LARGE');
  if (e?.statusCode === 400) return new PulsegateError('VALIDATION_FAILED', 'The request is malformed');
  return new PulsegateError('INTERNAL', undefined, { cause: error });
}

export function problemFor(error: PulsegateError, instance?: string): Problem {
  const problem: Problem = {
    type: problemType(error.code),
    title: ERRORS[error.code].message,
    status: error.status,
    code: error.code,
  };
  if (error.detail && error.detail !== problem.title) problem.detail = error.detail;
  if (instance) problem.instance = instance;
  if (error.fields?.length) problem.errors = [...error.fields];
  return problem;
}

/** Sends a problem+json reply. `instance` is the request id, never the URL (it may carry identifiers). */
export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  error: PulsegateError,
): FastifyReply {
  if (error.code === 'AUTH_REQUIRED' || error.status === 401) reply.header('www-authenticate', 'Bearer');
  return reply
    .status(error.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(problemFor(error, `urn:uuid:${request.id}`));
}
