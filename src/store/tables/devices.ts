/** One device in the inventory. Times are Unix milliseconds. */
export interface DevicesTable {
  id: string;
  type: string;
  vendor: string;
  model: string;
  serial: string | null;
  firmware_version: string | null;
  care_unit: string | null;
  /** When `care_unit` last changed (a reading observed before it keeps no unit), or null: unknown. */
  care_unit_since: number | null;
  /** The hashed key in FHIR ids of a device whose id cannot stand in one, else null (devices/external-key.ts). */
  external_key: string | null;
  bed: string | null;
  ip_address: string | null;
  mac_address: string | null;
  owner: string | null;
  lifecycle: string;
  certificate_status: string;
  last_seen_at: number | null;
  /** IEEE EUI-64 (16 upper-case hex digits), how HL7 PCD-01 messages name the device (OBX-18); unique. */
  eui64: string | null;
  /** The gateway device that reports for this device over HL7 (its certificate authenticates the feed). */
  gateway_id: string | null;
  created_at: number;
  updated_at: number;
  version: number;
}
