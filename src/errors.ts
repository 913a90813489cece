/**
 * The registry of stable error codes. Every error that leaves Pulsegate (HTTP problem+json,
 * FHIR OperationOutcome, CLI exit message, MQTT reason) carries one of these codes. Messages are
 * safe by construction: they never contain PHI, secrets, tokens or key material, so a caller may
 * log or show them. Tests assert on the code, never on the prose.
 */
export const ERRORS = {
  // Generic request problems
  VALIDATION_FAILED: { status: 400, message: 'The request does not match the expected schema' },
  MALFORMED_JSON: { status: 400, message: 'The request body is not valid JSON' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'The request content type is not supported' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large' },
  NOT_FOUND: { status: 404, message: 'The resource was not found' },
  ROUTE_NOT_FOUND: { status: 404, message: 'No such route' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'The method is not allowed on this route' },
  CONFLICT: { status: 409, message: 'The resource already exists or changed concurrently' },
  RATE_LIMITED: { status: 429, message: 'Too many requests; retry later' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request was not received in time' },
  INTERNAL: { status: 500, message: 'An internal error occurred' },
  NOT_READY: { status: 503, message: 'The service is not ready' },

  // Authentication (messages stay generic on purpose: they must not help an attacker)
  AUTH_REQUIRED: { status: 401, message: 'Authentication is required' },
  AUTH_INVALID_CREDENTIALS: { status: 401, message: 'Invalid credentials' },
  AUTH_ACCOUNT_LOCKED: { status: 401, message: 'Invalid credentials' },
  AUTH_ACCOUNT_DISABLED: { status: 401, message: 'Invalid credentials' },
  AUTH_TOKEN_INVALID: { status: 401, message: 'The access token is not valid' },
  AUTH_TOKEN_EXPIRED: { status: 401, message: 'The access token has expired' },
  AUTH_TOKEN_ALGORITHM: { status: 401, message: 'The access token is not valid' },
  AUTH_TOKEN_AUDIENCE: { status: 401, message: 'The access token is not valid' },
  AUTH_TOKEN_REVOKED: { status: 401, message: 'The access token is not valid' },
  AUTH_CLIENT_INVALID: { status: 401, message: 'Client authentication failed' },
  AUTH_ASSERTION_REPLAYED: { status: 401, message: 'Client authentication failed' },
  AUTH_GRANT_UNSUPPORTED: { status: 400, message: 'The grant type is not supported' },
  AUTH_SCOPE_INVALID: { status: 400, message: 'The requested scope is not allowed' },

  // Authorisation
  ACCESS_DENIED: { status: 403, message: 'Access denied' },
  ACCESS_CARE_UNIT_DENIED: { status: 403, message: 'Access denied' },
  ACCESS_VENDOR_WINDOW_CLOSED: { status: 403, message: 'Access denied' },
  ACCESS_BREAK_GLASS_REFUSED: {
    status: 403,
    message:
      'Break-glass starts only from a signed-in session, not from an API token or another break-glass session',
  },
  ACCESS_BREAK_GLASS_REASON_REQUIRED: { status: 400, message: 'Break-glass access requires a reason' },

  // Users and clients
  USER_EXISTS: { status: 409, message: 'A user with that name already exists' },
  USER_NOT_FOUND: { status: 404, message: 'No such user' },
  USER_PASSWORD_WEAK: { status: 400, message: 'The password does not meet the policy' },
  CLIENT_EXISTS: { status: 409, message: 'A client with that id already exists' },
  CLIENT_JWKS_INVALID: { status: 400, message: 'The client key set is not valid' },
  CLIENT_NOT_FOUND: { status: 404, message: 'No such client' },
  API_TOKEN_NOT_FOUND: { status: 404, message: 'No such API token' },

  // Configuration and installation
  CONFIG_INVALID: { status: 500, message: 'The configuration is not valid' },
  INSTALL_EXISTS: { status: 409, message: 'An installation already exists in that directory' },
  INSTALL_MISSING: { status: 500, message: 'No installation was found in that directory' },

  // Keys
  KEY_MASTER_MISSING: { status: 500, message: 'The master key is missing' },
  KEY_MASTER_WRONG: { status: 500, message: 'The master key does not match this installation' },
  KEY_SHREDDED: { status: 410, message: 'The data was erased and can no longer be read' },
  KEY_DECRYPT_FAILED: { status: 500, message: 'Stored data failed its integrity check' },
  KEY_MASTER_INSECURE: { status: 500, message: 'The master key file is readable by other users' },
  KEY_EPOCH_MISSING: { status: 500, message: 'A period key file is missing from the secrets directory' },
  KEY_EPOCH_WRONG: { status: 500, message: 'A period key file does not match this installation' },

  // Audit
  AUDIT_PROOF_RANGE: { status: 400, message: 'The requested proof is outside the log' },
  AUDIT_NO_CHECKPOINT: { status: 404, message: 'No checkpoint has been published yet' },
  AUDIT_VERIFY_FAILED: { status: 500, message: 'The audit log failed verification' },
  AUDIT_EXPORT_RECEIVER_UNREACHABLE: {
    status: 502,
    message: 'The syslog receiver could not be reached or its certificate is not trusted',
  },

  // Devices
  DEVICE_EXISTS: { status: 409, message: 'A device with that id already exists' },
  DEVICE_NOT_FOUND: { status: 404, message: 'No such device' },
  DEVICE_LIFECYCLE_INVALID: { status: 409, message: 'That lifecycle change is not allowed' },
  DEVICE_VERSION_CONFLICT: { status: 409, message: 'The device changed since it was read' },

  // PKI and EST enrollment (RFC 7030)
  EST_TOKEN_INVALID: { status: 401, message: 'The enrollment token is not valid' },
  EST_CLIENT_CERT_REQUIRED: { status: 401, message: 'A valid client certificate is required' },
  EST_CLIENT_CERT_INVALID: { status: 401, message: 'A valid client certificate is required' },
  EST_CSR_INVALID: { status: 400, message: 'The certificate request is not a valid PKCS#10 request' },
  EST_CSR_WEAK_KEY: { status: 400, message: 'The certificate request uses a key that is too weak' },
  EST_CSR_KEY_REVOKED: {
    status: 400,
    message: 'The certificate request uses a key that was revoked as compromised; make a new key pair',
  },
  EST_CSR_SUBJECT_MISMATCH: {
    status: 400,
    message: 'The certificate request is not for the enrolling device',
  },
  RESPONSE_REASON_REQUIRED: { status: 400, message: 'A reason is required for this action' },
  RESPONSE_ALREADY_QUARANTINED: { status: 409, message: 'The device is already quarantined' },
  RESPONSE_NOT_QUARANTINED: { status: 409, message: 'The device is not quarantined' },
  PKI_CERT_NOT_FOUND: { status: 404, message: 'No such certificate' },
  DEVICE_EUI64_EXISTS: { status: 409, message: 'Another device already has that EUI-64' },
  DEVICE_GATEWAY_INVALID: { status: 400, message: 'The gateway must be another existing device' },
  DEVICE_NOT_ENROLLABLE: { status: 409, message: 'The device cannot be enrolled in its current state' },

  // Ingest (MQTT, HTTPS, MLLP)
  INGEST_CLIENT_CERT_REQUIRED: { status: 401, message: 'A device certificate is required' },
  INGEST_CERT_INVALID: { status: 401, message: 'The device certificate is not valid' },
  INGEST_CERT_EXPIRED: { status: 401, message: 'The device certificate is not valid' },
  INGEST_CERT_REVOKED: { status: 401, message: 'The device certificate is not valid' },
  INGEST_DEVICE_NOT_ACTIVE: { status: 403, message: 'The device may not send data' },
  INGEST_TOPIC_DENIED: { status: 403, message: 'The device may not use that topic' },
  INGEST_PAYLOAD_TOO_LARGE: { status: 413, message: 'The message is too large' },
  INGEST_RATE_LIMITED: { status: 429, message: 'The device is sending too fast' },

  // Telemetry
  TELEMETRY_INVALID_JSON: { status: 400, message: 'The telemetry payload is not valid JSON' },
  TELEMETRY_SCHEMA: { status: 400, message: 'The telemetry payload does not match the schema' },
  TELEMETRY_UNKNOWN_CODE: { status: 400, message: 'The observation code is not known' },
  TELEMETRY_UNIT_MISMATCH: { status: 400, message: 'The unit does not fit the observation code' },
  TELEMETRY_IMPOSSIBLE_VALUE: { status: 422, message: 'The value is physiologically impossible' },
  TELEMETRY_REPLAY: { status: 409, message: 'The message repeats or goes back in sequence' },
  TELEMETRY_DUPLICATE: { status: 409, message: 'The message was already stored' },
  TELEMETRY_CLOCK_SKEW: { status: 422, message: 'The message time is too far from the server time' },
  PATIENT_BINDING_CONFLICT: {
    status: 409,
    message: 'The device is already bound to a patient for that time',
  },

  // FHIR R4 API (rendered as OperationOutcome, never problem+json)
  FHIR_FORMAT_UNSUPPORTED: { status: 406, message: 'Only application/fhir+json is supported' },
  FHIR_PARAM_UNKNOWN: { status: 400, message: 'The search parameter is not supported' },
  FHIR_PARAM_INVALID: { status: 400, message: 'The search parameter value is not valid' },
  FHIR_CURSOR_INVALID: { status: 400, message: 'The paging cursor is not valid or has expired' },
  FHIR_RESOURCE_INVALID: { status: 400, message: 'The resource is not valid' },
  FHIR_RESOURCE_TYPE_MISMATCH: { status: 400, message: 'The resource type does not match the endpoint' },
  FHIR_JSON_INVALID: { status: 400, message: 'The request body is not valid JSON' },
  FHIR_NOT_FOUND: { status: 404, message: 'The resource was not found' },
  FHIR_REFERENCE_UNKNOWN: { status: 422, message: 'A referenced resource does not exist' },
  FHIR_PATIENT_EXISTS: { status: 409, message: 'A patient with that identifier already exists' },
  FHIR_VERSION_CONFLICT: { status: 412, message: 'The resource changed since the version given' },
  FHIR_PHI_IN_URL: {
    status: 400,
    message: 'A patient identifier may not be sent in a URL; search with POST [type]/_search and a form body',
  },
  // HL7 v2 (MLLP listener and POST /api/v1/ingest/hl7); ERR segments carry these codes in ERR-5
  HL7_MSH_MISSING: { status: 400, message: 'The message does not start with an MSH segment' },
  HL7_ENCODING_INVALID: { status: 400, message: 'The MSH encoding characters are not valid' },
  HL7_SEGMENT_INVALID: { status: 400, message: 'A segment is not valid' },
  HL7_ESCAPE_INVALID: { status: 400, message: 'An escape sequence is not valid' },
  HL7_FRAMING_INVALID: { status: 400, message: 'The MLLP framing is not valid' },
  HL7_MESSAGE_TOO_LARGE: { status: 413, message: 'The HL7 message is too large' },
  HL7_MESSAGE_TYPE_UNSUPPORTED: { status: 400, message: 'The message type is not supported' },
  HL7_EVENT_UNSUPPORTED: { status: 400, message: 'The trigger event is not supported' },
  HL7_PROCESSING_ID_UNSUPPORTED: { status: 400, message: 'The processing id is not supported' },
  HL7_VERSION_UNSUPPORTED: { status: 400, message: 'The HL7 version is not supported' },
  HL7_SEGMENT_SEQUENCE: { status: 400, message: 'A required segment is missing or out of order' },
  HL7_REQUIRED_FIELD: { status: 400, message: 'A required field is missing' },
  HL7_DATA_TYPE: { status: 400, message: 'A field does not match its data type' },
  HL7_UNKNOWN_CODE: { status: 400, message: 'The observation code is not known' },
  HL7_UNIT_UNKNOWN: { status: 400, message: 'The unit is not known' },
  HL7_DEVICE_NOT_OWNED: { status: 403, message: 'The device is not one of the sending gateway' },
  HL7_PATIENT_MISMATCH: {
    status: 409,
    message: 'The patient identifier does not match the device binding',
  },
  HL7_RETRY: { status: 503, message: 'The message could not be stored now; send it again' },
  // Monitoring: alerts, incidents, suppressions, rules, fleet checks
  ALERT_NOT_FOUND: { status: 404, message: 'No such alert' },
  ALERT_STATE_INVALID: { status: 409, message: "That change is not allowed in the alert's current state" },
  ALERT_REASON_REQUIRED: { status: 400, message: 'A reason is required for that change' },
  ALERT_CURSOR_INVALID: { status: 400, message: 'The paging cursor is not valid' },
  INCIDENT_NOT_FOUND: { status: 404, message: 'No such incident' },
  MONITOR_SUPPRESSION_NOT_FOUND: { status: 404, message: 'No such suppression' },
  MONITOR_SUPPRESSION_INVALID: {
    status: 400,
    message: 'A suppression needs a rule or a device and an expiry in the future',
  },
  MONITOR_RULES_INVALID: {
    status: 422,
    message: 'The monitoring rules file is not valid; the previous rules stay in force',
  },
  MONITOR_CHECK_UNKNOWN: { status: 400, message: 'No such fleet audit check' },
  // Clinical monitoring (monitor/clinical)
  CLINICAL_LIMITS_INVALID: { status: 500, message: 'The configured vital-sign limits are not valid' },
  CLINICAL_SCALE_INVALID: { status: 400, message: 'The SpO2 scale must be 1 or 2' },

  // Notifications (monitor/notify)
  NOTIFY_TARGET_INVALID: { status: 500, message: 'A configured notification target is not valid' },
  NOTIFY_SECRET_MISSING: { status: 500, message: 'A notification signing secret is missing or too short' },
  NOTIFY_DEAD_LETTER_NOT_FOUND: { status: 404, message: 'No such dead letter' },
  NOTIFY_STREAM_FULL: { status: 503, message: 'Too many live-stream subscribers; retry later' },
  NOTIFY_STREAM_NOT_ACCEPTABLE: {
    status: 406,
    message: 'The live stream is served as text/event-stream only',
  },

  // Store
  STORE_MIGRATION_FAILED: { status: 500, message: 'A database migration failed' },
  // CLI
  CLI_USAGE: {
    status: 400,
    message: 'The command line is not valid (see pulsegate --help)',
  },
  SERVICE_UNREACHABLE: {
    status: 503,
    message: 'A service the command needs (database, server, broker) could not be reached',
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/**
 * An error with a stable code. `detail` is an optional safe, human-readable explanation (never
 * PHI or secrets); `fields` points at the offending inputs for validation failures.
 */
export class PulsegateError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string | undefined;
  readonly fields: readonly FieldProblem[] | undefined;

  constructor(code: ErrorCode, detail?: string, options?: { fields?: FieldProblem[]; cause?: unknown }) {
    super(
      detail ?? ERRORS[code].message,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'PulsegateError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.detail = detail;
    this.fields = options?.fields;
  }
}

/** One failing input: a JSON pointer (or parameter name) and what is wrong with it. */
export interface FieldProblem {
  readonly pointer: string;
  readonly problem: string;
}

export function isPulsegateError(error: unknown): error is PulsegateError {
  return error instanceof PulsegateError;
}
