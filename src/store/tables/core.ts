/** Installation-wide settings (key check value, installation id, schema facts). */
export interface SettingsTable {
  name: string;
  value: string;
}
