/** A person who logs in. JSON arrays are stored as text. Times are Unix milliseconds. */
export interface UsersTable {
  id: string;
  username: string;
  password_hash: string;
  role: string;
  care_units: string;
  vendor_devices: string;
  access_not_before: number | null;
  access_not_after: number | null;
  disabled: number;
  failed_logins: number;
  locked_until: number | null;
  created_at: number;
  updated_at: number;
}

/** A machine client (SMART backend services) authenticating with a private_key_jwt assertion. */
export interface ServiceClientsTable {
  id: string;
  name: string;
  role: string;
  scopes: string;
  jwks: string;
  care_units: string;
  disabled: number;
  created_at: number;
}

/** Long-lived opaque API tokens (CLI `token create`, the admin token); only the SHA-256 is kept. */
export interface ApiTokensTable {
  id: string;
  token_hash: string;
  user_id: string;
  name: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

/** Client-assertion `jti`s seen, kept until they expire, to refuse replays. */
export interface UsedJtisTable {
  jti: string;
  expires_at: number;
}

/** Time-boxed emergency access, always with a reason. */
export interface BreakGlassTable {
  id: string;
  user_id: string;
  /** Empty since migration 015: the reason is in `reason_sealed`. */
  reason: string;
  /** The reason, envelope encrypted (purpose `break-glass`, the user, the month). */
  reason_sealed: Uint8Array | null;
  started_at: number;
  expires_at: number;
}
