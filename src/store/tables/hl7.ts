/**
 * HL7 v2 ingest: one row per stored message, by authenticated sender (the gateway device id, not
 * the self-declared MSH-3) and MSH-10. A resent message finds its row and is acknowledged without
 * being stored again. Rows older than `hl7.dedupDays` are pruned.
 */
export interface Hl7MessagesTable {
  sender_id: string;
  control_id: string;
  received_at: number;
  observations: number;
}
