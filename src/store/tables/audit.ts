/**
 * One audit entry: its canonical JSON (RFC 8785) and RFC 6962 leaf hash. `seq` is the leaf index.
 * `created_at` (the entry's time, ms), `action`, `actor_id` and `outcome` are copies of fields of
 * `entry` kept only so that queries can filter with an index; verification uses `entry` alone.
 */
export interface AuditEntriesTable {
  seq: number;
  entry: string;
  leaf_hash: Uint8Array;
  created_at: number;
  action: string;
  actor_id: string | null;
  outcome: string;
}

/** A signed checkpoint (C2SP tlog-checkpoint note) for a tree size. */
export interface AuditCheckpointsTable {
  tree_size: number;
  root_hash: Uint8Array;
  note: string;
  created_at: number;
}
