/** One device in the inventory. Times are Unix milliseconds. */
export interface DevicesTable {
  id: string;
  type: string;
  vendor: string;
  model: string;
  serial: string | null;
  firmware_version: string | null;
  care_unit: string | null;
  bed: string | null;
  ip_address: string | null;
  mac_address: string | null;
  owner: string | null;
  lifecycle: string;
  certificate_status: string;
  last_seen_at: number | null;
  created_at: number;
  updated_at: number;
  version: number;
}
