/**
 * FHIR errors are OperationOutcome resources (FHIR R4 §3.1.0.1.9 "http.html#summary"), never
 * problem+json. Each issue carries our stable code in `details.coding` so clients (and tests) can
 * match on it; the text is the registry's safe message.
 */
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { ERRORS, type ErrorCode, type PulsegateError } from '../errors.js';

/** The code system of Pulsegate's stable error codes inside OperationOutcome.issue.details. */
export const ERROR_CODE_SYSTEM = 'urn:pulsegate:error-code';

type IssueType = OperationOutcomeIssue['code'];

/** The FHIR issue-type for an HTTP status and our code (R4 value set issue-type). */
function issueType(error: PulsegateError): IssueType {
  const code = error.code;
  if (code === 'FHIR_PARAM_UNKNOWN') return 'not-supported';
  if (code === 'FHIR_FORMAT_UNSUPPORTED') return 'not-supported';
  if (code === 'FHIR_JSON_INVALID' || code === 'MALFORMED_JSON') return 'structure';
  if (code === 'FHIR_PATIENT_EXISTS') return 'duplicate';
  if (code === 'FHIR_VERSION_CONFLICT') return 'conflict';
  if (code === 'AUTH_TOKEN_EXPIRED') return 'expired';
  if (code.startsWith('AUTH_')) return 'login';
  if (code.startsWith('ACCESS_')) return 'forbidden';
  if (error.status === 404) return 'not-found';
  if (error.status === 413) return 'too-long';
  if (error.status === 429) return 'throttled';
  if (error.status === 409) return 'conflict';
  if (error.status >= 500) return 'exception';
  if (error.status === 422 || code.startsWith('TELEMETRY_')) return 'business-rule';
  return 'invalid';
}

/** An OperationOutcome for an error: one issue per field problem, or one for the whole error. */
export function outcomeFor(error: PulsegateError): OperationOutcome {
  const base = {
    severity: error.status >= 500 ? ('fatal' as const) : ('error' as const),
    code: issueType(error),
    details: {
      coding: [{ system: ERROR_CODE_SYSTEM, code: error.code }],
      text: ERRORS[error.code].message,
    },
  };
  const fields = error.fields ?? [];
  const issue: OperationOutcomeIssue[] =
    fields.length > 0
      ? fields.map((f) => ({ ...base, diagnostics: `${f.pointer}: ${f.problem}`, expression: [f.pointer] }))
      : [
          {
            ...base,
            ...(error.detail && error.detail !== base.details.text ? { diagnostics: error.detail } : {}),
          },
        ];
  return { resourceType: 'OperationOutcome', issue };
}

/** An informational outcome (e.g. the parameters a lenient search ignored). */
export function informationOutcome(messages: readonly string[]): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: messages.map((m) => ({ severity: 'warning', code: 'not-supported', diagnostics: m })),
  };
}

/** The stable code in an OperationOutcome we produced (first issue), for tests and clients. */
export function outcomeCode(outcome: OperationOutcome): ErrorCode | undefined {
  return outcome.issue?.[0]?.details?.coding?.find((c) => c.system === ERROR_CODE_SYSTEM)?.code as
    | ErrorCode
    | undefined;
}
