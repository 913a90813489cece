import type { Generated } from 'kysely';

/** A data key wrapped by the master key. Times are Unix milliseconds. */
export interface DataKeysTable {
  id: string;
  purpose: string;
  /** Opaque, non-identifying subject reference (never PHI: callers pass a blind index or internal id). */
  subject: string;
  period: string;
  wrapped: Uint8Array;
  master_key_id: string;
  uses: number;
  status: 'active' | 'retired' | 'shredded';
  created_at: number;
  retired_at: number | null;
  shredded_at: number | null;
}

/** A signing key (JWT ES256, audit checkpoints Ed25519); the private half is encrypted under the master key. */
export interface SigningKeysTable {
  kid: string;
  use: string;
  alg: string;
  public_jwk: string;
  private_enc: Uint8Array;
  master_key_id: string;
  created_at: number;
  retired_at: number | null;
  seq: Generated<number>;
}
