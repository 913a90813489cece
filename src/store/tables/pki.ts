/**
 * One-time enrollment tokens. Only the SHA-256 of the token is stored: the token itself is shown
 * once to the operator and never persisted. Times are Unix milliseconds.
 */
export interface EnrollmentTokensTable {
  id: string;
  device_id: string;
  token_hash: Uint8Array;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  created_by: string;
}

/**
 * Every device certificate the issuing CA signed. `serial` is lower-case hex without leading
 * zeros; `public_key_sha256` hashes the SubjectPublicKeyInfo so that monitoring can spot one key
 * on two devices; `status` is valid | revoked | superseded.
 */
export interface CertificatesTable {
  serial: string;
  device_id: string;
  subject: string;
  not_before: number;
  not_after: number;
  public_key_sha256: string;
  fingerprint_sha256: string;
  status: string;
  revoked_at: number | null;
  revocation_reason: string | null;
  issued_at: number;
  der: Uint8Array;
}
