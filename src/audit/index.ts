/**
 * The audit capability: a tamper-evident, append-only log (RFC 6962/9162 Merkle tree over RFC
 * 8785 canonical entries) with C2SP signed checkpoints, proofs, verification and exports.
 */
export {
  type AppendedRange,
  type AuditCheckpoint,
  type AuditLog,
  type AuditLogOptions,
  type AuditQuery,
  type ConsistencyProof,
  createAuditLog,
  type InclusionProof,
} from './audit-log.js';
export { canonicalJson, type JsonValue } from './canonical-json.js';
export {
  type CheckpointSigner,
  type CheckpointVerifierKey,
  checkpointBody,
  ed25519Signer,
  parseCheckpointBody,
  parseNote,
  parseVerifierKey,
  type SigningKeyLike,
  signerFromSigningKey,
  signNote,
  verifierKeyString,
  verifyNote,
} from './checkpoint.js';
export type {
  ActorType,
  AuditActor,
  AuditEntry,
  AuditEventInput,
  AuditOutcome,
  AuditResource,
} from './entry.js';
export { type FhirAuditEvent, toFhirAuditEvent } from './fhir.js';
export * as merkle from './merkle.js';
export {
  createSyslogSender,
  formatRfc5424,
  frameOctetCounted,
  type Rfc5424Fields,
  type SyslogOptions,
  type SyslogSender,
  type SyslogSenderOptions,
  toSyslog,
} from './syslog.js';
export {
  type VerifyAuditLogOptions,
  type VerifyProblem,
  type VerifyResult,
  verifyAuditLog,
} from './verify.js';
